"""Temporal consistency metric: the warping error of Lai et al., "Learning Blind Video Temporal
Consistency" (ECCV 2018), plus a long-term variant and the input video's own error as the floor.

For each pair (t-k, t): the backward flow t -> t-k is estimated on the *input* frames (or read from
ground truth), the stylized frame t-k is warped onto frame t, and the squared error (RGB in [0, 1])
is averaged over the pixels visible in both frames (forward-backward consistency and in-view; all
three channels, as in the authors' code), then over pairs. Lower is more stable; the same
measurement on the input frames themselves is what a perfectly consistent stylization would reach
(the floor).

Style quality (:class:`StyleScorer`): the relative Gram style loss of the stylized frames against
the painting and their content loss against the input frames (Gatys et al. 2015), under one loss
network (:data:`EVAL_LOSS_NET`, HED's VGG16: the classic perceptual-loss network, and not the one
the bundled styles were trained with, so it does not grade them on their own test), at one fixed
scale so that numbers compare across videos.

``vidstyle eval INPUT STYLIZED [--painting IMG]`` prints the result as JSON.
"""
from __future__ import annotations

import json
import logging
import zipfile
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from vidstyle.config import (EVAL_SCHEMA, MAX_LONG_TERM, STYLE_EVERY, check_flow_backend, check_frame_count,
                             check_number)
from vidstyle.device import cgroup_memory_limit, physical_memory, usable_memory
from vidstyle.errors import BadTypeError, BadValueError, MissingFileError, VidstyleError
from vidstyle.flow.estimate import FlowEstimator, create_flow_estimator
from vidstyle.flow.occlusion import valid_mask_numpy
from vidstyle.flow.stabilizer import is_scene_cut
from vidstyle.flow.warp import resize_flow, warp_numpy
from vidstyle.frames import check_image, resize_frame, same_shape

log = logging.getLogger("vidstyle")

GT_FORMAT = "vidstyle-gt-flow-v1"


# --- ground truth ----------------------------------------------------------------------------


class GroundTruthFlow:
    """Exact backward flows and visibility saved next to a synthetic clip (``samples/make_sample.py``).

    The ``.npz`` holds ``format`` = ``vidstyle-gt-flow-v1``, ``size`` = (H, W), ``frames`` = N,
    optionally ``fps`` (the clip's frame rate) and either

    * dense: ``flow`` (N-1, H, W, 2) float16, ``flow[i]`` the backward flow from frame i+1 to i,
      and ``valid`` (N-1, H, W) uint8 (1 = visible in both frames); or
    * layered (a 2.5D scene of planar layers, exact and far smaller): ``layer_affine`` (N, L, 2, 3)
      mapping frame-t pixel coordinates of layer l to that layer's own coordinates,
      ``layer_index`` (N, H, W) uint8 (the layer each pixel shows) and ``valid`` as above.
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"ground-truth flow file not found: {path}")
        try:
            data = np.load(path, allow_pickle=False)
            fmt = str(data["format"])
            self.size = tuple(int(v) for v in data["size"])
            self.frames = int(data["frames"])
            self._valid = data["valid"]
            self._dense = data["flow"] if "flow" in data.files else None
            self._affine = data["layer_affine"] if self._dense is None else None
            self._layers = data["layer_index"] if self._dense is None else None
            # the clip's frame rate (optional: older files lack it)
            self.fps = float(data["fps"]) if "fps" in data.files else None
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:  # a foreign .npy/.npz
            raise VidstyleError(f"{path} is not a vidstyle ground-truth flow file (an .npz as the vidstyle "
                                f"repository's samples/make_sample.py writes)") from exc
        except (zipfile.BadZipFile, EOFError) as exc:  # an .npz cut short (a copy or download interrupted)
            raise VidstyleError(f"{path} is damaged or truncated ({exc}): copy the ground-truth flow file "
                                f"again, or write it anew with the vidstyle repository's samples/make_sample.py") from exc
        if fmt != GT_FORMAT:
            raise VidstyleError(f"{path} has format {fmt!r}, expected {GT_FORMAT!r}")
        self.path = path
        self._recent: dict[int, np.ndarray] = {}  # long-term chains reuse the last few flows

    def flow(self, t: int) -> np.ndarray:
        """Backward flow from frame t to frame t-1 (t >= 1): (H, W, 2) float32."""
        if not 1 <= t < self.frames:
            raise IndexError(f"ground truth has backward flows for frames 1..{self.frames - 1}, not {t}")
        if t not in self._recent:
            if len(self._recent) >= 16:
                self._recent.pop(next(iter(self._recent)))
            self._recent[t] = self._compute_flow(t)
        return self._recent[t].copy()

    def _compute_flow(self, t: int) -> np.ndarray:
        if self._dense is not None:
            return self._dense[t - 1].astype(np.float32)
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        layers = self._layers[t]
        out = np.zeros((h, w, 2), np.float64)
        for layer in np.unique(layers):
            on = layers == layer
            # frame t pixel -> layer coordinates -> frame t-1 pixel
            to_layer = np.vstack([self._affine[t, layer], [0, 0, 1]])
            from_layer = np.linalg.inv(np.vstack([self._affine[t - 1, layer], [0, 0, 1]]))
            m = (from_layer @ to_layer)[:2]
            x, y = xs[on], ys[on]
            out[on, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2] - x
            out[on, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2] - y
        return out.astype(np.float32)

    def valid(self, t: int) -> np.ndarray:
        """(H, W) float32 mask for the pair (t-1, t): 1 = visible in both frames."""
        if not 1 <= t < self.frames:
            raise IndexError(f"ground truth has masks for frames 1..{self.frames - 1}, not {t}")
        return self._valid[t - 1].astype(np.float32)

    def flow_to(self, t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Backward flow t -> t-k and its visibility mask, by chaining the one-step flows."""
        total, valid = self.flow(t), self.valid(t)
        for j in range(1, k):
            step, step_valid = self.flow(t - j), self.valid(t - j)
            # where each pixel of frame t is in frame t-j, read that frame's flow and visibility;
            # where the read mixes two motions (an object's edge), its flow is neither: not counted
            readable = step_valid * _smooth_flow(step)
            valid = valid * (warp_numpy(readable, total, padding_mode="zeros") > 0.999)
            total = total + warp_numpy(step, total)
        return total, valid.astype(np.float32)


def _smooth_flow(flow: np.ndarray, tolerance: float = 0.5) -> np.ndarray:
    """(H, W) float32: 1 where ``flow`` (H, W, 2) differs from its right, lower and lower-right
    neighbours by at most ``tolerance`` pixels, so a bilinear read between them gets one motion."""
    smooth = np.ones(flow.shape[:2], np.float32)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        h, w = flow.shape[0] - dy, flow.shape[1] - dx
        step = np.abs(flow[dy:, dx:] - flow[:h, :w]).max(-1)
        smooth[:h, :w] *= step <= tolerance
    return smooth


# --- metric ----------------------------------------------------------------------------------


def _pair_error(img_prev: np.ndarray, img_cur: np.ndarray, flow: np.ndarray, valid: np.ndarray) -> float | None:
    """Mean squared RGB error (in [0, 1]) of warp(img_prev) vs img_cur over valid pixels."""
    size = img_cur.shape[:2]
    if flow.shape[:2] != size:  # stylized at another resolution than the input: bring flow to it
        flow = resize_flow(flow, size)
        valid = cv2.resize(valid, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    n = float(valid.sum())
    if n == 0:
        return None  # nothing visible in both (a scene cut): the pair says nothing about stability
    diff = warp_numpy(img_prev.astype(np.float32) / 255.0, flow) - img_cur.astype(np.float32) / 255.0
    return float((np.square(diff).mean(-1) * valid).sum() / n)


def _check_image(img: np.ndarray, what: str) -> None:
    try:
        check_image(img)
    except (BadValueError, BadTypeError) as exc:  # the same kind of error, saying which frames
        raise type(exc)(f"{what} frames must be uint8 RGB (H, W, 3) images: {exc}") from None


def warping_error(input_frames: Iterable[np.ndarray], stylized_frames: Iterable[np.ndarray], *,
                  long_term: int | None = None, flow: str | FlowEstimator = "dis", preset: str = "medium",
                  ground_truth: GroundTruthFlow | str | Path | None = None,
                  on_pair: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
                  picture=None) -> dict:
    """Warping error of ``stylized_frames`` given the motion of ``input_frames``.

    Args:
        input_frames, stylized_frames: iterables of uint8 RGB (H, W, 3) frames, consumed in step
            (streaming: only ``long_term + 1`` frames are held). Extra frames of the longer one
            are ignored; the count compared is reported as ``frames``.
        long_term: also compare frame t with t-K (``warping_error_long_term``).
        flow: a flow backend name or a :class:`FlowEstimator` (estimated on the input frames).
        preset: DIS preset when ``flow`` is ``dis``.
        ground_truth: a :class:`GroundTruthFlow` (or its path) to use instead of estimated flow.
        on_pair: called as ``on_pair(t, input_frame, stylized_frame)`` with each pair compared, so
            other scores can be taken in the same pass over two videos (``vidstyle eval --painting``).
        picture: the input's :class:`~vidstyle.letterbox.PictureArea` between black bars: only its
            pixels are scored (bars, still and black in every frame, lowered the errors by their
            share of the frame: a third of it, 0.66x). From the first input frame whose picture
            reaches into them (:meth:`~vidstyle.letterbox.PictureArea.holds`), whole frames are
            scored, as ``vidstyle stylize`` paints whole frames from there.
    Returns:
        dict with ``frames``, ``warping_error``, ``warping_error_long_term`` (None without
        ``long_term``), ``input_warping_error``, ``input_warping_error_long_term``, ``k``, ``flow``
        (``dis`` | backend name | ``ground_truth``), ``flow_preset`` (DIS's preset, else None), ``pairs``,
        ``cut_pairs`` (pairs left out as scene cuts, by the stabilizer's test: two shots say
        nothing of one's stability; none with ground truth), ``valid_fraction``. The errors are
        None when no pair had a visible pixel (e.g. a single frame). With ``picture``, also
        ``bars_until_frame``: the frame from which whole frames were scored, or None.
    """
    check_number("long_term", long_term, "a whole number of frames", integral=True)
    if long_term is not None and not 2 <= long_term <= MAX_LONG_TERM:
        raise BadValueError(f"--long-term must be 2 to {MAX_LONG_TERM} frames, got {long_term}")
    if isinstance(ground_truth, (str, Path)):
        ground_truth = GroundTruthFlow(ground_truth)
    if ground_truth is not None:
        estimator, flow_name = None, "ground_truth"
    elif isinstance(flow, FlowEstimator):
        estimator, flow_name = flow, flow.name
    else:
        estimator = create_flow_estimator(flow, **({"preset": preset} if flow == "dis" else {}))
        flow_name = flow

    def flow_and_mask(t: int, k: int, cur_in: np.ndarray, prev_in: np.ndarray):
        if ground_truth is not None:
            backward, valid = ground_truth.flow_to(t, k)
        else:
            backward, forward = estimator(cur_in, prev_in), estimator(prev_in, cur_in)
            valid = valid_mask_numpy(backward, forward, motion_boundaries=False)
        return backward, valid

    picture_until, picture_given = None, picture is not None  # the first frame whose picture reaches into the bars
    picture_mask = None  # 1 over the picture, 0 over the bars (at the input's size, which never changes)
    if picture is not None:
        picture_mask = np.zeros(picture.size, np.float32)
        picture_mask[picture.top:picture.bottom, picture.left:picture.right] = 1
    # the history --long-term keeps (K + 1 frames of each video, up to 10 000) goes in half the
    # memory, or the run stops: past it the system killed it without a word, after minutes of reading
    memory_total, memory_said = usable_memory(physical_memory(), cgroup_memory_limit())
    room = None  # frames of history that fit (settled at the first frame, from its size)
    errors: dict[str, list[float]] = {"short": [], "long": [], "short_in": [], "long_in": []}
    valid_fractions: list[float] = []
    cuts, last_cut = 0, None  # scene cuts met, and the frame the latest one opened
    history: deque = deque(maxlen=(long_term or 1) + 1)
    frames, sizes = 0, None
    for t, (inp, sty) in enumerate(zip(input_frames, stylized_frames)):
        _check_image(inp, "input")
        _check_image(sty, "stylized")
        (h, w), (hs, ws) = inp.shape[:2], sty.shape[:2]
        if t == 0:
            sizes = (inp.shape, sty.shape)
        elif (inp.shape, sty.shape) != sizes:
            raise VidstyleError(f"frame {t} changes size ({w}x{h} input, {ws}x{hs} stylized, from "
                                f"{sizes[0][1]}x{sizes[0][0]} and {sizes[1][1]}x{sizes[1][0]}): "
                                "the warping error needs one size per video")
        if picture is not None:
            if t == 0 and inp.shape[:2] != picture.size:
                raise VidstyleError(f"the picture area is of {picture.size[1]}x{picture.size[0]} frames, "
                                    f"not of the input's {w}x{h}")
            if not picture.holds(inp):
                # the picture reaches into the bars (a title card, a wider shot): scored whole from
                # here, for good, as vidstyle stylize paints whole frames from there
                picture, picture_until = None, t
        if t == 0 and not same_shape((w, h), (ws, hs)):
            # another size is fine (flow is resized to it), another shape means another video
            raise VidstyleError(f"the stylized frames ({ws}x{hs}) do not have the input's aspect ratio ({w}x{h}): "
                                "is it a stylization of this input?")
        if ground_truth is not None and (t >= ground_truth.frames or inp.shape[:2] != ground_truth.size):
            raise VidstyleError(f"ground truth {ground_truth.path} covers {ground_truth.frames} frames of "
                                f"{ground_truth.size[1]}x{ground_truth.size[0]}, not this video")
        # the input's own error is measured at the stylized size too (a floor is only a floor at
        # one size): each input frame is resized once, when it arrives
        # (interpolated when enlarged: area resizing repeats pixels then, and its steps flicker
        # under a moving flow, which raised the input's floor 40x above a smooth stylization's)
        inp_scored = resize_frame(inp, (sty.shape[1], sty.shape[0]))
        if on_pair is not None:
            on_pair(t, inp, sty)
        history.append((inp, sty, inp_scored))
        if t == 0 and long_term and memory_total:
            room = max(2, int(memory_total / 2 // (inp.nbytes + sty.nbytes + inp_scored.nbytes)))
        if room is not None and len(history) > room:
            raise VidstyleError(f"--long-term {long_term} holds {long_term + 1} frames of each video: "
                                f"{(long_term + 1) * (inp.nbytes + sty.nbytes + inp_scored.nbytes) / 2 ** 30:.1f} GiB "
                                f"at {w}x{h}, and {memory_said} {memory_total / 2 ** 30:.1f} GiB: give a smaller "
                                "--long-term")
        frames = t + 1
        for k, key in ((1, "short"), (long_term, "long")):
            if k is None or t < k:
                continue
            prev_in, prev_sty, prev_scored = history[-1 - k]
            if k > 1 and last_cut is not None and last_cut > t - k:
                continue  # the pair spans a cut: two shots (found by the short pairs before)
            fl, valid = flow_and_mask(t, k, inp, prev_in)
            if k == 1:
                # A cut pair is two shots, not one shot's stability: the few pixels that pass the
                # forward-backward check there score errors that swamped the whole clip's (three
                # cuts in 47 pairs made 90% of it), and the input's "floor" above the stylized
                # error. Found as the stabilizer finds them; ground truth flow is one shot's.
                if ground_truth is None and is_scene_cut(warp_numpy(prev_in, fl), inp, fl, valid):
                    cuts, last_cut = cuts + 1, t
                    continue
            if picture is not None:
                # after the cut test, which takes the whole frames, as the stabilizer does: with
                # the bars left out of its valid share, a picture under 30% of the frame was a
                # cut at every pair (no error at all)
                valid = valid * picture_mask
            if k == 1:
                # of the picture, where there are bars: not lowered by the bars left out
                scored = picture_mask.sum() if picture is not None else valid.size
                valid_fractions.append(float(valid.sum() / scored))
            for img_prev, img_cur, name in ((prev_sty, sty, key), (prev_scored, inp_scored, key + "_in")):
                err = _pair_error(img_prev, img_cur, fl, valid)
                if err is not None:
                    errors[name].append(err)

    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    reached = {} if not picture_given else {"bars_until_frame": picture_until}
    return {**reached,
        "frames": frames,
        "warping_error": mean(errors["short"]),
        "warping_error_long_term": mean(errors["long"]) if long_term else None,
        "input_warping_error": mean(errors["short_in"]),
        "input_warping_error_long_term": mean(errors["long_in"]) if long_term else None,
        "k": long_term,
        "flow": flow_name,
        "flow_preset": getattr(estimator, "preset", None),  # DIS's; None for other backends and ground truth
        "pairs": len(errors["short"]),
        "cut_pairs": cuts,
        "valid_fraction": mean(valid_fractions),
        # (width, height) of each; the error depends on the size it is measured at
        "input_size": [sizes[0][1], sizes[0][0]] if sizes else None,
        "stylized_size": [sizes[1][1], sizes[1][0]] if sizes else None,
    }


# --- videos ----------------------------------------------------------------------------------


#: the loss network the style scores are taken under unless told otherwise (see the module docstring)
EVAL_LOSS_NET = "vgg16_hed"


def read_frames(path: str | Path, max_frames: int | None = None, start: float | None = None,
                duration: float | None = None, fps: float | str | None = None) -> Iterator[np.ndarray]:
    """Decode a video's frames as uint8 RGB (H, W, 3) arrays, in order, as ``vidstyle stylize``
    sees them (:class:`~vidstyle.io.decode.VideoDecoder`: display orientation, the colour matrix
    players use), so an input and its stylization line up even when the input has a rotation tag;
    ``start``/``duration``: the segment ``vidstyle stylize --start/--duration`` reads; ``fps``: the
    rate a folder of numbered frames plays at (``--fps``; default 24), which places that segment."""
    # here: the frames are read lazily, and the error belongs to the call ("3" was a bare TypeError
    # at the first frame, 2.5 read 3 frames and 0 none)
    check_frame_count("max_frames", max_frames)
    return _read_frames(path, max_frames, start, duration, times=None, fps=fps)


def _read_frames(path: str | Path, max_frames: int | None, start: float | None, duration: float | None,
                 times: list[Fraction] | None, fps=None) -> Iterator[np.ndarray]:
    """:func:`read_frames`, appending each frame's time (seconds, as the decoder shifted it) to
    ``times`` when that is a list."""
    from vidstyle.io.decode import DecodedFrame, VideoDecoder

    with VideoDecoder(path, start, duration, fps=fps) as decoder:
        frames = (item for item in decoder.read() if isinstance(item, DecodedFrame))
        for i, item in enumerate(frames):
            if max_frames is not None and i >= max_frames:
                return
            if times is not None:
                times.append(item.time)
            yield item.image


class _Counted:
    """An iterator that counts the items it has given."""

    def __init__(self, items: Iterable):
        self._items, self.count = iter(items), 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        self.count += 1
        return item


def evaluate_videos(input_path: str | Path, stylized_path: str | Path, *, long_term: int | None = None,
                    gt_flow: str | Path | None = None, max_frames: int | None = None, flow: str | FlowEstimator = "dis",
                    preset: str = "medium", start: float | None = None, duration: float | None = None,
                    fps: float | str | None = None,
                    on_pair: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> dict:
    """:func:`warping_error` of two video files (the stylized one made from the input one, or with
    ``start``/``duration`` from that segment of it, as ``vidstyle stylize --start/--duration``
    made it; ``fps``: the rate an input folder of numbered frames was stylized at, ``--fps``;
    ``on_pair``: as :func:`warping_error`'s, with each pair of decoded frames)."""
    from vidstyle.io.files import check_named_inputs
    from vidstyle.io.sequence import say_if_fps_unused

    check_frame_count("max_frames", max_frames)
    say_if_fps_unused(fps, Path(input_path))
    check_named_inputs(("input video", input_path), ("stylized video", stylized_path), folders=True)
    segment = start is not None or duration is not None
    if start and gt_flow is not None:  # (a --duration alone starts at the first frame, as the flow does)
        raise VidstyleError("--gt-flow holds the flow of the whole input, from its first frame: it cannot be "
                            "used with a --start")
    # the frames' times as decoded: those of the segment read (--start), on the timeline the
    # decoder made continuous
    input_times, stylized_times = [], []
    inputs = _Counted(_read_frames(input_path, max_frames, start, duration, input_times, fps))
    stylized = _Counted(_read_frames(stylized_path, max_frames, None, None, stylized_times))
    ground_truth = GroundTruthFlow(gt_flow) if isinstance(gt_flow, (str, Path)) else gt_flow
    # black bars, found as vidstyle stylize finds them: left out of the errors (see warping_error).
    # A transparent input's picture is continued under its transparency where the stylized video
    # kept it (its transparent rows were painted); written opaque, their black was kept as bars
    from vidstyle.io.decode import VideoDecoder
    from vidstyle.io.samples import spread_samples_and_chroma
    from vidstyle.letterbox import SAMPLE_FRAMES, find_picture_area

    with VideoDecoder(stylized_path, announce=False) as decoder:
        kept_alpha = decoder.info.alpha
    frames, chroma = spread_samples_and_chroma(input_path, SAMPLE_FRAMES, start, duration, fps,
                                               fill_transparency=kept_alpha)
    picture = find_picture_area(frames, chroma=chroma)
    result = warping_error(inputs, stylized, long_term=long_term, flow=flow, preset=preset, ground_truth=ground_truth,
                           on_pair=on_pair, picture=picture)
    until = result.pop("bars_until_frame", None)  # the picture reached into the bars there
    bars = None if picture is None else picture.bars_text() + (
        "" if until is None else f" until {float(input_times[until]):.2f} s")
    result["bars"] = bars
    if ground_truth is not None and ground_truth.fps and not Path(input_path).is_dir():
        _check_ground_truth_timing(ground_truth, input_path, input_times[:result["frames"]])
    # zip() stops at the shorter stream, after taking one more frame from the input when that is
    # the longer one: count what each gave, and whether anything is left
    for it in (inputs, stylized):
        next(it, None)
    if inputs.count != stylized.count:
        longer = "input" if inputs.count > stylized.count else "stylized"
        n = result["frames"]
        hint = f"--max-frames {n} compares the first {n}"
        if longer == "input" and not segment:  # the likeliest reason: a stylized segment
            hint = (f"if {Path(stylized_path).name} is a segment (stylize --start S --duration D), give eval the "
                    f"same --start and --duration; {hint}")
        elif segment and Path(input_path).is_dir():
            from vidstyle.io.sequence import DEFAULT_SEQUENCE_FPS

            # the segment was placed at another rate than the stylization's: the first frames of the
            # two would be different moments, so --max-frames would only hide that
            hint = (f"the folder's frames are placed in time at {float(fps or DEFAULT_SEQUENCE_FPS):g} frames/s: "
                    "give eval the --fps that vidstyle stylize was given")
            if longer == "stylized":
                hint = f"if {Path(stylized_path).name} is of the whole input, leave out --start and --duration; {hint}"
        elif segment:  # longer == "stylized": shorter segment asked for than was stylized
            hint = f"if {Path(stylized_path).name} is of the whole input, leave out --start and --duration; {hint}"
        raise VidstyleError(f"{input_path} and {stylized_path} have different frame counts "
                            f"(the {longer} video{' segment' if segment and longer == 'input' else ''} is longer "
                            f"than {n} frame{'s' if n != 1 else ''}; {hint})")
    result.update(input=str(input_path), stylized=str(stylized_path), start=start, duration=duration)
    notes = []  # say why a metric is null instead of leaving the reader to guess
    if result["warping_error"] is None:
        notes.append("no frame pair with pixels visible in both frames (fewer than 2 frames, or only scene cuts)")
    if long_term and result["warping_error_long_term"] is None:
        notes.append(f"no long-term pair: the long-term error needs more than {long_term} frames "
                     f"(scored: {result['frames']})")
    if picture is not None:
        notes.append(f"the input's black bars ({bars}) are left out: the errors are the picture's"
                     + ("" if until is None else ", then whole frames', where the picture reached into them"))
    if result["input_size"] != result["stylized_size"]:
        (w, h), (ws, hs) = result["input_size"], result["stylized_size"]
        notes.append(f"the stylized frames ({ws}x{hs}) are not the input's size ({w}x{h}): the errors (the "
                     "input's own too) are measured at the stylized size, where the same flicker scores "
                     "differently; compare them only with errors measured at that size")
        log.warning("%s", notes[-1])
    spans = [_time_span(p, times, result["frames"]) for p, times in ((input_path, input_times),
                                                                      (stylized_path, stylized_times))]
    if None not in spans and abs(spans[0] - spans[1]) > max(Fraction(1, 50) * spans[0],
                                                             spans[0] / max(1, result["frames"] - 1)):
        # frames are paired by their order, not their time: a re-timed stylization (frames dropped
        # or repeated to another rate) pairs each input frame with another moment
        notes.append(f"the first {result['frames']} frames span {float(spans[1]):.3g} s in the stylized video and "
                     f"{float(spans[0]):.3g} s in the input: frames are paired in order, so if frames were dropped "
                     "or repeated the errors compare different moments")
        log.warning("%s", notes[-1])
    result["notes"] = notes  # always there (empty: nothing to add), so a reader's keys are fixed
    return result


def _check_ground_truth_timing(ground_truth: GroundTruthFlow, input_path: str | Path, times: list[Fraction]) -> None:
    """Refuse an input whose frames are not where the ground truth's clip has them (frame t at
    t / fps): a re-timed copy (every other frame, another rate) does not move as its flows say, and
    its errors would be measured against the wrong motion without a word."""
    if len(times) < 2:
        return
    expected = (len(times) - 1) / ground_truth.fps
    span = float(times[-1] - times[0])
    if abs(span - expected) > 0.5 / ground_truth.fps:
        raise VidstyleError(f"{ground_truth.path} holds the motion of a clip at {ground_truth.fps:g} frames/s, but the "
                            f"first {len(times)} frames of {input_path} span {span:.3g} s, not {expected:.3g} s: "
                            "is the input a re-timed copy of that clip?")


def _time_span(path: str | Path, times: list[Fraction], frames: int) -> Fraction | None:
    """Seconds from the first to the ``frames``-th of the frame ``times`` read from ``path``, or
    None when unknown. Timestamps, not the declared rate: variable frame rate files and raw streams
    declare rates their frames do not keep."""
    if Path(path).is_dir():  # an image sequence (vidstyle.io.sequence): no clock of its own
        return None
    if frames < 2 or len(times) < frames:
        return None
    return times[frames - 1] - times[0]


# --- style quality ---------------------------------------------------------------------------

#: frames and painting are both resized to this shorter side before scoring (as in training,
#: where the painting is seen at the crop size)
STYLE_SCORE_SIZE = 256


class StyleScorer:
    """Style and content losses of stylized frames, as the training losses define them.

    Args:
        painting: the style image.
        loss_net: loss network name (``vidstyle.models.lossnets``; default HED's VGG16, the metric of
            the older results, though training now defaults to EfficientNet-Lite0).
        size: frames and painting are resized to this shorter side (pixels).
        weights: converted loss-network weights (else the installed package provides them).

    ``style(frames)`` is the mean relative Gram loss summed over the network's default style layers;
    ``content(stylized, inputs)`` the mean relative feature loss at its content layers. Both are
    unweighted, so 0 is a perfect match and the scale matches ``vidstyle train``'s held-out losses.
    """

    def __init__(self, painting: str | Path, *, loss_net: str = EVAL_LOSS_NET, size: int = STYLE_SCORE_SIZE,
                 weights: str | Path | None = None):
        import torch

        from vidstyle.models.lossnets import default_layers, load_loss_network
        from vidstyle.train.data import load_style_image
        from vidstyle.train.losses import gram_matrix

        self.loss_net, self.size = loss_net, size
        style_layers, self.content_layers = default_layers(loss_net)
        self.style_layers = {k: 1.0 for k in style_layers}
        self.taps = list(dict.fromkeys(list(style_layers) + list(self.content_layers)))
        self.net = load_loss_network(loss_net, self.taps, weights=weights).eval()
        with torch.no_grad():
            feats = self.net(load_style_image(painting, size, scored=True), list(style_layers))
            self.targets = {k: gram_matrix(v) for k, v in feats.items()}

    def _features(self, img: np.ndarray) -> dict:
        """Every tap (style and content layers) of one frame resized to :attr:`size`, in one pass."""
        from vidstyle.frames import images_to_tensor

        h, w = img.shape[:2]
        f = self.size / min(h, w)
        small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))),
                           interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        return self.net(images_to_tensor(small[None]), self.taps)

    def scores(self, stylized: Iterable[np.ndarray], inputs: Iterable[np.ndarray] | None = None) -> dict:
        """Mean ``style_loss`` of uint8 RGB (H, W, 3) frames against the painting; with ``inputs``
        (the frames they were made from) also ``content_loss`` and the inputs' own ``input_style_loss``.
        Each frame goes through the loss network once."""
        pairs = zip(stylized, inputs) if inputs is not None else ((out, None) for out in stylized)
        means, _ = self.score_pairs(pairs)
        return means if inputs is not None else {"style_loss": means["style_loss"]}

    def score_pairs(self, pairs: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> tuple[dict, int]:
        """:meth:`scores` of ``(stylized, input)`` pairs (input None: style only), taken one at a
        time (a video's frames are not held); returns the means and the number of pairs scored."""
        tally = StyleTally(self)
        for out, src in pairs:
            tally.add(out, src)
        return tally.means()

    def score_pair(self, out: np.ndarray, src: np.ndarray | None = None) -> dict:
        """``style_loss`` of one uint8 RGB (H, W, 3) stylized frame; with ``src`` (the frame it was
        made from) also ``content_loss`` and ``input_style_loss``."""
        import torch

        from vidstyle.train.losses import content_loss, style_loss

        # each checked under its own name ("frame frames must be ..." said neither which, nor
        # reached a malformed input before the shape comparison with it)
        _check_image(out, "stylized")
        if src is not None:
            _check_image(src, "input")
        with torch.no_grad():
            fo = self._features(out)
            scores = {"style_loss": float(style_loss(fo, self.targets, self.style_layers))}
            if src is not None:
                if out.shape != src.shape:  # a stylization at another resolution: compare at its size
                    (h, w), (ho, wo) = src.shape[:2], out.shape[:2]
                    if not same_shape((w, h), (wo, ho)):
                        raise VidstyleError(f"stylized frame {wo}x{ho} and input frame {w}x{h} differ in "
                                            "aspect ratio: is it a stylization of this input?")
                    src = resize_frame(src, (wo, ho))
                fs = self._features(src)
                scores["content_loss"] = float(content_loss(fo, fs, self.content_layers))
                scores["input_style_loss"] = float(style_loss(fs, self.targets, self.style_layers))
        return scores

    def style(self, frames: Iterable[np.ndarray]) -> float:
        """Mean style loss of uint8 RGB (H, W, 3) frames against the painting."""
        return self.scores(frames)["style_loss"]

    def content(self, stylized: Iterable[np.ndarray], inputs: Iterable[np.ndarray]) -> float:
        """Mean content loss of stylized frames against the input frames they were made from."""
        return self.scores(stylized, inputs)["content_loss"]


class StyleTally:
    """Running means of a :class:`StyleScorer`'s scores, fed one frame pair at a time (so they can
    be taken while the frames pass by for something else, such as the warping error)."""

    def __init__(self, scorer: StyleScorer):
        self.scorer = scorer
        self._sums = {"style_loss": 0.0, "content_loss": 0.0, "input_style_loss": 0.0}
        self.count = 0

    def add(self, out: np.ndarray, src: np.ndarray | None = None) -> None:
        for key, value in self.scorer.score_pair(out, src).items():
            self._sums[key] += value
        self.count += 1

    def means(self) -> tuple[dict, int]:
        """The mean of each score (content ones 0 when only style was scored) and the pair count."""
        if not self.count:
            raise VidstyleError("no frames to score")
        return {k: v / self.count for k, v in self._sums.items()}, self.count


def evaluate_style(input_path: str | Path, stylized_path: str | Path, painting: str | Path, *,
                   every: int = STYLE_EVERY, max_frames: int | None = None, loss_net: str = EVAL_LOSS_NET,
                   start: float | None = None, duration: float | None = None, fps: float | str | None = None) -> dict:
    """Style loss (vs ``painting``) and content loss (vs the input, or its segment
    ``start``/``duration``; ``fps``: an input folder's rate) of every ``every``-th frame."""
    # before the loss network loads (every=0 was a ZeroDivisionError at the first frame)
    check_frame_count("every", every, optional=False)
    check_frame_count("max_frames", max_frames)
    check_painting(painting)
    scorer = StyleScorer(painting, loss_net=loss_net)
    # a generator: one frame pair at a time (a list held a long video's frames, gigabytes at 1080p)
    pairs = ((out, src) for i, (src, out) in enumerate(zip(read_frames(input_path, max_frames, start, duration, fps),
                                                           read_frames(stylized_path, max_frames)))
             if i % every == 0)
    return _style_result(painting, scorer, *scorer.score_pairs(pairs), every=every)


def _style_result(painting: str | Path, scorer: StyleScorer, means: dict, scored: int, *, every: int) -> dict:
    """``vidstyle eval``'s ``style`` object."""
    return {"painting": str(painting), "loss_net": scorer.loss_net, "size": scorer.size, "frames_scored": scored,
            "every": every, **means}


def check_painting(painting: str | Path) -> None:
    """A VidstyleError when ``painting`` is missing or does not decode (said before slow work)."""
    from vidstyle.io.files import check_file
    from vidstyle.io.images import open_image

    open_image(check_file(painting, "painting"))


# --- the command (parsed in vidstyle.cli) ---------------------------------------------------


def eval_command(args) -> int:
    """``vidstyle eval``, its arguments parsed by :mod:`vidstyle.cli`."""
    tally, every = None, args.style_every or STYLE_EVERY
    check_flow_backend(args.flow_backend, args.flow_weights)
    flow = args.flow_backend
    if args.gt_flow is not None and (args.flow_backend != "dis" or args.flow_weights is not None):
        log.warning("--flow-backend and --flow-weights are ignored with --gt-flow (the ground truth is the flow)")
    elif args.flow_weights is not None:  # (built before the videos are read: a bad file fails first)
        flow = create_flow_estimator(flow, weights=args.flow_weights)
    if args.painting:  # before the (slow) warping error
        check_painting(args.painting)
        tally = StyleTally(StyleScorer(args.painting, loss_net=args.loss_net or EVAL_LOSS_NET))
    else:  # a style setting without the painting to score against would be ignored without a word
        given = [name for name, value in (("--style-every", args.style_every), ("--loss-net", args.loss_net))
                 if value is not None]
        if given:
            log.warning("%s %s the style score, which needs --painting; there is none", " and ".join(given),
                        "set" if len(given) > 1 else "sets")

    def score_style(t: int, src: np.ndarray, out: np.ndarray) -> None:
        # the style scores ride on the warping error's pass, so each video is decoded once
        if t % every == 0:
            tally.add(out, src)

    result = evaluate_videos(args.input, args.stylized, long_term=args.long_term, gt_flow=args.gt_flow,
                             max_frames=args.max_frames, flow=flow, preset=args.flow_preset, start=args.start,
                             duration=args.duration, fps=args.fps, on_pair=score_style if tally else None)
    result["style"] = None if tally is None else _style_result(args.painting, tally.scorer, *tally.means(),
                                                               every=every)
    print(json.dumps({"schema": EVAL_SCHEMA, **result}, indent=2))
    return 0
