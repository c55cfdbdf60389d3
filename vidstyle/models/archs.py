"""The style networks' names, without torch: what a weights file's header and the command line
say, which ``vidstyle styles`` reads without importing torch (seconds). The
networks themselves are :mod:`vidstyle.models.transformer`'s, whose builders these names map to
(a test checks both tables against it)."""

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
