"""Style previews: a contact sheet of styles on a few frames of the user's own video (or image,
or frame folder), to choose a style before a long run.

Frames are stylized as ``vidstyle stylize`` would paint them: at the input's resolution (or at
``max_side``, as ``--max-side`` would), black bars kept (``bars``), the picture continued under
transparency; then shrunk to the panel width (non-square pixels made square, as players show
them), so the stroke scale on the sheet is the one the user gets; with the look ``--style-strength``
and ``--keep-colors`` give it, by the stylizer's own blend. Each row is labelled with the
``--style`` value that gives it, and those options when they are not the defaults.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from vidstyle.errors import BadValueError, VidstyleError, counted, printable
from vidstyle.models.zoo import StyleSpec  # (a type: the zoo's metadata loads without torch)

if TYPE_CHECKING:  # a torch.device is taken as a device; the command line's --help loads no torch
    import torch

log = logging.getLogger("vidstyle")

#: panel width (pixels) and frames per row on a sheet, by default
PANEL_WIDTH = 320
SHEET_FRAMES = 3
#: the most frames (columns) a sheet takes: every one is decoded and held at full size before any
#: network runs, so a typo (--frames 5000) of a 1080p video would hold 31 GB (5000 x 6.2 MB) first
MAX_SHEET_FRAMES = 64
_LABEL_HEIGHT = 22


def preview_styles(blends: bool = False) -> list[str]:
    """The ``--style`` values of every bundled style: each single-style network, then each style
    of each bundled multi-style network (``mix:NAME``); with ``blends``, also a 50/50 blend of each
    multi-style network's first two styles."""
    from vidstyle.models.zoo import bundled_multi_style, bundled_styles

    specs = [name for name, info in bundled_styles().items() if len(info.styles) == 1]
    for info in bundled_multi_style():
        names = info.style_names
        specs += [f"mix:{name}" for name in names]
        if blends and len(names) > 1:
            specs.append(f"mix:{names[0]}=0.5,{names[1]}=0.5")
    return specs


def shrink(image: np.ndarray, width: int, pixel_aspect: float = 1.0) -> np.ndarray:
    """``image`` (H, W, 3) scaled to ``width`` pixels wide, aspect kept (area-averaged when shrunk).
    ``pixel_aspect``: the width:height of its pixels, which are made square (the picture as players
    show it)."""
    from vidstyle.frames import resize_frame

    h, w = image.shape[:2]
    return resize_frame(image, (width, max(1, round(h * width / (w * pixel_aspect)))))


def _pixel_aspect(path: Path, fps=None) -> float:
    """The width:height of the input's pixels as players show them: 1 for images, frame folders and
    most videos, 4:3 for anamorphic HDV. Panels of its stored frames looked squeezed (or stretched),
    where stylize's output keeps the aspect and is shown as the input is."""
    from vidstyle.io.decode import VideoDecoder
    from vidstyle.io.images import is_image_path

    if path.is_dir() or is_image_path(path):
        return 1.0
    with VideoDecoder(path, announce=False, fps=fps) as decoder:  # (turned with the frames, as they are)
        return float(decoder.info.sample_aspect_ratio or 1)


#: the smallest legible scale of a label's font, and the label's margins (6 pixels each side)
_LABEL_MIN_SCALE, _LABEL_MARGIN = 0.35, 12
#: pixels from one line of a label to the next, where a command too wide for the row is wrapped
_LABEL_LINE_STEP = 13


def _label_lines(text: str, width: int, name: str | None = None,
                 command: str | None = None) -> tuple[list[str], float]:
    """The lines :func:`labelled` draws ``text`` in across a row ``width`` pixels wide, and their
    font scale."""
    import cv2

    font, room = cv2.FONT_HERSHEY_SIMPLEX, width - _LABEL_MARGIN

    def fits(line: str, scale: float = _LABEL_MIN_SCALE) -> bool:
        return cv2.getTextSize(line, font, scale, 1)[0][0] <= room

    scale = min(0.5, 0.5 * room / max(1, cv2.getTextSize(text, font, 0.5, 1)[0][0]))
    if scale >= _LABEL_MIN_SCALE:
        return [text], scale
    scale = _LABEL_MIN_SCALE
    if fits(text):  # (the scale is not quite linear)
        return [text], scale

    def name_cut_at_its_start(name: str) -> str:
        while len(name) > 4 and not fits(name):
            name = "..." + name.removeprefix("...")[1:]
        return name

    units = re.split(r" (?=--)", command) if command and text.startswith(command) else []
    # "--style NAME" wider than the row, its options not: the name as it fits, the options under it
    # (the name alone dropped --keep-colors and --style-strength, the row's look, from the label)
    named_alone = bool(name) and len(units) > 1 and not fits(units[0]) and all(fits(unit) for unit in units[1:])
    if units and (named_alone or all(fits(unit) for unit in units)):
        # the command (--style and each option with its value) whole, wrapped between options where
        # it is wider than the row: cut, "--style light_the_scream --ke..." could not be typed
        # again; the painting, said after it, is what gets cut
        lines = [name_cut_at_its_start(name) if named_alone else units[0]]
        for unit in units[1:]:
            if (len(lines) > 1 or not named_alone) and fits(f"{lines[-1]} {unit}"):  # (not after a bare name)
                lines[-1] += f" {unit}"
            else:
                lines.append(unit)
        tail = text[len(command):]  # ": painting, artist, year"
        if fits(lines[-1] + tail):
            lines[-1] += tail
            return lines, scale
        while tail.rstrip(" ,:") and not fits(lines[-1] + tail.rstrip(" ,:") + "..."):
            tail = tail[:-1]
        if tail.rstrip(" ,:"):  # (nothing of the painting left: no "0.7..." that reads as a cut value)
            lines[-1] += tail.rstrip(" ,:") + "..."
        return lines, scale
    # the text up to the name's end: its first place after a space ("--style t: Title" has a "t" in
    # "--style" too), or none where the text does not hold it
    start = -1
    if name:
        start = text.find(" " + name) + 1 if " " + name in text else text.find(name)
    named_by = start + len(name) if start >= 0 else 0
    while len(text) > 4 and not fits(text + "..."):
        text = text[:-1]
    text = text.rstrip(" ,:") + "..."
    if len(text.removesuffix("...")) < named_by:  # the name itself cut: the name alone, cut at its start
        text = name_cut_at_its_start(name)
    return [text], scale


def label_height(lines: int) -> int:
    """The height in pixels of a label band of ``lines`` lines."""
    return _LABEL_HEIGHT + _LABEL_LINE_STEP * (lines - 1)


def labelled(row: np.ndarray, text: str, name: str | None = None, command: str | None = None,
             lines: int = 1) -> np.ndarray:
    """``row`` (H, W, 3) under a black band with ``text`` in white: smaller to fit the row, down
    to a legible size, then cut short with "...". ``name``: what the row shows when ``text`` must
    be cut (a style's name: "--style lig..." named none of several light styles), its end kept
    when it too is cut ("...rry_night"). ``command``: the start of ``text`` that reproduces the
    row (``--style NAME --keep-colors``), kept whole where each of its options fits the row, on
    more lines when they do not fit on one (:func:`_label_lines`). ``lines``: the band's height in
    lines at the least, so that rows with fewer lines line up with the others."""
    import cv2

    drawn, scale = _label_lines(text, row.shape[1], name, command)
    band = np.zeros((label_height(max(lines, len(drawn))), row.shape[1], 3), np.uint8)
    for k, line in enumerate(drawn):
        cv2.putText(band, line, (6, 16 + _LABEL_LINE_STEP * k), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return np.concatenate([band, row], axis=0)


def label_room(texts: Iterable[str]) -> int:
    """The row width in pixels that :func:`labelled` needs to show every one of ``texts`` whole,
    at its smallest legible size."""
    import cv2

    return _LABEL_MARGIN + max((cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, _LABEL_MIN_SCALE, 1)[0][0]
                                for t in texts), default=0)


def _spec_text(spec) -> str:
    """A style as ``--style`` takes it: a Styles entry by its name (not ``Styles.LIGHT_MONDRIAN``)."""
    from vidstyle.models.zoo import Styles

    if isinstance(spec, Styles):
        return spec.value.spec
    return os.fspath(spec) if isinstance(spec, os.PathLike) else str(spec)


def _print_progress(done: int, total: int, spec: str) -> None:
    """``[2/7] starry_night`` on stderr after each style (``vidstyle preview``; ``progress=True``)."""
    import sys

    print(f"[{done}/{total}] {printable(spec)}", file=sys.stderr, flush=True)


def _look_options(style_strength: float = 1.0, keep_colors: bool = False) -> str:
    """The ``vidstyle stylize`` options that give this look (" --keep-colors --style-strength 0.5"),
    "" for the defaults: a row's label is what to type for the picture it shows."""
    return (" --keep-colors" if keep_colors else "") + (f" --style-strength {style_strength:g}"
                                                        if style_strength < 1.0 else "")


def _style_label(choice, spec: str, look: str = "") -> tuple[str, str]:
    """``--style SPEC: painting, artist, year`` for a style with one painting (a bundled style,
    one style of a multi-style network); ``--style SPEC`` for a blend. ``look``: the
    :func:`_look_options` after the style. With the label, first, its command part
    (``--style SPEC`` and the look's options), which :func:`labelled` keeps whole."""
    from vidstyle.models.zoo import painting_description

    styles, weights = choice.info.styles, choice.mix
    if len(weights) == len(styles) and sum(w > 0 for w in weights) == 1:
        meta = styles[max(range(len(weights)), key=lambda i: weights[i])]
    else:
        meta = styles[0] if len(styles) == 1 else {}
    description = painting_description(meta)
    command = f"--style {spec}{look}"
    return command, command + (f": {description}" if description else "")


@dataclass(frozen=True)
class SheetResult:
    """What :func:`style_sheet` wrote."""

    output: Path
    styles: int
    frames: int
    size: tuple[int, int]  # (width, height) of the sheet
    seconds: float

    def summary(self) -> str:
        return (f"{counted(self.styles, 'style')} on {counted(self.frames, 'frame')} in {self.seconds:.1f} s -> {self.output} "
                f"({self.size[0]}x{self.size[1]})")


def input_frames(path: str | Path, count: int, start: float | None = None, duration: float | None = None,
                 fps=None, hdr: str = "sdr", downscale: int | None = None) -> list[np.ndarray]:
    """``count`` frames spread over a video's (or frame folder's) segment, as the network sees
    them (upright, HDR tone-mapped, the picture continued under any transparency), fewer only when
    it has fewer; for a still image, the image. ``downscale``: as ``vidstyle stylize --downscale``."""
    from vidstyle.frames import fill_transparent, resize_frame, resize_rgba
    from vidstyle.io.samples import sample_frames
    from vidstyle.io.display import downscaled_size
    from vidstyle.io.files import check_input
    from vidstyle.io.images import check_still, is_image_path, read_image_and_alpha
    from vidstyle.io.sequence import say_if_fps_unused

    path = check_input(path, folders=True)
    if path.is_file() and is_image_path(path):  # (--fps on a still: said by the command as --start is)
        check_still(path)
        image, alpha = read_image_and_alpha(path)
        smaller = downscaled_size(image.shape[1], image.shape[0], downscale)
        if alpha is None:  # as stylize_image does: scaled (premultiplied), then filled
            return [resize_frame(image, smaller)]
        rgba = resize_rgba(np.dstack([image, alpha]), smaller) if smaller else np.dstack([image, alpha])
        return [fill_transparent(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]))]
    say_if_fps_unused(fps, path)  # (after stills: "photo.jpg plays at its own rate" said nothing true)
    frames = sample_frames(path, count, start, duration, fps, hdr, fill_transparency=True, downscale=downscale,
                           say_turn=True, say_unspread=True)
    if not frames:
        raise VidstyleError(f"{path} has no video frames to preview")
    return frames


def _input_profile(path: Path) -> bytes | None:
    """The RGB colour profile a still image or a frame folder is coded in (the sheet's panels keep
    its pixels as coded, as ``vidstyle stylize`` does); None for a video."""
    from vidstyle.io.images import is_image_path, rgb_profile
    from vidstyle.io.sequence import find_sequence

    if path.is_dir():
        return find_sequence(path).rgb_profile()
    return rgb_profile(path) if is_image_path(path) else None


def _checked_paths_and_styles(input, output, styles, overwrite: bool) -> tuple[Path, list, list]:
    """:func:`style_sheet`'s input, output and styles checked, without torch (`vidstyle preview`
    checks them before its import): (the input's Path, the styles as given, each resolved)."""
    from vidstyle.errors import BadTypeError
    from vidstyle.io.files import check_input, check_output, same_file
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS
    from vidstyle.models.zoo import Styles, resolve_style
    from vidstyle.timeline import NO_STYLE

    if not isinstance(output, (str, os.PathLike)):
        raise BadTypeError(f"the output of style_sheet() is a path (str or pathlib.Path), got {output!r}")
    input_path = check_input(input, folders=True)
    check_output(output, input_path, overwrite, formats=IMAGE_OUTPUT_FORMATS)
    if input_path.is_dir() and same_file(input_path, Path(output).parent):
        # it would be read as one more frame of the sequence, or make the folder hold two sequences
        raise VidstyleError(f"the sheet {output} would go into the input sequence's folder {input_path}; write it "
                            "to another folder")
    if isinstance(styles, (str, os.PathLike, Styles)):  # one style, not its characters
        styles = [styles]
    elif not (styles is None or isinstance(styles, Iterable)):
        raise BadTypeError(f"styles is a list of styles (or one), got {styles!r}")
    specs = preview_styles() if styles is None else list(styles)
    if any(isinstance(spec, str) and spec.strip() == NO_STYLE for spec in specs):  # (not a timeline's "none")
        raise VidstyleError(f"{NO_STYLE!r} paints nothing: a sheet's first row is the input as it is")
    if not specs:
        raise BadValueError("no styles to show (None shows every bundled style)")
    return input_path, specs, [resolve_style(spec) for spec in specs]  # a misspelt name fails now, not after minutes


def style_sheet(input: str | os.PathLike[str], output: str | os.PathLike[str],
                styles: StyleSpec | Iterable[StyleSpec] | None = None, *,
                frames: int = SHEET_FRAMES, width: int = PANEL_WIDTH, start: float | None = None,
                duration: float | None = None, fps: float | str | None = None, hdr: str = "sdr", bars: str = "keep",
                downscale: int | None = None, device: str | torch.device = "auto",
                precision: str = "auto", max_side: int | None = None, style_strength: float = 1.0,
                keep_colors: bool = False, overwrite: bool = False,
                progress: bool | Callable[[int, int, str], object] | None = None) -> SheetResult:
    """Write a contact sheet (.png, .jpg, .webp, ...) of ``styles`` (``--style`` values, or one;
    None: :func:`preview_styles`) on ``frames`` frames spread over ``input``: a row of the input, then
    one row per style, each panel ``width`` pixels wide (at most the input's width as players show
    it: non-square pixels made square). ``style_strength`` and ``keep_colors``: as for
    ``vidstyle stylize`` (:class:`~vidstyle.config.StylizeConfig`), named in each row's label. ``bars``:
    "keep" paints only the picture between black letterbox bars, as ``vidstyle stylize`` does,
    "stylize" the whole frame. ``fps``: the frame rate of a folder of numbered frames (``24``,
    ``"30000/1001"``; ``--fps``). ``progress(done, total, style)`` is
    called after each style. Every style is checked, and the output's path, before any network
    runs; written atomically."""
    from vidstyle.config import check_bars_mode, check_downscale
    from vidstyle.io.files import atomic_output, stop_marked_once_placed
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS, MAX_SIDE, is_image_path, write_image
    from vidstyle.letterbox import find_picture_area, video_picture_area
    from vidstyle.config import (MIN_SIDE, check_callback, check_flag, check_frame_count, check_look, check_number,
                                 check_segment)
    from vidstyle.errors import BadTypeError
    from vidstyle.pipeline import check_memory
    from vidstyle.stylizer import Stylizer

    check_frame_count("frames", frames, optional=False)
    if frames > MAX_SHEET_FRAMES:
        raise BadValueError(f"frames must be 1 to {MAX_SHEET_FRAMES} (a column each), got {frames}")
    check_number("width", width, f"a whole number of pixels, at least {MIN_SIDE}", lambda v: v >= MIN_SIDE,
                 integral=True, optional=False)
    check_segment(start, duration)
    check_flag("overwrite", overwrite)
    check_look(style_strength, keep_colors)  # (the Stylizer checks them too, once frames are decoded)
    if progress is not None and not callable(progress):
        try:  # a flag (NumPy's bool too, as every flag): True prints as vidstyle preview does
            progress = _print_progress if check_flag("progress", progress) else None
        except BadTypeError:
            raise BadTypeError(f"progress must be True, False, None or a function progress(done, total, style), "
                               f"got {progress!r}") from None
    elif progress is not None:  # (a wrong signature failed once the first style had run)
        check_callback("progress", progress, "progress(done, total, style), three arguments", 1, 1, "style")
    input_path, specs, choices = _checked_paths_and_styles(input, output, styles, overwrite)
    check_bars_mode(bars)
    check_downscale(downscale)
    started = time.perf_counter()
    images = input_frames(input_path, frames, start, duration, fps, hdr, downscale)
    area = None
    if bars == "keep":  # found as vidstyle stylize finds them: on frames spread over the video
        if len(images) == 1 and is_image_path(input_path):
            area = find_picture_area(images)  # (a still's chroma is not known: chroma None)
        else:
            area = video_picture_area(input_path, images[0].shape[:2], start, duration, fps, hdr,
                                      fill_transparency=True)

    def painted(stylizer, image: np.ndarray) -> np.ndarray:
        if area is None:
            return stylizer.stylize(image)
        return area.paste(image, stylizer.stylize(area.crop(image)))

    aspect = _pixel_aspect(input_path, fps)
    width = min(width, max(1, round(images[0].shape[1] * aspect)))  # shrunk, never enlarged past the picture shown
    sheet_w = width * len(images)
    look = _look_options(style_strength, keep_colors)
    # (text, name, command) of each row's label, the input's first: known before any network runs,
    # so that the sheet's size is, and every band is as tall as the tallest (the rows line up)
    labels = [(f"{input_path.name} (input)", None, None)]
    for spec, choice in zip(specs, choices):
        command, text = _style_label(choice, _spec_text(spec), look)
        labels.append((text, _spec_text(spec), command))
    lines = max(len(_label_lines(text, sheet_w, name, command)[0]) for text, name, command in labels)
    sheet_h = (len(specs) + 1) * (label_height(lines) + shrink(images[0], width, aspect).shape[0])
    limit = MAX_SIDE.get(IMAGE_OUTPUT_FORMATS[Path(output).suffix.lower()])
    if limit is not None and max(sheet_w, sheet_h) > limit:  # said now, not after every style has run
        raise VidstyleError(f"a sheet of {sheet_w}x{sheet_h} is larger than {Path(output).suffix} images can be "
                            f"({limit} pixels a side): fewer styles or frames, a smaller --width, or .png")

    def row(pictures: list[np.ndarray], label: tuple[str, str | None, str | None]) -> np.ndarray:
        text, name, command = label
        return labelled(np.concatenate([shrink(p, width, aspect) for p in pictures], axis=1), text, name, command,
                        lines=lines)

    # atomic_output entered before the styles run, as stylize enters its own: a sheet another run
    # wrote under the name meanwhile is left, and this one kept beside it (NAME-2, said); entered
    # only after them, it checked the name afresh and dropped the finished sheet ("already exists")
    with stop_marked_once_placed(output) as placed, \
            atomic_output(output, input_path, overwrite, formats=IMAGE_OUTPUT_FORMATS, placed=placed) as temp:
        rows = [row(images, labels[0])]
        short = False  # memory: said once that more is needed than is free now
        for done, (spec, choice, label) in enumerate(zip(specs, choices, labels[1:]), 1):
            stylizer = Stylizer(choice, device=device, precision=precision, max_side=max_side,
                                style_strength=style_strength, keep_colors=keep_colors)
            # the frames go through the network one at a time, they and the row's stylized ones held
            short = check_memory(stylizer, images[0].shape[:2] if area is None else area.shape, 1, False, 1,
                                 held=2 * len(images), warn=not short) or short
            rows.append(row([painted(stylizer, image) for image in images], label))
            if progress:
                progress(done, len(specs), _spec_text(spec))
        sheet = np.concatenate(rows, axis=0)
        write_image(temp, sheet, format=IMAGE_OUTPUT_FORMATS[Path(output).suffix.lower()],
                    icc_profile=_input_profile(input_path))
    return SheetResult(output=Path(output), styles=len(specs), frames=len(images),
                       size=(sheet.shape[1], sheet.shape[0]), seconds=time.perf_counter() - started)


# --- command line -----------------------------------------------------------------------------

def add_parser(sub) -> None:
    from vidstyle.cli_args import (COMMAND_HELP, add_device_args, add_look_args, clock_time, int_between,
                                   positive_clock_time, sequence_fps, side_pixels)
    from vidstyle.cli_args import path as path_arg
    from vidstyle.config import BARS_MODES, HDR_MODES, StylizeConfig

    p = sub.add_parser("preview", help=COMMAND_HELP["preview"],
                       description="Stylize a few frames spread over INPUT (a video, a folder of frames or an "
                                   "image) with every bundled style, or the ones given, and write them as one "
                                   "labelled sheet image: choose a style before a long run.")
    p.add_argument("input", type=path_arg, help="video file, folder of numbered frames, or image")
    p.add_argument("-o", "--output", required=True, type=path_arg, help="sheet image (.png, .jpg, .webp, .bmp, .tif)")
    p.add_argument("--style", action="append", dest="styles", metavar="STYLE",
                   help="a style to show (as for `vidstyle stylize --style`); repeat for more (default: every "
                        "bundled style, and each style of the blendable network as mix:NAME)")
    p.add_argument("--frames", type=int_between(1, MAX_SHEET_FRAMES, "frames"), default=SHEET_FRAMES,
                   help=f"frames spread over the video, one column each, 1 to {MAX_SHEET_FRAMES} (default {SHEET_FRAMES})")
    p.add_argument("--width", type=side_pixels, default=PANEL_WIDTH,
                   help=f"width of each panel on the sheet, pixels (default {PANEL_WIDTH}; at most the frame's "
                        "own width: panels are never enlarged); frames are stylized at full size first")
    p.add_argument("--start", type=clock_time, help="take the frames from this time on (seconds, or 1:30)")
    p.add_argument("--duration", type=positive_clock_time, help="...and within this many seconds (or 1:30)")
    p.add_argument("--fps", type=sequence_fps, help="frame rate of a folder of frames (default 24)")
    p.add_argument("--downscale", type=side_pixels, metavar="PIXELS",
                   help="as `vidstyle stylize --downscale` would: the frames scaled down to this longer side "
                        "first (strokes as large as in that output)")
    p.add_argument("--max-side", type=side_pixels,
                   help="run the networks with the longer side at most this many pixels, as `vidstyle stylize "
                        "--max-side` would (faster on large frames; larger strokes)")
    p.add_argument("--hdr", choices=list(HDR_MODES), default=StylizeConfig.hdr, help="as for `vidstyle stylize`")
    p.add_argument("--bars", choices=list(BARS_MODES), default=StylizeConfig.bars,
                   help="keep: paint only the picture between black letterbox bars, as `vidstyle stylize` does; "
                        f"stylize: the whole frame (default {StylizeConfig.bars})")
    add_look_args(p)  # as `vidstyle stylize` takes them: the rows show the look it gives, and name it
    add_device_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress or summary")
    p.set_defaults(func=_cmd_preview, check=_check_preview)


def _check_preview(args: argparse.Namespace) -> None:
    """`vidstyle preview`'s input, output and styles, said before torch's import (seconds), and the video
    options a still image does not use; :func:`style_sheet` checks the first again, as it checks every call."""
    from vidstyle.io.images import is_image_path
    from vidstyle.timeline import NO_STYLE

    if any(spec.strip() == NO_STYLE for spec in args.styles or ()):  # (stylize's --style-at is not preview's)
        raise VidstyleError(f"--style {NO_STYLE} paints nothing: the sheet's first row is the input as it is")
    input_path, _, _ = _checked_paths_and_styles(args.input, args.output, args.styles, args.overwrite)
    if input_path.is_file() and is_image_path(input_path):
        # the sheet of an image is that image: said, as `vidstyle stylize` says it, rather than a
        # --start or --frames 4 that picked nothing and one column where four were asked for
        video_only = [flag for flag, given in (("--start", args.start is not None),
                                               ("--duration", args.duration is not None),
                                               ("--frames", args.frames != SHEET_FRAMES),
                                               ("--fps", args.fps is not None)) if given]
        if video_only:
            log.warning("%s %s for videos; %s is a still image", ", ".join(video_only),
                        "is" if len(video_only) == 1 else "are", input_path.name)


def _cmd_preview(args: argparse.Namespace) -> int:
    result = style_sheet(args.input, args.output, args.styles, frames=args.frames, width=args.width,
                         start=args.start, duration=args.duration, fps=args.fps, hdr=args.hdr, bars=args.bars,
                         downscale=args.downscale,
                         device=args.device,
                         precision=args.precision, max_side=args.max_side, style_strength=args.style_strength,
                         keep_colors=args.keep_colors, overwrite=args.overwrite,
                         progress=not args.quiet)
    if not args.quiet:
        print(printable(result.summary()), file=sys.stderr)  # as stylize, train and export say what they wrote
    return 0
