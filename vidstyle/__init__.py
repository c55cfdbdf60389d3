"""vidstyle: video style transfer with temporal consistency."""
__version__ = "0.1.0"

from vidstyle.errors import VidstyleError  # noqa: E402


def __getattr__(name):  # lazy: importing vidstyle must not import torch/av for `--version`
    if name == "Stylizer":
        from vidstyle.stylizer import Stylizer
        return Stylizer
    if name in ("stylize_video", "stylize_image", "stylize_files"):
        from vidstyle import pipeline
        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["Stylizer", "stylize_video", "stylize_image", "stylize_files", "VidstyleError", "__version__"]
