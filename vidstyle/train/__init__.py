"""Training feed-forward style networks (Johnson et al. 2016) and the Gatys et al. optimisation.

* :mod:`vidstyle.train.losses`   Gram matrix, style / content / total-variation losses;
* :mod:`vidstyle.train.data`     content folders, random crops, the fixed held-out photos, style images;
* :mod:`vidstyle.train.loop`     :func:`train` with checkpoints, resume, previews;
* :mod:`vidstyle.train.optimize` pixel optimisation (the quality reference);
* :mod:`vidstyle.train.cli`      ``vidstyle train`` and ``vidstyle optimize``.
"""
