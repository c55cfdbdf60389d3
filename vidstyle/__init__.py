"""vidstyle: video style transfer with temporal consistency."""
__version__ = "0.1.0"

import importlib  # noqa: E402
import importlib.util  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from vidstyle.errors import (BadTypeError, BadValueError, MissingFileError, OutputExistsError,  # noqa: E402
                             VidstyleError)

# lazy (PEP 562): importing vidstyle (for its __version__, say) must not import torch or av
_HOMES = {
    "vidstyle.stylizer": ("Stylizer",),
    "vidstyle.pipeline": ("stylize_video", "stylize_image", "stylize_files", "StylizeResult"),
    "vidstyle.config": ("StylizeConfig", "EncodeConfig"),
    "vidstyle.flow.stabilizer": ("FlowStabilizer",),
    "vidstyle.models.zoo": ("Styles",),
    "vidstyle.timeline": ("StyleTimeline",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:  # what a type checker reads (it does not run __getattr__): else every name was Any
    from vidstyle.config import EncodeConfig, StylizeConfig
    from vidstyle.flow.stabilizer import FlowStabilizer
    from vidstyle.models.zoo import Styles
    from vidstyle.pipeline import StylizeResult, stylize_files, stylize_image, stylize_video
    from vidstyle.stylizer import Stylizer
    from vidstyle.timeline import StyleTimeline


def _submodule(package: str, name: str):
    """The submodule ``package.name``, imported on first access (``vidstyle.letterbox.x`` after a
    plain ``import vidstyle``); AttributeError when there is none. A package's ``__getattr__``."""
    full = f"{package}.{name}"
    # private names stay out: vidstyle.__main__ would run the command line
    if not name.startswith("_") and importlib.util.find_spec(full) is not None:
        return importlib.import_module(full)
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def _submodule_names(path) -> list[str]:
    """The public submodules found on a package's ``__path__`` (for ``__dir__``), without importing them."""
    import pkgutil

    return [m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")]


def __getattr__(name):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    return _submodule(__name__, name)


def __dir__():
    return sorted(set(globals()) | set(_MODULE_OF) | set(_submodule_names(__path__)))


__all__ = ["Stylizer", "stylize_video", "stylize_image", "stylize_files", "StylizeConfig", "EncodeConfig",
           "StylizeResult", "FlowStabilizer", "Styles", "StyleTimeline", "VidstyleError", "BadValueError", "BadTypeError",
           "MissingFileError", "OutputExistsError", "__version__"]
