"""The style networks, their weights files and the bundled styles (:mod:`vidstyle.models.zoo`).

Submodules load on first access, so ``vidstyle.models.zoo.Styles`` works after a plain
``import vidstyle`` without importing the ones that need torch.
"""
from vidstyle import _submodule, _submodule_names


def __getattr__(name):
    return _submodule(__name__, name)


def __dir__():
    return sorted(set(globals()) | set(_submodule_names(__path__)))
