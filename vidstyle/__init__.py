"""vidstyle: video style transfer with temporal consistency."""
__version__ = "0.1.0"

from vidstyle.errors import VidstyleError  # noqa: E402


def __getattr__(name):  # lazy: importing vidstyle must not import torch/av for `--version`
    if name == "Stylizer":
        from vidstyle.stylizer import Stylizer
        return Stylizer
    if name == "stylize_video":
        from vidstyle.pipeline import stylize_video
        return stylize_video
    raise AttributeError(name)


__all__ = ["Stylizer", "stylize_video", "VidstyleError", "__version__"]
