"""Command line: parse arguments, then call the library. No logic lives here.

Every user error surfaces as one line on stderr and a non-zero exit; ``--debug`` shows tracebacks.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Collection, NoReturn

from vidstyle import __version__
from vidstyle.cli_args import add_device_args as _add_device_args
from vidstyle.cli_args import COMMAND_HELP, add_flow_backend_args, add_look_args, frame_size, int_between
from vidstyle.cli_args import apply_threads
from vidstyle.cli_args import path as path_arg
from vidstyle.cli_args import clock_time as _clock_time
from vidstyle.cli_args import positive_clock_time as _positive_clock_time
from vidstyle.cli_args import style_change as _style_change
from vidstyle.cli_args import positive_float as _positive_float
from vidstyle.cli_args import scale_factor as _scale_factor
from vidstyle.cli_args import Parser
from vidstyle.cli_args import positive_int as _positive_int
from vidstyle.cli_args import non_negative_float as _non_negative_float
from vidstyle.cli_args import side_pixels
from vidstyle.cli_args import once as _once
from vidstyle.cli_args import opset as _opset
from vidstyle.cli_args import sequence_fps as _sequence_fps
from vidstyle.cli_args import unit_float as _unit_float
from vidstyle.config import (BACKENDS, BARS_MODES, DEFAULT_CODECS, DEFAULT_CROSSFADE, DEFAULT_OPSET,
                             DEFAULT_TEMPORAL_STRENGTH, EVAL_SCHEMA, HDR_MODES, LIVE_STATS_SCHEMA, MAX_BATCH,
                             MAX_LONG_TERM, MAX_OPSET, MIN_OPSET, STYLE_EVERY, STYLIZE_STATS_SCHEMA, TEMPORAL_MODES,
                             VIDEO_CODECS, EncodeConfig, StylizeConfig)
from vidstyle.models.archs import LOSS_NETWORKS
from vidstyle.errors import VidstyleError, counted, first_line, on_kill, printable, terminated_line, termination_as_exit
from vidstyle.signals import end_at_once_on_ctrl_c, interrupted_at_once, leave_ctrl_c_to_the_program

log = logging.getLogger("vidstyle")


# --- stylize ---------------------------------------------------------------------------------

def _add_stylize(sub) -> None:
    p = sub.add_parser("stylize", help=COMMAND_HELP["stylize"],
                       description="Stylize a video file, keeping audio and timing, or a folder of numbered frames "
                                   "(a render's frame_0001.png...); or a still image, to preview a style. Several "
                                   "inputs go into a folder, with the network loaded once.")
    p.add_argument("input", nargs="+", type=path_arg,
                   help="input video file, a folder of numbered frames (see --fps) or an image (.jpg, .png, "
                        ".webp, ...); or several")
    p.add_argument("-o", "--output", required=True, type=path_arg,
                   help="output video file (.mp4, .m4v, .mkv, .mov, .webm; .gif or .webp: a looping animation, "
                        "no sound), or image (.png, .jpg, .webp, .bmp, .tif) "
                        "for an image input, or numbered images (out/frame_%%04d.png: an image sequence); or a folder (with several inputs, or a name ending in / or an "
                        "existing folder) that gets each input under its own name (.mp4 for video formats "
                        "vidstyle does not write); a file goes in an existing folder, a folder (and an image "
                        "sequence's) is made")
    p.add_argument("--style", required=True,
                   action=_once("a blend is mix:a=0.7,b=0.3, styles changing along the video are --style-at "
                                "TIME=STYLE"),
                   help="bundled style name, a .safetensors model, mix:a=0.7,b=0.3 (a blend of the bundled "
                        "multi-style network's styles; a name without =weight counts 1) or "
                        "FILE.safetensors:a=0.7,b=0.3 (the same for a multi-style model file); see "
                        "`vidstyle styles`")
    p.add_argument("--style-at", type=_style_change, action="append", default=[], metavar="TIME=STYLE",
                   help="from TIME on (seconds on the input's clock, as --start counts them: 12.5, 1:05 or "
                        "1:02:03), paint in STYLE instead; repeat for more changes, e.g. --style starry_night "
                        "--style-at 12.5=the_scream --style-at 30=mix:starry_night=0.5,the_scream=0.5; the style "
                        "none is the input as it is (--style none --style-at 5=mondrian fades the painting in)")
    p.add_argument("--crossfade", type=_clock_time, metavar="SECONDS",
                   help="how long each --style-at change dissolves from one style to the next, centred on its "
                        f"time (default {DEFAULT_CROSSFADE:g}; 0 cuts)")
    _add_device_args(p, int8=True)
    p.add_argument("--batch", "--batch-size", dest="batch", type=int_between(1, MAX_BATCH, "frames"),
                   help=f"frames per network call, 1 to {MAX_BATCH} (default 4; on the CPU 1 for the standard network "
                        "and under ONNX Runtime, and fewer for large frames (2 at 720p, 1 from 1080p), where a "
                        "batch outgrows the caches)")
    p.add_argument("--no-channels-last", action="store_true", help="disable the channels_last memory format")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="network runtime (auto: ONNX Runtime on the CPU in fp32, eager PyTorch in bf16 and on "
                        "GPUs, torch.compile for eager CPU runs of 600 frames or more)")
    p.add_argument("--downscale", type=side_pixels, metavar="PIXELS",
                   help="write the output with its longer side at most this many pixels, aspect kept (1920: a 4K "
                        "clip as 1080p); frames are scaled down as they are decoded, so every stage is faster; "
                        "never enlarges (default: the input's size)")
    p.add_argument("--max-side", type=side_pixels,
                   help="run the network with the longer side at most this many pixels (faster, larger "
                        "strokes; the output keeps the input's size)")
    p.add_argument("--scale", type=_scale_factor,
                   help="run the network at this multiple of the input size, up to 8 (0.5: half size, faster, "
                        "larger strokes; 2: finer strokes, 4x the work); the output keeps the input's size")
    p.add_argument("--fps", type=_sequence_fps,
                   help="frame rate of an image-sequence input (a folder of numbered frames, e.g. a render's "
                        "frame_0001.png...; default 24); files have their own")
    p.add_argument("--start", type=_clock_time, help="start time: seconds (90.5) or 1:30.5 or 1:02:03")
    p.add_argument("--duration", type=_positive_clock_time, help="process this many seconds (or 1:30 ...)")
    p.add_argument("--codec",
                   help=f"{', '.join(VIDEO_CODECS)}: prores_ks is ProRes 422 HQ in .mov or .mkv, for editing (4444 "
                        "with --pix-fmt yuv444p10le); gif and libwebp write .gif and .webp animations (default: "
                        + ", ".join(f"{codec} for {suffix}" for suffix, codec in DEFAULT_CODECS.items() if suffix)
                        + f", {DEFAULT_CODECS[None]} otherwise)")
    p.add_argument("--crf", type=int, default=EncodeConfig.crf,
                   help=f"constant rate factor (quality; lower is better, default {EncodeConfig.crf})")
    p.add_argument("--preset", default=EncodeConfig.preset, help=f"encoder preset (default {EncodeConfig.preset})")
    p.add_argument("--pix-fmt", default=EncodeConfig.pix_fmt,
                   help="output pixel format (default yuv420p; ProRes: yuv422p10le; .gif: pal8, .webp: bgra; an input "
                        "with transparency: yuva444p10le for ProRes, yuva420p for VP9 in .webm/.mkv)")
    p.add_argument("--no-audio", action="store_true", help="drop audio streams")
    p.add_argument("--no-subtitles", action="store_true",
                   help="drop subtitle streams (kept by default: copied, or text subtitles converted to the "
                        "container's own format: mov_text for .mp4/.mov, WebVTT for .webm)")
    p.add_argument("--temporal", choices=list(TEMPORAL_MODES), default=StylizeConfig.temporal,
                   help="flow: blend each frame with the previous output warped by optical flow where both "
                        "frames see the pixel, keeping the frame's contrast (less flicker; resets at scene "
                        f"cuts); off: every frame on its own (default {StylizeConfig.temporal})")
    add_look_args(p)
    p.add_argument("--temporal-strength", type=_unit_float,
                   help="stabilizer strength 0..1: more removes flicker, less avoids ghosting (default: the "
                        f"style's own, shown by `vidstyle styles`; {DEFAULT_TEMPORAL_STRENGTH:g} for your own model "
                        "files)")
    add_flow_backend_args(p, "the stabilizer's optical flow")
    p.add_argument("--bars", choices=list(BARS_MODES), default=StylizeConfig.bars,
                   help="keep: find black letterbox/pillarbox bars on frames spread over the video, stylize only "
                        "the picture between them and keep the bars as they are; stylize: paint the whole frame "
                        f"(default {StylizeConfig.bars})")
    # one matte: a second --mask beside the repeatable --style-at reads as two mattes combined, and
    # was dropped in silence
    p.add_argument("--mask", metavar="FILE", action=_once("one matte per run: combine mattes into one file"),
                   help="a matte: an image, a video or a folder of frames, white where the style goes and black "
                        "where the input stays as it is (grey mixes; with an alpha channel, opaque is styled); a "
                        "video matte follows the input's clock and holds its last frame")
    p.add_argument("--invert-mask", action="store_true", help="style the mask's black parts instead")
    p.add_argument("--hdr", choices=list(HDR_MODES), default=StylizeConfig.hdr,
                   help="sdr: tone-map HDR video (HDR10/PQ, HLG as phones record it) to the SDR pictures the "
                        "styles were trained on, written as SDR BT.709; keep: paint the coded HDR signal and tag "
                        f"the output as the input (default {StylizeConfig.hdr})")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    existing.add_argument("--skip-existing", action="store_true",
                          help="leave out each input whose output is there already (a file, or frames of a "
                               "numbered-frames name), keeping that output as it is, and stylize the rest: a "
                               "batch run again after a stop; without it, an output there stops the run before "
                               "any input")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--stats-json", metavar="FILE", type=path_arg,
                   help="also write the run's results as one JSON object to FILE, for scripts: schema (this "
                        f"layout's version, {STYLIZE_STATS_SCHEMA}), warnings (those said), and inputs, one "
                        "object per input in the order given: input, status (ok, failed or skipped), output "
                        "(null for a failed one), error (a failed one's), and an ok one's frames, seconds, fps, "
                        "stage_seconds and what the summary line says; written when the run ends, failed inputs "
                        "of several included, not when an error or a stop ends it; an existing FILE is replaced "
                        "with --overwrite or --skip-existing")
    p.set_defaults(func=_cmd_stylize, check=_check_stylize)


def _check_stylize(args) -> dict:
    """What `vidstyle stylize` runs with (its two configs and its style or timeline), its warnings,
    and the errors that need no torch said at once: a missing input or an unknown style waited
    seconds for torch's import before (the pipeline checks them again, as it checks every call)."""
    from vidstyle.io.files import check_input
    from vidstyle.io.sequence import is_sequence_output
    from vidstyle.models.zoo import resolve_style
    from vidstyle.timeline import StyleTimeline

    if args.temporal == "off":
        ignored = [flag for flag, given in (("--temporal-strength", args.temporal_strength is not None),
                                            ("--flow-backend", args.flow_backend != "dis"),
                                            ("--flow-weights", args.flow_weights is not None)) if given]
        if ignored:
            log.warning("%s %s ignored with --temporal off", ", ".join(ignored), "is" if len(ignored) == 1 else "are")
    if args.invert_mask and not args.mask:
        log.warning("--invert-mask inverts a --mask; there is none")
    config = StylizeConfig(device=args.device, precision=args.precision, batch=args.batch,
                           channels_last=not args.no_channels_last, backend=args.backend, max_side=args.max_side, scale=args.scale,
                           start=args.start, duration=args.duration, sequence_fps=args.fps, temporal=args.temporal,
                           temporal_strength=args.temporal_strength, flow_backend=args.flow_backend,
                           flow_weights=args.flow_weights, bars=args.bars,
                           style_strength=args.style_strength, keep_colors=args.keep_colors, hdr=args.hdr,
                           downscale=args.downscale, mask=args.mask, invert_mask=args.invert_mask)
    encode = EncodeConfig(codec=args.codec, crf=args.crf, preset=args.preset, pix_fmt=args.pix_fmt,
                          audio=not args.no_audio, subtitles=not args.no_subtitles)
    style = _style_timeline(args)
    if not _into_folder(args):
        (source,) = args.input
        if is_sequence_output(args.output):  # out/frame_%04d.png: images, no encoder
            encoder_only = [flag for flag, given in (
                ("--codec", args.codec is not None), ("--crf", args.crf != EncodeConfig.crf),
                ("--preset", args.preset != EncodeConfig.preset), ("--pix-fmt", args.pix_fmt != EncodeConfig.pix_fmt))
                if given]
            if encoder_only:
                log.warning("%s %s for video files; %s is an image sequence", ", ".join(encoder_only),
                            "is" if len(encoder_only) == 1 else "are", args.output)
        if _is_still(args, source):
            video_only = [flag for flag, given in (
                ("--start", args.start is not None), ("--duration", args.duration is not None),
                ("--codec", args.codec is not None), ("--crf", args.crf != EncodeConfig.crf),
                ("--preset", args.preset != EncodeConfig.preset), ("--pix-fmt", args.pix_fmt != EncodeConfig.pix_fmt),
                ("--no-audio", args.no_audio), ("--no-subtitles", args.no_subtitles),
                ("--temporal-strength", args.temporal_strength is not None),
                ("--flow-backend", args.flow_backend != "dis"), ("--flow-weights", args.flow_weights is not None),
                ("--style-at", bool(args.style_at)), ("--crossfade", args.crossfade is not None),
                ("--fps", args.fps is not None)) if given]
            if video_only:
                log.warning("%s %s for videos; %s is a still image%s", ", ".join(video_only),
                            "is" if len(video_only) == 1 else "are", Path(source).name,
                            ", painted in the timeline's first style that paints" if args.style_at else "")
    for source in args.input:  # (a folder: an image sequence)
        check_input(source, folders=True)
    if args.stats_json:
        _check_stats_json(args)
    if isinstance(style, StyleTimeline):
        style.check_styles()
    else:
        resolve_style(style)
    return {"config": config, "encode": encode, "style": style}


def _check_stats_json(args) -> None:
    """Refuse a --stats-json FILE that the run could not write at its end, or would write over an
    input or an output of its own, before anything is stylized."""
    from vidstyle.io.files import check_output_file, same_file
    from vidstyle.pipeline import folder_output

    outputs = ({source: folder_output(source, args.output, args.codec) for source in args.input}
               if _into_folder(args) else {None: Path(args.output)})
    try:
        check_output_file(args.stats_json, inputs=[*args.input, args.mask],
                          overwrite=args.overwrite or args.skip_existing)
        for source, output in outputs.items():  # (not there yet, so by name too)
            if same_file(Path(args.stats_json), output):
                raise VidstyleError(f"{args.stats_json} is the output" + (f" of {source}" if source else ""))
    except VidstyleError as exc:  # (said as the option's: the output's own check names the output)
        raise VidstyleError(f"--stats-json: {exc}") from None


def _write_stats_json(args, runs: list[dict]) -> None:
    """The run's record (see --stats-json's help) written to ``args.stats_json`` whole or not at all;
    ``runs``: one object per input, in the order given."""
    from vidstyle.io.files import write_then_rename

    record = {"schema": STYLIZE_STATS_SCHEMA, "warnings": list(getattr(args, "said", ())), "inputs": runs}
    try:
        with write_then_rename(args.stats_json, overwrite=args.overwrite or args.skip_existing) as temp:
            temp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # a full disk: the outputs are written, the record is not
        raise VidstyleError(f"writing --stats-json {args.stats_json} failed: {exc.strerror or exc}") from None


def _run_record(source, result=None, error: VidstyleError | None = None, output=None) -> dict:
    """One input's object in --stats-json: its result, its error, or (neither) skipped, keeping ``output``."""
    if result is not None:
        return {"input": str(source), "status": "ok", "output": str(result.output), **result.to_dict()}
    if error is not None:
        return {"input": str(source), "status": "failed", "output": None, "error": str(error)}
    return {"input": str(source), "status": "skipped", "output": str(output)}


def _into_folder(args) -> bool:
    """Whether `vidstyle stylize` writes into the folder ``-o``: several inputs, or a folder's name."""
    return len(args.input) > 1 or args.output.endswith(("/", os.sep)) or Path(args.output).is_dir()


def _is_still(args, source: str) -> bool:
    """Whether `vidstyle stylize` paints ``source`` as a still image (one network call, written as
    an image): an image, or a one-frame GIF written to an image's name (to a .gif it stays a
    one-frame animation)."""
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS, is_image_path, is_one_frame_animation
    from vidstyle.io.sequence import is_sequence_output

    return is_image_path(source) or (Path(args.output).suffix.lower() in IMAGE_OUTPUT_FORMATS
                                     and not is_sequence_output(args.output) and is_one_frame_animation(source))


def _cmd_stylize(args, config: StylizeConfig, encode: EncodeConfig, style) -> int:
    from vidstyle.pipeline import stylize_image, stylize_video

    if _into_folder(args):
        return _stylize_into_folder(args, config, encode, style)
    (source,) = args.input
    if args.skip_existing and _written_already(source, args.output):
        if not args.quiet:
            _say_skipped(source, args.output)
        if args.stats_json:
            _write_stats_json(args, [_run_record(source, output=args.output)])
        return 0
    if _is_still(args, source):  # a still image: one network call, written as an image
        result = stylize_image(source, args.output, style=style, config=config, overwrite=args.overwrite)
    else:
        result = stylize_video(source, args.output, style=style, config=config, encode=encode,
                               overwrite=args.overwrite, progress=_progress(args, Path(args.output).name))
    if not args.quiet:
        _print_result(result)
    if args.stats_json:
        _write_stats_json(args, [_run_record(source, result)])
    return 0


def _written_already(source: str, output: str | Path) -> bool:
    """Whether --skip-existing leaves ``source`` out: its output is there (not the input itself,
    which stays refused as an output)."""
    from vidstyle.io.files import same_file
    from vidstyle.io.sequence import written_already

    return written_already(output) and not same_file(Path(source), Path(output))


def _left_to_do(args) -> list[str]:
    """The inputs of a run into a folder that --skip-existing keeps: those whose output is not there
    yet, said in one line (an output that two inputs would share is left to the run's own check)."""
    from vidstyle.pipeline import folder_output

    targets = [folder_output(source, args.output, args.codec) for source in args.input]
    names = [target.name.casefold() for target in targets]
    skipped = [source for source, target, name in zip(args.input, targets, names)
               if names.count(name) == 1 and _written_already(source, target)]
    if args.quiet or not skipped:
        pass
    elif len(args.input) == 1:  # "skipped 1 of 1 input": said as a run of one file says it
        _say_skipped(skipped[0], targets[0])
    else:
        print(printable(f"vidstyle: skipped {len(skipped)} of {counted(len(args.input), 'input')}, whose "
                        f"{'output exists' if len(skipped) == 1 else 'outputs exist'}: {', '.join(skipped)}"), file=sys.stderr)
    return [source for source in args.input if source not in skipped]


def _say_skipped(source: str, output: str | Path) -> None:
    """The line --skip-existing says for the one input it leaves out."""
    print(printable(f"vidstyle: skipped {source}, whose output exists: {output}"), file=sys.stderr)


def _progress(args, label: str = ""):
    """The progress a run shows: the bar on a terminal; else (a log file, a job under nohup) a line
    every 30 seconds; nothing with --quiet."""
    from vidstyle.pipeline import ProgressLines

    if args.quiet:
        return False
    return True if sys.stderr.isatty() else ProgressLines(label)


def _print_result(result) -> None:
    """A run's summary line on stderr, and its pace line when a stage other than the network set it."""
    print(printable(result.summary()), file=sys.stderr)
    if result.pace:
        print(printable(result.pace), file=sys.stderr)


def _style_timeline(args):
    """``--style`` alone, or with ``--style-at`` changes a :class:`~vidstyle.timeline.StyleTimeline`."""
    from vidstyle.timeline import NO_STYLE, StyleTimeline

    if not args.style_at:
        if args.crossfade is not None:
            log.warning("--crossfade is for --style-at changes; there are none")
        if args.style.strip() == NO_STYLE:
            raise VidstyleError(f"--style {NO_STYLE} paints nothing on its own: it is for timelines, e.g. "
                                f"--style {NO_STYLE} --style-at 5=starry_night")
        return args.style
    at_start = next((c for c in args.style_at if c.at == 0), None)
    if at_start is not None:  # said as the options given (the timeline's own error names two styles at 0 s)
        both = f"two styles change in at 0 s: --style {args.style} and --style-at 0={at_start.style}; "
        if at_start.style.strip() == args.style.strip():  # "give --style A instead" of --style A misleads
            raise VidstyleError(f"{both}the video begins in --style's already, so leave that --style-at out")
        raise VidstyleError(f"{both}the video begins in --style's, so give --style {at_start.style} instead")
    crossfade = DEFAULT_CROSSFADE if args.crossfade is None else args.crossfade
    return StyleTimeline([(0.0, args.style), *((c.at, c.style) for c in args.style_at)], crossfade=crossfade)


def _stylize_into_folder(args, config, encode, style) -> int:
    """Several inputs (or one) into the folder ``-o``: one line per input, errors included, and (of
    several) a last line naming the inputs that failed; the exit status is 1 when any input failed (a still
    image is painted in the timeline's first style that paints)."""
    from vidstyle.pipeline import folder_output, stylize_files

    inputs = _left_to_do(args) if args.skip_existing else args.input
    # --stats-json's objects, by input: the skipped ones' now, the others' as they come
    runs = {source: _run_record(source, output=folder_output(source, args.output, args.codec))
            for source in args.input if source not in inputs}
    failed = []  # named again at the end: in a log of hundreds of inputs, their lines are far apart
    outcomes = stylize_files(inputs, args.output, style, config=config, encode=encode, overwrite=args.overwrite,
                             progress=_progress(args)) if inputs else ()
    for given, (source, outcome) in zip(inputs, outcomes):  # (one each, in order)
        if isinstance(outcome, VidstyleError):
            runs[given] = _run_record(given, error=outcome)
            failed.append(str(source))
            if args.debug:  # the traceback --debug gives, though the run goes on to the next input
                import traceback

                traceback.print_exception(outcome, file=sys.stderr)
            named = source.name in str(outcome)  # most messages name their file already
            print(printable(f"vidstyle: error: {'' if named else f'{source}: '}{outcome}"), file=sys.stderr)
        else:
            runs[given] = _run_record(given, outcome)
            if not args.quiet:
                _print_result(outcome)
    if failed and len(args.input) > 1:  # (one input's error line, just above, says it all: not "1 of 1 inputs")
        print(printable(f"vidstyle: {len(failed)} of {len(args.input)} inputs failed: {', '.join(failed)}"),
              file=sys.stderr)
    if args.stats_json:
        _write_stats_json(args, [runs[source] for source in args.input])
    return 1 if failed else 0


# --- styles ----------------------------------------------------------------------------------

def _add_styles(sub) -> None:
    p = sub.add_parser("styles", help=COMMAND_HELP["styles"],
                       description="List the bundled styles: name, network (light: real time on a CPU; standard: "
                                   "more painterly, slower), painting, artist, year; "
                                   "or, given model files (your own, from `vidstyle train`) or bundled style names, "
                                   "what each holds.")
    p.add_argument("files", nargs="*", metavar="MODEL",
                   help="describe these model files (.safetensors) or bundled styles or files (by name: "
                        "starry_night, light_mix), or the file any --style value runs (mix:a=0.7,b=0.3, "
                        "FILE:a=0.7,b=0.3), instead of listing them all")
    p.add_argument("--verbose", "-v", action="store_true", help="also show each style's training command")
    p.set_defaults(func=_cmd_styles)


def _rounded(value):
    """Metrics as a reader wants them: floats to 4 significant digits, at any depth."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _describe_model_file(path: str, verbose: bool) -> None:
    """What ``vidstyle styles FILE`` prints about one model file (or a bundled style's, by name)."""
    from vidstyle.models.weights import load_model, read_info
    from vidstyle.models.zoo import (StyleChoice, bundled_file, is_bundled_file, is_bundled_name, network_name,
                                     painting_description, resolve_style, temporal_strength_for)

    bare = not any(sep and sep in path for sep in ("/", os.sep, os.altsep))
    given = None  # the blend asked for (mix:a=0.2,b=0.8), shown as the blend line rather than the example
    # the file --style runs for it; FILE:a=0.7,b=0.3 too (the blend line below, copied back, was
    # "model file not found"), its weights checked against the file's styles as --style checks them
    if path.startswith("mix:") or is_bundled_name(path) or (":" in path and not Path(path).expanduser().exists()):
        choice = resolve_style(path)
        if not is_bundled_name(path):
            # as --style runs it: the weights rescaled to sum to 1, and a file's first style named
            # (its path alone, which label gives, runs it too but warns that the file holds several)
            given = choice.explicit_label
        path = str(choice.path)
    elif not Path(path).exists() and (bundled := bundled_file(path)):  # a bundled file by name: light_mix
        path = bundled
    elif bare and Path(path).suffix != ".safetensors" and (not path.strip() or not Path(path).exists()):
        # an unknown name: its error suggests the closest bundled one; an empty argument ('' is
        # Path's ".", which exists) is "no style given", not "the current folder is a folder"
        resolve_style(path)
    # a file of your own is checked whole, as stylize will: a damaged one is said now. The package's
    # own are checked whole by the test suite, so their headers say it all, without torch (0.3 s, not 2)
    info = read_info(path) if is_bundled_file(path) else load_model(path)[1]
    # every line through printable: the names, painting and command are the header's, whoever wrote it
    say = lambda line: print(printable(line))  # noqa: E731
    say(f"{path}: {network_name(info)} network, channels {info.arch_args.get('channels')}, "
        f"{len(info.styles)} style{'s' if len(info.styles) > 1 else ''}")
    for meta in info.styles:
        desc = painting_description(meta)
        say(f"  {meta['name']}" + (f": {desc}" if desc else ""))
    if len(info.styles) > 1:
        say(f"  blend: --style {shlex.quote(given or StyleChoice.blend_example(path, info))}")
    # as the listing shows it (--temporal-strength's help sends users here for it)
    strength = temporal_strength_for(path)
    say(f"  stabilizer strength {strength:g} under --temporal flow "
        f"({'the default' if strength == DEFAULT_TEMPORAL_STRENGTH and not is_bundled_file(path) else 'its own'}; "
        "--temporal-strength sets another)")
    if verbose:
        if info.metrics:
            say(f"  metrics: {json.dumps(_rounded(info.metrics), sort_keys=True)}")
        say(f"  trained with: {info.train_command or '(not recorded)'}")


def _cmd_styles(args) -> int:
    from vidstyle.models.zoo import (StyleChoice, bundled_multi_style, bundled_styles, network_name,
                                     painting_description, temporal_strength_for)

    if args.files:
        for path in args.files:
            _describe_model_file(path, args.verbose)
        return 0
    styles = bundled_styles()
    if not styles:
        print("no styles are bundled; train one with `vidstyle train`", file=sys.stderr)
        return 0
    width = max(len(name) for name in styles)
    strengths = {name: temporal_strength_for(info.path) for name, info in styles.items()}
    print(f"{'style':{width}s} {'network':9s} painting, artist, year")
    for name, info in styles.items():
        meta = next(s for s in info.styles if s["name"] == name)
        desc = painting_description(meta)
        strength = strengths[name]
        own = f"  (stabilizer strength {strength:g})" if strength != DEFAULT_TEMPORAL_STRENGTH else ""
        print(f"{name:{width}s} {network_name(info):9s} {desc}{own}")
        if args.verbose:
            print(f"{'':{width}s} file: {info.path}\n{'':{width}s} trained with: {info.train_command}")
    if any(s != DEFAULT_TEMPORAL_STRENGTH for s in strengths.values()):
        print(f"\n(--temporal flow runs at strength {DEFAULT_TEMPORAL_STRENGTH:g} unless a style names its own "
              f"or --temporal-strength is given)")
    for info in bundled_multi_style():
        strength = temporal_strength_for(info.path)
        own = f", stabilizer strength {strength:g}" if strength != DEFAULT_TEMPORAL_STRENGTH else ""
        print(f"\nblendable ({Path(info.path).name}, {network_name(info)} network{own}): "
              f"{', '.join(info.style_names)}\n  e.g. --style {StyleChoice.blend_example(info.path, info)}")
        if args.verbose:
            print(f"  trained with: {info.train_command}")
    print("\nto see them all on frames of your own video: vidstyle preview VIDEO -o styles.png")
    return 0


# --- live, eval, export ----------------------------------------------------------------------
# parsed here, run by their modules, imported when they run (they import torch: seconds that
# --help and a usage error need not wait for)

def _command_in(module: str, function: str):
    """The command ``module.function(args)``, its module imported when the command runs."""
    def run(args):
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    run.__qualname__ = run.__name__ = function
    run.module = module  # imported early by _import_command_module, under start-up's signal handling
    return run


def _add_live(subparsers) -> None:
    p = subparsers.add_parser(
        "live", help=COMMAND_HELP["live"],
        description="Stylize a webcam (or a replayed video file) in real time. Keys: n/p next/previous style, "
                    "t stabilizer on/off, +/- its strength, [/] less/more style, c input colours on/off, s snapshot, "
                    "r start/stop recording, q or Esc quit.")
    src = p.add_mutually_exclusive_group()
    # no argparse default: with one, "--camera 0 --source F" would pass the exclusive group's check
    src.add_argument("--camera", help="camera index or device path, e.g. 0 or /dev/video2 (default 0)")
    src.add_argument("--source", metavar="FILE", type=path_arg, help="replay a video file instead of a camera")
    p.add_argument("--realtime", action="store_true",
                   help="with --source: pace the file at its frame rate and drop frames the stylizer cannot "
                        "keep up with, as a camera does (default: process every frame)")
    p.add_argument("--loop", action="store_true", help="with --source: start over at the end")
    p.add_argument("--size", type=frame_size, metavar="WxH", help="capture size, e.g. 640x480")
    p.add_argument("--fps", type=_positive_float, help="requested camera frame rate, e.g. 30")
    p.add_argument("--style", action="append", metavar="STYLE",
                   help="style spec (repeat for several; n/p switch between them). Default: all bundled styles")
    _add_device_args(p)
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="network runtime: auto (default: ONNX Runtime on the CPU in fp32, eager PyTorch in bf16 "
                        "and on GPUs), torch, compile (torch.compile) or onnx")
    p.add_argument("--no-channels-last", action="store_true", help="disable the channels_last memory format")
    p.add_argument("--max-side", type=side_pixels,
                   help="run the network with the longer side at most this many pixels")
    p.add_argument("--scale", type=_scale_factor, help="run the network at this multiple of the capture size, up to 8 (0.5: half size, "
                        "faster, larger strokes)")
    p.add_argument("--temporal", choices=list(TEMPORAL_MODES), default="off",
                   help="start with the flow stabilizer on (t toggles it; default off)")
    p.add_argument("--temporal-strength", type=_unit_float,
                   help="stabilizer strength 0..1 (default: each style's own, shown by `vidstyle styles`; "
                        f"{DEFAULT_TEMPORAL_STRENGTH:g} for your own model files)")
    add_look_args(p, keys="[]c")
    p.add_argument("--bars", choices=list(BARS_MODES), default="keep",
                   help="keep: black letterbox/pillarbox bars found on the first frame (and frames spread over a "
                        "--source file) stay as they are, only the picture is stylized; stylize: paint the whole frame "
                        "(default keep)")
    p.add_argument("--side-by-side", action="store_true", help="show the camera image next to the stylized one")
    p.add_argument("--fullscreen", action="store_true", help="full-screen window")
    p.add_argument("--no-overlay", action="store_true", help="hide the fps/latency text")
    p.add_argument("--no-window", action="store_true", help="no window (headless); use with --record/--virtual-cam")
    p.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--record", metavar="FILE", type=path_arg, help="record the stylized stream (variable frame rate, wall-clock "
                                                    "timing) to FILE; r stops and restarts")
    p.add_argument("--overwrite", action="store_true", help="replace the --record and --stats-json files if they exist")
    # no argparse default: a folder given is checked before the session, the current one is not
    # (a read-only one need not stop a session that takes no snapshot)
    p.add_argument("--output-dir", type=path_arg,
                   help="folder for snapshots and r-started recordings, made on first use (default .)")
    p.add_argument("--virtual-cam", action="store_true", help="send the stylized feed to a virtual camera "
                                                              "(needs pyvirtualcam)")
    p.add_argument("--stats-json", metavar="FILE", type=path_arg,
                   help="also write the exit summary as one JSON object to FILE, for scripts: schema (this layout's "
                        f"version, {LIVE_STATS_SCHEMA}), then the summary's counts, latencies, stop_reason, "
                        "recordings, snapshots and errors")
    p.set_defaults(func=_command_in("vidstyle.live", "live_command"), check=_check_live)


def _check_live(args) -> None:
    """`vidstyle live`'s window options, recording path, styles and file source, said before
    torch's import (seconds); the command checks the last three again, as it checks everything."""
    from vidstyle.errors import VidstyleError
    from vidstyle.io.files import check_output, check_recording_name, check_source_video
    from vidstyle.models.zoo import resolve_style

    # first, as before these checks; and said, as --fps with --source is: without a window they
    # did nothing (the recording is the stylized picture alone, side by side or not)
    unused = [name for name, given in (("--fullscreen", args.fullscreen), ("--side-by-side", args.side_by_side),
                                       ("--no-overlay", args.no_overlay)) if given]
    if args.no_window and unused:
        raise VidstyleError(f"{' and '.join(unused)} {'apply' if len(unused) > 1 else 'applies'} to the window, "
                            "which --no-window leaves out")
    if args.record:
        check_output(check_recording_name(args.record), input=args.source, overwrite=args.overwrite)
    for style in args.style or ():
        resolve_style(style)
    if args.source:
        check_source_video(args.source)


def _add_eval(subparsers) -> argparse.ArgumentParser:
    """Register ``vidstyle eval INPUT STYLIZED``."""
    p = subparsers.add_parser(
        "eval", help=COMMAND_HELP["eval"],
        description="Print the warping error (Lai et al. 2018) of STYLIZED given INPUT's motion, as JSON; "
                    "with --painting also its style loss against the painting and content loss against "
                    "INPUT (Gram and feature losses of a loss network, HED's VGG16 unless --loss-net says otherwise).",
        epilog="JSON fields: warping_error: mean squared RGB difference (0-1 scale, lower is steadier) between "
               "each stylized frame and the previous one warped onto it by the input's flow, over pixels visible "
               "in both (forward-backward check), averaged over frame pairs of one shot (scene cuts left out, "
               "found by the stabilizer's test on this flow); input_warping_error: the same for "
               "the input itself, the floor; *_long_term: frame t against t-k (k: --long-term; pairs spanning a "
               "cut left out); pairs: frame pairs scored (short-term); cut_pairs: pairs left out as scene cuts; "
               "valid_fraction: mean share of pixels visible in both frames; "
               "k: the long-term distance; input, stylized, frames, input_size/stylized_size ([width, height]), "
               "flow and flow_preset: what was measured; start/duration: the input's segment compared "
               "(null: from its first frame / to its end); bars: the input's black bars, left out of the errors "
               "and valid_fraction as vidstyle stylize keeps them (e.g. \"top 46, bottom 46\", with \"until T s\" "
               "where the picture reaches into them; null: none); notes: why a value is null or to be read with "
               f"care (empty when nothing is); schema: this layout's version ({EVAL_SCHEMA}); style: null without "
               "--painting, "
               "else style_loss (against the painting: lower is closer to its style), content_loss (against "
               "INPUT: lower keeps more of the input's content), input_style_loss (INPUT's own against the "
               "painting, for reference: a style_loss well below it is style taken on), each the mean over "
               "the frames scored of relative squared distances summed over the loss network's layers (0: "
               "a perfect match; no unit, and comparable only under one loss_net), with painting, loss_net, "
               "size (shorter side scored), frames_scored and every.")
    p.add_argument("input", type=path_arg, help="the original video, or its folder of numbered frames")
    p.add_argument("stylized", type=path_arg, help="the stylized video made from it (same frames)")
    p.add_argument("--long-term", type=int_between(2, MAX_LONG_TERM, "frames"), metavar="K",
                   help="also compare frame t with frame t-K (K >= 2)")
    p.add_argument("--gt-flow", metavar="FILE", type=path_arg, help="ground-truth flow .npz (the repository's samples/sample_flow.npz) instead of DIS")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="evaluate only the first N frames")
    p.add_argument("--start", type=_clock_time, metavar="TIME",
                   help="the input's segment STYLIZED was made from: the --start given to vidstyle stylize")
    p.add_argument("--duration", type=_positive_clock_time, metavar="TIME",
                   help="... and its --duration")
    p.add_argument("--fps", type=_sequence_fps,
                   help="frame rate of an INPUT folder of numbered frames: the --fps given to vidstyle stylize "
                        "(default 24); places --start/--duration in it")
    p.add_argument("--flow-preset", default="medium", choices=["ultrafast", "fast", "medium"],
                   help="DIS optical flow preset (default medium)")
    add_flow_backend_args(p, "the optical flow estimated on INPUT")
    p.add_argument("--painting", metavar="IMAGE", type=path_arg,
                   help="also score style quality against this painting (style loss; content loss vs INPUT; "
                        "the input's own style loss as the reference)")
    p.add_argument("--style-every", type=_positive_int, metavar="N",
                   help=f"score style on every Nth frame (default {STYLE_EVERY})")
    p.add_argument("--loss-net", choices=LOSS_NETWORKS,
                   help="loss network for the style scores (default vgg16_hed)")
    p.set_defaults(func=_command_in("vidstyle.eval", "eval_command"), check=_check_eval)
    return p


def _check_eval(args) -> None:
    """`vidstyle eval`'s painting and two videos, said before torch's import (seconds); the
    command checks them again, as it checks every call."""
    from vidstyle.io.files import check_file, check_named_inputs

    if args.painting:
        check_file(args.painting, "painting")
    check_named_inputs(("input video", args.input), ("stylized video", args.stylized), folders=True)


def _add_export(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help=COMMAND_HELP["export"],
        description="Export a style network to ONNX (dynamic batch, height and width) and check it "
                    "numerically against PyTorch.")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", type=path_arg, help="ONNX file to write, in an existing folder")
    p.add_argument("--style", required=True, action=_once("a blend is mix:a=0.7,b=0.3 (baked in)"),
                   help="bundled style name, a .safetensors model, mix:a=0.7,b=0.3 or FILE.safetensors:a=0.7,b=0.3 "
                        "(the mix is baked in)")
    p.add_argument("--opset", type=_opset, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})")
    p.add_argument("--tolerance", type=_non_negative_float, default=1e-3,
                   help="fail if ONNX Runtime and PyTorch differ by more than this (default 1e-3)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.onnx if it exists")
    p.set_defaults(func=_command_in("vidstyle.export", "export_command"), check=_check_export)


def _check_export(args) -> None:
    """`vidstyle export`'s output path and style, said before torch's import (seconds); the
    command checks them again, as it checks every call."""
    from vidstyle.io.files import check_onnx_output
    from vidstyle.models.zoo import resolve_style

    check_onnx_output(args.onnx, args.overwrite)
    resolve_style(args.style)


# --- registration of the other commands --------------------------------------------------

_OPTIONAL_COMMANDS = [
    # (command, module, function that adds the subparser), in the order `vidstyle --help` lists them
    # after stylize and styles; module None: this one
    ("preview", "vidstyle.preview", "add_parser"),
    ("train", "vidstyle.train.cli", "add_train_parser"),
    ("optimize", "vidstyle.train.cli", "add_optimize_parser"),
    ("eval", None, "_add_eval"),
    ("live", None, "_add_live"),
    ("bench", "vidstyle.bench", "add_parser"),
    ("export", None, "_add_export"),
]


#: The module each command below runs from, when it is not its parser's (``_command_in`` names
#: those): its import loads torch, a second or two that start-up's signal handling must cover.
#: (a command's check comes first: see :func:`_run_command`.)
_RUN_FROM = {"stylize": "vidstyle.pipeline", "preview": "vidstyle.stylizer", "train": "vidstyle.train.loop",
             "optimize": "vidstyle.train.optimize", "bench": "vidstyle.bench.run"}


def _import_command_module(args) -> None:
    """Import the module the parsed command runs from (torch with it) before the command runs, as
    the parsers did when they imported torch: a Ctrl-C in torch's import, as a KeyboardInterrupt,
    is swallowed by its C++ (the command ran on) or aborts the process in it ("terminate called
    after throwing an instance of 'pybind11::error_already_set'"), so it must land under
    :func:`_interrupt_ends_at_once`. An import that fails is left for the command's own import to
    say (a missing package named with its pip command)."""
    module = getattr(getattr(args, "func", None), "module", None) or _RUN_FROM.get(getattr(args, "command", None))
    if module:
        import importlib

        with contextlib.suppress(Exception):
            importlib.import_module(module)


#: pip's names for the modules whose package is named otherwise
_PACKAGE_OF_MODULE = {"cv2": "opencv-python", "PIL": "Pillow", "skimage": "scikit-image"}


def _package_of(module: str) -> str:
    """The pip package that installs ``module``."""
    top = module.split(".")[0]
    return _PACKAGE_OF_MODULE.get(top, top)


def _package_missing(command: str, module: str) -> VidstyleError:
    """The error of ``vidstyle COMMAND`` run without the package of ``module`` installed."""
    package = _package_of(module)
    return VidstyleError(f"`vidstyle {command}` needs the Python package {package!r}: pip install {package}")


def _add_unavailable(sub, name: str, missing: str) -> None:
    """Register a command whose module needs a package that is not installed: it explains, not crashes."""
    if name in sub.choices:
        return
    p = sub.add_parser(name, help=f"(unavailable: needs the Python package {_package_of(missing)!r})")

    def unavailable(args):
        raise _package_missing(name, missing)

    p.set_defaults(func=unavailable)


def _top_parser() -> Parser:
    """The parser of vidstyle's own options, which go before the command (:func:`build_parser`
    adds the commands)."""
    parser = Parser(prog="vidstyle", description="Video style transfer with temporal consistency.")
    parser.add_argument("--version", action="version", version=f"vidstyle {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return parser


def build_parser(only: str | Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only`` (a command's name, or several), the other commands of
    ``_OPTIONAL_COMMANDS`` get their name and help line but no options, so their modules are not
    imported. No parser imports torch (seconds: each command imports what it runs when it runs), so
    ``vidstyle --help`` and every command's ``--help`` or usage error answer at once."""
    import importlib

    only = {only} if isinstance(only, str) else only
    parser = _top_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_stylize(sub)
    _add_styles(sub)
    for name, module, fn in _OPTIONAL_COMMANDS:
        if only is not None and name not in only:
            sub.add_parser(name, help=COMMAND_HELP[name])
            continue
        try:
            # a package or platform module that a parser's module lacks takes that command out,
            # not the CLI
            getattr(importlib.import_module(module) if module else sys.modules[__name__], fn)(sub)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "vidstyle":
                raise  # a broken install of vidstyle itself, not an optional package
            sub.choices.pop(name, None)  # a half-added command
            _add_unavailable(sub, name, exc.name or str(exc))
    for command in sub.choices.values():  # --debug also after the command name (SUPPRESS: no clobbering)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show full tracebacks on errors")
    return parser


class _MessageHandler(logging.Handler):
    """The library's warnings as ``vidstyle: warning: ...`` lines on stderr (logging's fallback
    printed the bare text), written through tqdm when it is loaded, so that a progress bar is
    cleared and redrawn around them instead of being cut in the middle of its line."""

    def __init__(self, level) -> None:
        super().__init__(level)
        self.said: list[str] = []  # every message, as said (stylize's --stats-json lists them)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.said.append(printable(record.getMessage()))
            text = f"vidstyle: {record.levelname.lower()}: {self.said[-1]}"
            tqdm = sys.modules.get("tqdm")
            if tqdm is not None:
                tqdm.tqdm.write(text, file=sys.stderr)
            else:
                print(text, file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)


@contextlib.contextmanager
def _messages_on_stderr():
    """The library's warnings through :class:`_MessageHandler` while a command runs, and only
    then (it yields the list of those said, which grows as they are); a program that calls
    :func:`main` keeps its own logging set-up before and after. (They still reach its root
    handlers too: tests capture them there.)"""
    handler = _MessageHandler(logging.WARNING)
    log.addHandler(handler)
    try:
        yield handler.said
    finally:
        log.removeHandler(handler)


#: options whose value may start with "-", and the form of such a value (never an option of
#: ours): argparse takes "-1=mondrian" or "-1x48" for an unknown option and says only "expected one
#: argument"; joined as --style-at=-1=mondrian, the value's own check says what is wrong with it
_DASHED_VALUE_OPTIONS = {"--style-at": re.compile(r"-(?!-).*="),  # TIME=STYLE
                         "--size": re.compile(r"-[\d.]*x", re.IGNORECASE)}  # WxH (live)


def _values_after(argv: list[str], options: dict) -> list[str]:
    """``argv`` with each of ``options`` joined to a following value of the form it gives."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in options and options[out[-1]].match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _commands_named(argv: list[str]) -> set[str]:
    """The commands ``argv`` names, whose parsers :func:`build_parser` builds whole: the command
    (vidstyle's own options, --debug and --version, take no value, so in a right command line it
    is the first word that is not an option), and any word that names one too. A command's option
    typed before the command, `--steps 4 train`, needs the command's options built to be said
    where it goes, and its value may name another command (`--style train stylize`), or a flag's
    command be followed by a value naming one (`--overwrite stylize in.mp4 -o export`): which word
    is the command is told by their options (vidstyle.cli_args.Parser.command_at)."""
    return {arg for arg in argv if arg in COMMAND_HELP}


class _MessagesAtMost:
    """stderr for the command line's messages (progress, warnings, the summary), whose write errors
    are dropped: 2>log on a full disk, or a descriptor closed under the process, loses messages, not
    a run. (The progress line failing mid-run stopped it, the summary failing turned a finished run
    into exit status 1; Python's own flush at exit made it 120.)"""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ... as the stream's
        return getattr(self.stream, name)


class _ClosedOutput:
    """stdout for a process started with it closed (``>&-``): what is written goes nowhere, and the
    next flush says so, once, as one error (the exit status 1 of a full disk under >file: Unix tools
    say "write error: Bad file descriptor"). `vidstyle styles >&-` exited 0, its listing lost; a
    command that writes nothing there (stylize's messages go to stderr) still ends well. It holds
    /dev/null open meanwhile, on the descriptor stdout had (the lowest free one): a file the run
    opened next would otherwise get it, and what a native library prints would land in the file."""

    def __init__(self):
        self.stream = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
        self.lost = False

    def write(self, text: str) -> int:
        self.lost = self.lost or bool(text)
        return len(text)

    def flush(self) -> None:
        if self.lost:
            self.lost = False  # (said once: the exit's own flush has nothing more to say)
            raise VidstyleError("cannot write to standard output: it is closed")

    def __getattr__(self, name):  # isatty, fileno, encoding, ... as /dev/null's
        return getattr(self.stream, name)


class _CommandOutput:
    """stdout for a command's output (`styles`' table, `eval`'s JSON): a write that fails (a full
    disk under >file) is one error line, not "OSError ... (run with --debug)"; the descriptor then
    points at /dev/null, so the exit's flush has nothing left to fail on. A reader that went away
    (BrokenPipeError) passes as it is."""

    def __init__(self, stream):
        self.stream = stream

    def _failed(self, exc: OSError):
        if isinstance(exc, BrokenPipeError):
            raise exc
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
        raise VidstyleError(f"cannot write to standard output: {exc.strerror or exc}") from None

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            self._failed(exc)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            self._failed(exc)

    def __getattr__(self, name):  # isatty, fileno, encoding, ... as the stream's
        return getattr(self.stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this process's) and return its exit status. As the
    process's own command line, called by the program's top level, it does not return: see
    :func:`_end_process` and :func:`_called_by_the_program`."""
    if (argv is not None or threading.current_thread() is not threading.main_thread()
            or not _called_by_the_program(sys._getframe(1))):
        with _ctrl_c_given_back(argv is None):
            return _main(argv)
    try:
        code = _main(None)
    except SystemExit as exc:  # kill or a closed terminal, said and unwound (termination_as_exit)
        if not (exc.code is None or isinstance(exc.code, int)):
            raise
        # ended with the exception still held: letting it go frees the objects of the run it
        # stopped (their files are closed and removed already), and freeing them once hung the
        # process after "terminated (SIGTERM)": twice in 300 kills just after the output was
        # opened, under load, its last Python line this block's, one native thread left
        _end_process(exc.code or 0)
    _end_process(code)


@contextlib.contextmanager
def _ctrl_c_given_back(process: bool):
    """The program's Ctrl-C handling put back when :func:`main` returns to it: the process's own
    command line (``process``) run by a function of a program (not its top level, so main does
    not end the process) left Ctrl-C ignored, its status decided (:func:`_status_decided`), and
    the program, going on, could no longer be interrupted; a handler of its own was gone.
    Python's default handler where it was :mod:`vidstyle._start`'s (see :func:`_interrupt_ends_at_once`)."""
    before = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if process and before is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler if before is interrupted_at_once else before)


def _called_by_the_program(frame) -> bool:
    """Whether ``frame``, :func:`main`'s caller, is the program's own top level with nothing
    around it but the interpreter's start: the console script's module code, or that of
    `python -m vidstyle` (and `-c`) under runpy. Not when a tool runs the command line inside its
    own code and has work left once it returns: `coverage run` saves its data then, `python -m
    cProfile -o FILE` writes its profile, pdb, trace, memray, a harness's function; nor under
    `python -i`, whose prompt comes after the program. Ending the process there lost that."""
    if sys.flags.inspect:
        return False
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if module != "runpy" and not (module == "__main__" and frame.f_code.co_name == "<module>"):
            return False
        frame = frame.f_back
    return True


def _end_process(code: int) -> NoReturn:
    """End this process with ``code`` now that its command is done and said. Python's own exit
    would next spend 0.6-0.9 s (2-core Zen 3) tearing down torch's modules and its libraries'
    static objects, with nothing left to write: a fifth of `vidstyle styles`. Once, there, a
    library's C++ destructor aborted a process that had handled a Ctrl-C ("terminate called
    without an active exception": killed by SIGABRT instead of exit status 130). What Python's exit
    does first still runs, in its order: the wait for threads that are not daemons (and the thread
    pools' shutdown), then the atexit handlers (logging's flush, compile workers stopped); then
    the standard streams are flushed."""
    with contextlib.suppress(Exception):  # (what Py_FinalizeEx does before its teardown)
        threading._shutdown()
    with contextlib.suppress(Exception):
        import atexit

        atexit._run_exitfuncs()
    try:
        sys.stdout.flush()  # _run_command flushed the command's output; this is what came after
    except BrokenPipeError:
        code = code or _reader_gone()
    except (VidstyleError, OSError) as exc:  # a full disk under >file
        print(f"vidstyle: error: {printable(exc)}", file=sys.stderr)
        code = code or 1
    sys.stderr.flush()  # its errors are dropped (_MessagesAtMost)
    with contextlib.suppress(Exception):  # C's stdio buffers too (a native library's own printing), as exit() would
        import ctypes

        ctypes.CDLL(None).fflush(None)
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    process = argv is None  # the command line of this process (not a call from Python code)
    try:  # building the parser takes a moment a Ctrl-C or a kill may land in (torch: see _run_command)
        with _interrupt_ends_at_once(process):  # (and vidstyle._start's handling before it, ended with it)
            status = _answered_before_the_parser(argv, process)
            if status is not None:
                return status
            with on_kill(_ended_at_once):
                from vidstyle.memory import keep_freed_memory

                keep_freed_memory()  # before any frame or tensor is allocated (see its docstring)
                argv = _values_after(sys.argv[1:] if argv is None else argv, _DASHED_VALUE_OPTIONS)
                parser = build_parser(only=_commands_named(argv))
                args = parser.parse_args(argv)  # --help and usage errors end here, before torch
    except KeyboardInterrupt:
        print("vidstyle: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    with _messages_on_stderr() as args.said:  # (the messages said, for a record of the run)
        code = _run_command(args, process)
    _status_decided(process)
    return code


def _answered_before_the_parser(argv: list[str] | None, process: bool) -> int | None:
    """Set up the standard streams; then the exit status of a command line answered without the
    parser (``--version``, a current folder deleted), or None."""
    # started with stdout or stderr closed (>&-, 2>&-): what would go there goes nowhere, the run still works
    # (but output lost from stdout is said, and fails the command: _ClosedOutput)
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    if process and not isinstance(sys.stderr, _MessagesAtMost):  # for the life of the process: its exit
        sys.stderr, sys.stdout = _MessagesAtMost(sys.stderr), _CommandOutput(sys.stdout)  # flushes them too
    for stream in (sys.stdout, sys.stderr):
        # an ASCII locale (LC_ALL=C) or a file name that is not UTF-8 must not turn a message
        # into a UnicodeEncodeError: such characters are printed as escapes
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    try:
        os.getcwd()
    except FileNotFoundError:  # torch's import then dies with "Intel oneMKL FATAL ERROR: Cannot load ..."
        print("vidstyle: error: the current folder no longer exists (deleted under this shell); cd into "
              "one that does and run again", file=sys.stderr)
        return 1
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # at once, without building the parser or importing the command's module (torch, for most)
        try:
            print(f"vidstyle {__version__}")
            sys.stdout.flush()
        except VidstyleError as exc:  # (from _CommandOutput) a full disk under >file
            print(f"vidstyle: error: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            return _reader_gone()
        return 0
    return None


def _status_decided(process: bool) -> None:
    """Ignore Ctrl-C in the command line of this process (``process``) from now on: its exit status
    is decided. A Ctrl-C after that (a second one, pressed while the first one's clean-up ran and
    was said, or while the interpreter shuts down torch's and the capture's threads) turned the
    status decided into a traceback and a kill by SIGINT."""
    if process and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _reader_gone() -> int:
    """The reader of stdout went away (`vidstyle styles | head`): stop quietly, as Unix tools do,
    with stdout pointed at /dev/null so the interpreter's final flush does not raise again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def _ended_at_once(signum, frame):
    """While vidstyle starts (torch takes a second to import), a kill or a closed terminal ends
    the process at once, with its one line: nothing is written yet, and an exception raised inside
    an import (as :func:`termination_as_exit` raises one) leaves modules half made, which then
    refuse to load again."""
    os.write(2, (terminated_line(signum) + "\n").encode())
    os._exit(128 + signum)


@contextlib.contextmanager
def _interrupt_ends_at_once(process: bool):
    """Ctrl-C while vidstyle starts ends the process at once, as :func:`_ended_at_once` ends a
    kill: as a KeyboardInterrupt it can land inside torch's import of numpy, whose C++ swallows
    it, and the command then ran on (the Ctrl-C lost, exit status 0) or failed on the half-loaded
    numpy ("module 'numpy' has no attribute 'multiply'", a RecursionError). Only for the command
    line's own process and a Ctrl-C that has Python's default handler (not one ignored in a
    background job), or this handler already, put there by :mod:`vidstyle._start` before this
    module was imported; the block ends with Python's default handler either way. A program that
    called that entry point's ``main`` with a command line of its own, or on a thread of its own, goes
    on after it: Ctrl-C is the program's again from here (left in, the program's next Ctrl-C ended it
    at once, its clean-up skipped; see :func:`~vidstyle.signals.leave_ctrl_c_to_the_program`)."""
    if not process or threading.current_thread() is not threading.main_thread():
        leave_ctrl_c_to_the_program()
        yield
        return
    if signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, interrupted_at_once):
        yield
        return
    end_at_once_on_ctrl_c()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _say_if_terminated(exc: SystemExit) -> None:
    """One line for an exit that :func:`termination_as_exit` made of a kill or a closed terminal."""
    if exc.code in (128 + signal.SIGTERM, 128 + getattr(signal, "SIGHUP", 1)):
        print(printable(_stopped_line(terminated_line(exc.code - 128), exc)), file=sys.stderr)


def _stopped_line(line: str, exc: BaseException) -> str:
    """``line`` (a Ctrl-C's or a kill's), saying so where the output was finished and in place
    before the stop came (``finished_output``: see :func:`vidstyle.io.files.stop_marked_once_placed`)."""
    finished = getattr(exc, "finished_output", None)
    return line if finished is None else f"{line} once {finished} was written: it is complete"


def _run_command(args, process: bool = False) -> int:
    """Run the parsed command; errors become one line on stderr and an exit status. A command
    with a ``check`` (``check(args)``: what it can find wrong without torch, and the keyword
    arguments it then runs with, or None) says those errors before the module it runs from is imported
    (torch, for most), which :func:`_import_command_module` does under start-up's signal handling."""
    try:
        # kill and a closed terminal unwind like Ctrl-C in every command, so the temporary files
        # of a half-done output (a checkpoint, an ONNX file, a report) are removed
        check = getattr(args, "check", None)
        with termination_as_exit():
            checked = (check(args) if check is not None else None) or {}  # (a check may only say errors)
        with on_kill(_ended_at_once), _interrupt_ends_at_once(process):  # a Ctrl-C or kill in torch's import
            _import_command_module(args)
        with termination_as_exit():
            apply_threads(getattr(args, "threads", None))
            code = int(args.func(args, **checked) or 0)
        sys.stdout.flush()  # inside the try: a reader that went away is seen here, not at exit
        return code
    except SystemExit as exc:
        _status_decided(process)
        _say_if_terminated(exc)
        raise
    except VidstyleError as exc:
        _status_decided(process)  # (each handler's first step: a second Ctrl-C while its line is said)
        if args.debug:
            raise
        print(f"vidstyle: error: {printable(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        _status_decided(process)
        print(printable(_stopped_line("vidstyle: interrupted", exc)), file=sys.stderr)
        return 130
    except BrokenPipeError:
        _status_decided(process)
        return _reader_gone()
    except Exception as exc:  # unexpected: still one line unless --debug
        _status_decided(process)
        if args.debug:
            raise
        if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)):
            # the CPU allocator's failure outside the network (which says what to lower itself):
            # a huge still converted, blended or encoded; the traceback would not help
            smaller = [option for name, option in (("downscale", "--downscale"), ("max_side", "--max-side"),
                                                   ("batch", "--batch"), ("batch_size", "--batch-size"))
                       if hasattr(args, name)]
            print(f"vidstyle: error: out of memory ({printable(first_line(exc, 120, 'no detail'))})"
                  + (f"; lower {', '.join(smaller)}" if smaller else ""), file=sys.stderr)
            return 1
        if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] != "vidstyle":
            # a package the command needs as it runs (its module is imported then): said as the
            # parser says it of a command it could not add (vidstyle's own missing: a broken install)
            print(f"vidstyle: error: {printable(_package_missing(args.command, exc.name))}", file=sys.stderr)
            return 1
        print(f"vidstyle: error: {type(exc).__name__}: {printable(exc)} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # `python -m vidstyle.cli` as `python -m vidstyle`
    raise SystemExit(main())
