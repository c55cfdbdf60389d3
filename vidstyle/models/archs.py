"""The networks' names, without torch: what a weights file's header and the command line say,
which ``vidstyle styles`` and every command's ``--help`` read without importing torch (seconds).
The style networks themselves are :mod:`vidstyle.models.transformer`'s, whose builders these names
map to, and the loss networks :mod:`vidstyle.models.lossnets`' (a test checks the tables against
both)."""
from vidstyle.errors import VidstyleError

#: The architecture (class) names a weights file's ``arch`` may hold: :data:`~vidstyle.models.transformer.ARCHITECTURES`' keys.
ARCHITECTURE_NAMES = ("transformer",)

#: The names users give (``vidstyle train --arch``, ``vidstyle bench --archs``) -> builder name
#: (:data:`~vidstyle.models.transformer.BUILDERS`' keys).
ARCH_NAMES = {"light": "light_net", "light-full": "light_full_net", "light-s4": "light_s4_net",
              "light-aa": "light_aa_net", "standard": "transformer_net",
              # the two halves of light-aa, for measuring which matters (benchmarks/RESULTS.md, "Aliasing")
              "light-aa-down": "light_aa_down_net", "light-aa-up": "light_aa_up_net"}


def user_arch_name(builder: str) -> str:
    """The name users give for the network ``builder`` makes (``light_net`` -> ``light``), else ``custom``."""
    return next((name for name, b in ARCH_NAMES.items() if b == builder), "custom")


#: Loss networks by name -> the style weight that training uses by default under it. Each
#: network's relative Gram loss has its own scale: HED's VGG16 at 2 already drew streaks at 4
#: (300-step sweep), whereas EfficientNet-Lite0 at 2 left a light network close to the photo and
#: at 5 paints the painting's strokes over the whole frame (benchmarks/RESULTS.md).
LOSS_NETWORK_STYLE_WEIGHTS = {"vgg16_hed": 2.0, "efficientnet_lite0": 5.0, "vgg16_bn_craft": 2.0}
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
