"""Training feed-forward style networks (Johnson et al. 2016) and the Gatys et al. optimisation.

* :mod:`vidstyle.train.losses`   Gram matrix, style / content / total-variation losses;
* :mod:`vidstyle.train.data`     content folders, random crops, the fixed held-out photos, style images;
* :mod:`vidstyle.train.loop`     :func:`train` with checkpoints, resume, previews;
* :mod:`vidstyle.train.optimize` pixel optimisation (the quality reference);
* :mod:`vidstyle.train.cli`      ``vidstyle train`` and ``vidstyle optimize``.
"""


def __getattr__(name: str):  # vidstyle.train.loop after a plain import vidstyle
    from vidstyle import _submodule

    return _submodule(__name__, name)
