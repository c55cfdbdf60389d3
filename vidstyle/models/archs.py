"""The networks' names, without torch: what a weights file's header and the command line say,
which ``vidstyle styles`` and every command's ``--help`` read without importing torch (seconds).
The style networks themselves are :mod:`vidstyle.models.transformer`'s, whose builders these names
map to, and the loss networks :mod:`vidstyle.models.lossnets`' (a test checks the tables against
both)."""
from typing import Mapping, Sequence

from vidstyle.errors import VidstyleError

#: The architecture (class) names a weights file's ``arch`` may hold: :data:`~vidstyle.models.transformer.ARCHITECTURES`' keys.
ARCHITECTURE_NAMES = ("transformer",)

#: The names users give (``vidstyle train --arch``, ``vidstyle bench --archs``) -> builder name
#: (:data:`~vidstyle.models.transformer.BUILDERS`' keys).
ARCH_NAMES = {"light": "light_net", "light-full": "light_full_net", "light-s4": "light_s4_net",
              "light-aa": "light_aa_net", "standard": "transformer_net",
              # the two halves of light-aa, for measuring which matters (benchmarks/RESULTS.md, "Aliasing")
              "light-aa-down": "light_aa_down_net", "light-aa-up": "light_aa_up_net"}


#: What a network's input height and width must be multiples of, by the names users give
#: (:attr:`~vidstyle.models.transformer.TransformerNet.size_multiple`): training's --image-size is
#: checked against it before torch is imported.
ARCH_SIZE_MULTIPLES = {"light": 8, "light-full": 8, "light-s4": 4, "light-aa": 8, "standard": 4,
                       "light-aa-down": 8, "light-aa-up": 8}


def user_arch_name(builder: str) -> str:
    """The name users give for the network ``builder`` makes (``light_net`` -> ``light``), else ``custom``."""
    return next((name for name, b in ARCH_NAMES.items() if b == builder), "custom")


#: Loss networks by name -> the style weight that training uses by default under it. Each
#: network's relative Gram loss has its own scale: HED's VGG16 at 2 already drew streaks at 4
#: (300-step sweep), whereas EfficientNet-Lite0 at 2 left a light network close to the photo and
#: at 5 paints the painting's strokes over the whole frame (benchmarks/RESULTS.md).
LOSS_NETWORK_STYLE_WEIGHTS = {"vgg16_hed": 2.0, "efficientnet_lite0": 5.0, "vgg16_bn_craft": 2.0}
#: Loss networks by name -> (style layers, content layers) used by default.
LOSS_NETWORK_LAYERS = {"vgg16_hed": (("relu1_2", "relu2_2", "relu3_3", "relu4_3"), ("relu3_3",)),
                       "efficientnet_lite0": (("stem", "stage2", "stage3", "stage4"), ("stage3",)),
                       "vgg16_bn_craft": (("relu1_2", "relu2_2", "relu3_3", "relu4_3"), ("relu3_3",))}
#: Loss networks available by name.
LOSS_NETWORKS = tuple(LOSS_NETWORK_STYLE_WEIGHTS)
#: The training loss network by default: with EfficientNet-Lite0 a light style trains in 4-5 minutes
#: on one CPU core (HED's VGG16: 14-27 minutes), and its networks score closer to the painting under
#: a third network that neither used (benchmarks/RESULTS.md, "Training", tenth session).
DEFAULT_LOSS_NET = "efficientnet_lite0"
#: Environment variable naming a converted loss-network weights file
#: (:func:`vidstyle.models.lossnets.export_loss_weights`).
WEIGHTS_ENV = "VIDSTYLE_LOSS_WEIGHTS"


def check_loss_network(name: str) -> str:
    """``name`` if it names a loss network, else one clear error."""
    if name not in LOSS_NETWORK_STYLE_WEIGHTS:
        raise VidstyleError(f"unknown loss network {name!r} (choose from {', '.join(LOSS_NETWORKS)})")
    return name


def default_style_weight(name: str) -> float:
    """The style weight that training uses by default under loss network ``name``."""
    return LOSS_NETWORK_STYLE_WEIGHTS[check_loss_network(name)]


def default_layers(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(style layers, content layers) used by default for loss network ``name``."""
    return LOSS_NETWORK_LAYERS[check_loss_network(name)]


def resolve_layers(name: str, content_layers: Sequence[str] | None,
                   style_layers: Mapping[str, float] | None) -> tuple[list[str], dict[str, float]]:
    """(content layers, style layer -> weight) of a training or optimisation run: those given, else
    (None) loss network ``name``'s defaults (each style layer weighted 1). Given ones must name a
    layer, and one style layer at least must weigh more than 0: otherwise the loss is 0, and the
    run learns nothing of it (an empty list had quietly become the defaults)."""
    style_default, content_default = default_layers(name)
    for option, given in (("--content-layers", content_layers), ("--style-layers", style_layers)):
        if given is not None and not len(given):
            raise VidstyleError(f"{option} names no layer: give one or more, comma-separated, or leave it out for "
                                "the loss network's own")
    if style_layers is not None and not any(style_layers.values()):
        raise VidstyleError("every --style-layers weight is 0, so there would be no style loss: give a layer a "
                            "weight above 0 (a layer without :weight counts 1)")
    content = list(content_default) if content_layers is None else list(content_layers)
    style = {k: 1.0 for k in style_default} if style_layers is None else dict(style_layers)
    return content, style
