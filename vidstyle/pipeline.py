"""The streaming file pipeline: decode -> [flow estimate] -> stylize -> encode.

Each stage runs in its own thread; stages are joined by bounded queues, so memory stays flat
whatever the video length, and decoding/encoding overlap the network. ``None`` travels down
the queues to end the stream. The first exception in any stage sets a shared stop flag; every
other stage notices it at its next queue operation and exits, the caller joins all threads and
re-raises that one exception. A stop (Ctrl-C, a kill) does not wait for a stage inside a network
call or flow estimate whose result it discards (:meth:`_Stages.discardable`). The output is
written to a temporary file that is renamed over the target only on success
(:func:`vidstyle.io.files.atomic_output`).

Audio does not go through the network: the decode stage hands audio packets (or decoded audio
frames, when they must be re-encoded) to the encode stage on a side queue, which muxes them
between video frames so the output stays interleaved.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import queue
import sys
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike, fspath, sep
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import av
import numpy as np

from vidstyle.config import EncodeConfig, StylizeConfig, check_flag, is_number
from vidstyle.errors import (BadTypeError, BadValueError, VidstyleError, counted, printable, termination_as_exit,
                             without_locals)
from vidstyle.frames import fill_transparent, resize_frame, resize_rgba, working_size
from vidstyle.io.codecs import check_encoding, chroma_hint, codec_fits, container_for, ten_bit_hint
from vidstyle.io.decode import AudioItem, DecodedFrame, SubtitleItem, VideoDecoder
from vidstyle.io.samples import sample_frames
from vidstyle.io.display import CHROMA_NAMES, chroma_subsampling, component_bits, downscaled_size
from vidstyle.io.encode import VideoEncoder
from vidstyle.io.sequence import (SequenceWriter, check_frame_pattern, check_sequence_output, find_sequence,
                                  is_sequence_output, say_if_fps_unused)
from vidstyle.io.files import (OUTPUT_FORMATS, HeldOutputFolder, atomic_output, check_input, check_output,
                               check_output_file, ffmpeg_path, file_identity, folder_gone_error, folder_in_use,
                               frame_field, same_file, stop_marked_once_placed)
from vidstyle.io.probe import holds_video
from vidstyle.letterbox import PictureArea, find_picture_area, video_picture_area
from vidstyle.terminal import terminal_bar
from vidstyle.timeline import RunStyle

log = logging.getLogger("vidstyle")

#: The most bytes of frames each of the pipeline's video queues holds, besides at most
#: StylizeConfig.queue_size items (:func:`queue_depth`): 8 items are 5.5 MB of 640x360 frames and 50
#: MB of 1080p ones, which keep their depth, but 200 MB of 4K ones (25 MB each; an item after the
#: flow stage holds its flow too, about 50 MB), in each of up to four queues.
QUEUE_FRAME_BYTES = 64 * 2 ** 20
#: What an item after the flow stage holds besides its frame, per pixel of the frame: the flow
#: (2 float32) and its weight (1 float32) at half the frame's width and height (FlowState)
FLOW_STATE_BYTES_PER_PIXEL = 3
#: Sides the memory check suggests for --max-side and --downscale, the largest that fits
_SMALLER_SIDES = (2560, 1920, 1280, 960, 640)
#: Audio items (packets or decoded frames, about 20-50 a second) the decoder may run ahead of the
#: encoder: some seconds, far more than the frames in flight in the video queues.
AUDIO_QUEUE_ITEMS = 512
_POLL_SECONDS = 0.05  # how often a blocked stage checks the stop flag
#: How often the encode stage looks whether a video output's folder is still where it was
#: (:func:`_folder_watch`): a stat, not per frame.
FOLDER_CHECK_SECONDS = 1.0


@dataclass
class StylizeResult:
    """What :func:`stylize_video` (or :func:`stylize_image`) did.

    ``frames``: the frames written (1 for a still image); ``seconds``: the run's wall-clock time,
    from after the network was loaded (building the call's :class:`Stylizer` is not counted; a
    compile at the first frames is) until the output was written; ``fps``: ``frames / seconds``
    (not the video's frame rate); ``output``: the path written.
    ``stage_seconds`` holds the seconds each stage was busy (not waiting on a queue): ``decode``,
    ``stylize`` (the network), ``encode``, and with ``temporal="flow"`` also ``flow`` (estimation)
    and ``stabilize`` (applying it; on a GPU that is done in the ``stylize`` stage, where the
    frames are: :attr:`Stylizer.stabilizes_on_device`). The slowest stage bounds the throughput.
    """

    frames: int
    seconds: float
    fps: float
    output: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    audio: dict[int, str] = field(default_factory=dict)  # input audio track -> "copy" | "decode"
    subtitles: dict[int, str] = field(default_factory=dict)  # input subtitle track -> "copy" | "convert"
    pix_fmt: str = ""
    still_image: bool = False  # stylize_image's result: one picture, no frame rate
    network: str = ""  # how the network ran, e.g. "cpu bf16 compile, batch 4"
    temporal_strength: float | None = None  # the flow stabilizer's strength; None: it was off
    bars: str = ""  # the letterbox/pillarbox bars kept as they were, e.g. "top 46, bottom 46"; "": none
    sequence: str = ""  # an image-sequence input, e.g. "240 .png frames at 24 fps"; "": a file
    alpha: bool = False  # the input's transparency was written into the output
    tone_mapped: str = ""  # the HDR transfer ("PQ", "HLG") tone-mapped to SDR; "": none was
    downscaled: str = ""  # e.g. "3840x2160 downscaled to 1920x1080"; "": written at the input's size
    styles: str = ""  # a style timeline, e.g. "starry_night, the_scream from 12.5 s (1 s dissolves)"; "": one style
    strength_per_style: bool = False  # the timeline's styles had stabilizer strengths of their own
    mask: str = ""  # the matte the style was mixed in by, e.g. "mask matte.mov" or "inverted mask matte.png"
    pace: str = ""  # which stage held the run back when it was not the network, and what to do (pace_note)

    def summary(self) -> str:
        """One line: frames, seconds, fps, how the network ran and the stabilizer, output path."""
        how = ", ".join(x for x in (self.styles, self.sequence, self.downscaled,
                                    self.tone_mapped and f"{self.tone_mapped} HDR tone-mapped to SDR",
                                    self.network, None if self.temporal_strength is None
                                    else "stabilizer at each style's strength" if self.strength_per_style
                                    else f"stabilizer {self.temporal_strength:g}",
                                    self.bars and f"bars kept: {self.bars}", self.alpha and "alpha kept",
                                    self.mask) if x)
        how = f" [{how}]" if how else ""
        if self.still_image:
            return f"stylized 1 image in {self.seconds:.2f} s{how} -> {self.output}"
        return f"stylized {counted(self.frames, 'frame')} in {self.seconds:.1f} s ({self.fps:.1f} fps){how} -> {self.output}"

    def to_dict(self) -> dict:
        """Every field, as JSON takes it (``vidstyle stylize --stats-json``)."""
        return {**dataclasses.asdict(self), "output": str(self.output)}


#: a stage other than the network is named as the one that set the pace when it was busy this many
#: times as long as the network, over a run of at least PACE_MIN_FRAMES (shorter ones say little)
PACE_MARGIN = 1.25
PACE_MIN_FRAMES = 24
#: x264/x265 (and VP9) presets slower than veryfast, which a slow encode can trade for speed
_SLOW_PRESETS = ("faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
#: x264's fast presets and the ones faster still: for GPU runs, where x264 sets the pace even at
#: veryfast (a 1080p file on an H200: 68 frames/s at veryfast, 150 at ultrafast; RESULTS.md)
_FASTER_STILL = {"veryfast": "superfast or ultrafast", "superfast": "ultrafast"}
#: veryfast against medium for the other CPU encoders, 640x360 stylized frames at crf 18 (2-core Zen
#: 3; benchmarks/RESULTS.md, "VP9's presets"): VP9 71 -> 10 ms a frame in libvpx's real-time mode
#: (vidstyle.io.codecs._VP9_REALTIME_PRESETS), files 1.03x the size; SVT-AV1 28 -> 11, 1.03x
_FASTER_AT_VERYFAST = {"libvpx-vp9": "VP9's real-time mode, about 7x faster than medium",
                       "libsvtav1": "about 2.5x faster than medium"}


def pace_note(busy: dict[str, float], frames: int, encode: EncodeConfig) -> str:
    """A line for the user when a stage other than the network set the run's pace, with the option
    that speeds it up; "" when the network did (or the run was too short to tell).

    ``busy``: seconds each stage was busy (:attr:`StylizeResult.stage_seconds`). On a GPU the
    network is often the fastest stage: an H200 ran the standard network in 13 ms a 1080p frame
    and x264 at --preset medium took 44 ms (benchmarks/RESULTS.md, twenty-ninth session)."""
    network = busy.get("stylize", 0.0)
    if frames < PACE_MIN_FRAMES or not busy:
        return ""
    stage, seconds = max(busy.items(), key=lambda kv: kv[1])
    if stage == "stylize" or seconds < PACE_MARGIN * network:
        return ""
    ms = {name: 1000 * value / frames for name, value in busy.items()}
    line = (f"pace: the {stage} stage was the slowest, {ms[stage]:.0f} ms a frame against the network's "
            f"{ms.get('stylize', 0.0):.0f}")
    if stage == "encode" and encode.codec in ("libx264", "libx265") and (encode.preset or "medium") in _SLOW_PRESETS:
        # medium -> veryfast: 2.9x less encoder CPU a 1080p stylized frame (encoder_presets.py); at
        # the same crf the files come out 3-8% smaller at 0.3-0.5 dB less PSNR, not larger (at the
        # same PSNR they are larger)
        line += ("; --preset veryfast encodes faster (about 3x faster than medium on stylized frames), at "
                 "slightly lower quality for the same --crf")
    elif stage == "encode" and encode.codec == "libx264" and encode.preset in _FASTER_STILL:
        # 640x360 stylized frames at crf 18: superfast 1.15x medium's bytes, ultrafast 1.85x, at
        # 0.1-0.3 dB less PSNR (encoder_presets_ultrafast_s31.json)
        line += (f"; --preset {_FASTER_STILL[encode.preset]} encodes faster still, for larger files at the same "
                 "--crf (ultrafast's about 1.85x medium's on stylized frames)")
    elif stage == "encode" and encode.codec in _FASTER_AT_VERYFAST and (encode.preset or "medium") in _SLOW_PRESETS \
            and not (encode.codec == "libvpx-vp9" and encode.preset == "faster"):  # (real-time mode already)
        line += (f"; --preset veryfast encodes faster ({_FASTER_AT_VERYFAST[encode.codec]} on stylized frames), "
                 "for files a few percent larger at the same --crf")
    elif stage in ("flow", "stabilize"):
        line += "; --temporal off skips the flow stabilizer, for more flicker"
    return line


class _Stopped(Exception):
    """Raised inside a stage when another stage failed (or the caller was interrupted)."""


#: seconds a stage stuck in a long call is still waited for after a second Ctrl-C (see _Stages.join_all)
_GIVE_UP_SECONDS = 5.0


class _Stages:
    """Threads, bounded queues, a stop flag and the first error."""

    def __init__(self, queue_size: int):
        self.queue_size = queue_size
        self.stop = threading.Event()
        self.busy: dict[str, float] = defaultdict(float)
        self._error: tuple[str, BaseException] | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # after a Ctrl-C during join_all: until when a stuck stage is still waited for, by that
        # call and by any after it (see join_all)
        self._patience: float | None = None
        # the threads inside a call whose result a stop throws away (see discardable)
        self._discardable: set[int] = set()

    def queue(self, size: int | None = None) -> queue.Queue:
        return queue.Queue(maxsize=size or self.queue_size)

    def put(self, q: queue.Queue, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue, idle: Callable[[], None] | None = None) -> Any:
        """The next item of ``q``; ``idle`` runs whenever a poll finds it empty."""
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if idle is not None:
                    idle()

    @contextlib.contextmanager
    def timed(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.busy[stage] += time.perf_counter() - t0

    @contextlib.contextmanager
    def discardable(self):
        """Around a stage's call whose result only goes on to the next stage (the network's batch,
        a pair's flow), which touches no file: a stop (:meth:`join_all`) does not wait for it, and
        the stage ends as it returns, doing nothing more. Waited for, such a call held a stopped
        run for as long as it ran on: a standard network's frame in bf16 on a CPU without native
        bf16 (20 s and more), a cold ``torch.compile``, RAFT's flow at 1080p. A C++ op or the
        compiler under way cannot be cut short (an exception sent to the thread, as
        :class:`vidstyle.live.NetworkThread` sends one, comes after it); the command line's
        process ends without waiting for its daemon threads."""
        me = threading.get_ident()
        with self._lock:
            self._discardable.add(me)
        try:
            yield
        finally:
            with self._lock:
                self._discardable.discard(me)
            if self.stop.is_set():  # given up on, or to be: nothing the call made goes anywhere
                raise _Stopped

    def _discarded(self, thread: threading.Thread) -> bool:
        """Whether ``thread`` is inside a :meth:`discardable` call once the stop is set: it then
        does nothing more after the call (it sees the stop as the call returns)."""
        with self._lock:
            return self.stop.is_set() and thread.ident in self._discardable

    def fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = (stage, exc)
        self.stop.set()

    def start(self, stage: str, fn: Callable, *args) -> None:
        done = threading.Event()
        # the stage's arguments as the thread's, which it lets go of when it ends: not in a
        # closure, which the run's frames in an error's traceback keep even cleared (a frame keeps
        # its function), and with it the decoder, the encoder and their FFmpeg threads
        thread = threading.Thread(target=self._run, args=(stage, done, fn, *args), name=f"vidstyle-{stage}",
                                  daemon=True)
        thread.done = done
        self._threads.append(thread)
        thread.start()

    def _run(self, stage: str, done: threading.Event, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.fail(stage, exc)
        finally:
            done.set()

    def _wait_for(self, thread: threading.Thread, timeout: float | None = None, discard: bool = False) -> bool:
        """Wait until ``thread``'s stage function has returned, or with ``discard`` (a stop) until
        it is inside a :meth:`discardable` call. Its own event, not Thread.join: a Ctrl-C landing
        inside join() on Python 3.11 and older marks a running thread as ended (CPython issue
        90882), and the clean-up would then close files the stage still uses."""
        if thread.ident is None:  # created, never started (a signal came in between): nothing runs
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while not thread.done.wait(_POLL_SECONDS if deadline is None
                                   else min(_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if discard and self._discarded(thread):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
        thread.join(1.0)  # only its return is left: gone when the call returns, not an instant later
        return True

    def wait(self) -> None:
        """Join every stage; on Ctrl-C/termination stop them all first. Re-raise the first error."""
        try:
            for thread in self._threads:
                while not self._wait_for(thread, _POLL_SECONDS * 2):
                    pass
        except BaseException:
            self.stop.set()
            self.join_all()
            raise
        if self._error is not None:
            (stage, exc), self._error = self._error, None
            if not isinstance(exc, VidstyleError) and hasattr(exc, "add_note"):  # add_note: Python 3.11+
                exc.add_note(f"(raised in the {stage} stage of the vidstyle pipeline)")
            # neither this frame nor the stages (both in its traceback) keep the error: that cycle
            # kept the run's decoders, their FFmpeg threads and frames alive after the caller had
            # dropped the error, until the garbage collector happened to run (threads piled up
            # over failed or cancelled runs)
            try:
                raise exc
            finally:
                del exc

    def still_running(self, stage: str) -> list[threading.Thread]:
        """``stage``'s thread where its function has not returned: after :meth:`join_all`, one a
        stop left inside a :meth:`discardable` call."""
        return [t for t in self._threads if t.name == f"vidstyle-{stage}" and t.ident is not None
                and not t.done.is_set()]

    def join_all(self) -> None:
        self.stop.set()
        for thread in self._threads:
            # the files the stages use are closed after this: a second Ctrl-C does not skip the
            # wait, but a stage stuck in a long call is given up on after a few seconds, and not
            # waited for again by a later call (a run's clean-up joins the stages that wait() has
            # joined already: it waited for the stuck stage without end, until a third Ctrl-C)
            while True:
                try:
                    if self._patience is None:
                        self._wait_for(thread, discard=True)
                    else:
                        self._wait_for(thread, max(0.0, self._patience - time.monotonic()), discard=True)
                    break
                except KeyboardInterrupt:
                    if self._patience is not None and time.monotonic() >= self._patience:
                        raise
                    self._patience = self._patience or time.monotonic() + _GIVE_UP_SECONDS


#: the stylize stages a stop left inside a network call (_Stages.discardable), each with the id of
#: the network it calls (see _wait_for_calls_left). Not the network itself: kept here, it outlived
#: the call and the caller's last reference (a GPU network's memory); the thread holds it until its
#: call ends, so the id names no other object while the thread runs.
_CALLS_LEFT: list[tuple[int, threading.Thread]] = []
_CALLS_LEFT_LOCK = threading.Lock()


def _forget_calls_ended() -> None:
    """Drop the calls of :data:`_CALLS_LEFT` that have returned (with its lock held)."""
    _CALLS_LEFT[:] = [(s, t) for s, t in _CALLS_LEFT if not t.done.is_set()]


def _leave_calls(stylizer, threads: list[threading.Thread]) -> None:
    """Note ``threads``, a stopped run's stylize stage still inside a call of ``stylizer``."""
    with _CALLS_LEFT_LOCK:
        _forget_calls_ended()
        _CALLS_LEFT.extend((id(stylizer), thread) for thread in threads)


def _wait_for_calls_left(stylizer) -> None:
    """Wait until the network calls that stopped runs left running on ``stylizer`` have
    returned, before this run uses it. A program that caught the Ctrl-C and stylized again at once
    with the same network otherwise ran it from two threads: a user's object made for one caller
    at a time, an int8 network calibrated for the new video while the old call built its graph
    from the old one's frames, a timeline's shared network switched to another blend mid-call."""
    with _CALLS_LEFT_LOCK:
        _forget_calls_ended()
        threads = [t for s, t in _CALLS_LEFT if s == id(stylizer)]
    if threads:
        log.info("waiting for the network call a stopped run left under way")
    for thread in threads:  # (its own event, not join(): see _Stages._wait_for)
        while not thread.done.wait(_POLL_SECONDS):
            pass


# --- the stages ----------------------------------------------------------------------------

def _decode_stage(stages: _Stages, decoder: VideoDecoder, encoder, frames_out: queue.Queue,
                  audio_out: queue.Queue) -> None:
    """Decode for ``encoder`` (a :class:`VideoEncoder` or :class:`SequenceWriter`): frames (with
    transparency when it keeps it), and the audio and subtitle tracks it keeps, on ``audio_out``."""
    items = decoder.read(encoder.audio_modes, alpha=encoder.alpha, subtitles=encoder.subtitle_modes)
    while True:
        with stages.timed("decode"):
            item = next(items, None)
        if item is None:
            break
        if isinstance(item, (AudioItem, SubtitleItem)):
            stages.put(audio_out, item)  # bounded too: the encoder relieves it (see _encode_stage)
        else:
            stages.put(frames_out, item)
    # here, as the reading ends: before the end reaches the encoder, whose finish() puts numbered
    # frames in place (checked after the stages, a failed run left them written)
    changed = decoder.changed_while_read()
    if changed:
        raise VidstyleError(changed)
    stages.put(audio_out, None)
    stages.put(frames_out, None)


def _flow_stage(stages: _Stages, stabilizer, frames_in: queue.Queue, frames_out: queue.Queue,
                workers: int = 1) -> None:
    """Estimate motion between consecutive *input* frames, ahead of (and overlapping) the network.

    With ``workers`` > 1, that many pairs are estimated at once on a thread pool (each pair needs
    only its two frames; :func:`vidstyle.flow.stabilizer.flow_workers`), and handed on in frame
    order. The stage's busy time is then the time it waited for the oldest pair: what it held the
    next stage up."""
    previous: DecodedFrame | None = None
    if workers <= 1:
        while (frame := stages.get(frames_in)) is not None:
            with stages.timed("flow"), stages.discardable():
                state = None if previous is None else stabilizer.estimate(previous.image, frame.image)
            stages.put(frames_out, (frame, state))
            previous = frame
        stages.put(frames_out, None)
        return
    pending: deque = deque()  # (frame, its pair's Future or None), oldest first
    pool = ThreadPoolExecutor(workers, thread_name_prefix="vidstyle-flow")

    def hand_on_oldest() -> None:
        frame, future = pending.popleft()
        with stages.timed("flow"), stages.discardable():
            state = None if future is None else future.result()  # (re-raises the pair's error)
        stages.put(frames_out, (frame, state))

    def hand_on_ready() -> None:  # (also while the decoder is slower: the frames wait for nothing)
        while pending and (pending[0][1] is None or pending[0][1].done()):
            hand_on_oldest()

    try:
        while (frame := stages.get(frames_in, idle=hand_on_ready)) is not None:
            pending.append((frame, None if previous is None
                            else pool.submit(stabilizer.estimate, previous.image, frame.image)))
            previous = frame
            while len(pending) > workers:
                hand_on_oldest()
            hand_on_ready()
        while pending:
            hand_on_oldest()
        stages.put(frames_out, None)
    finally:  # pairs not started are dropped; running ones (milliseconds) end before the stage does
        pool.shutdown(wait=True, cancel_futures=True)


def _stylize_stage(stages: _Stages, stylizer, batch: int, frames_in: queue.Queue, frames_out: queue.Queue,
                   area: PictureArea | None = None, bars_until: list | None = None,
                   clock: Fraction = Fraction(0), mix: Callable | None = None, keep_input: bool = False,
                   yuv420: int | None = None, stabilizer=None) -> None:
    """Run the network on batches; passes each frame's flow state (or None) and transparency (or
    None) on with its image (with ``yuv420``, a matrix: the image in yuv420p, made where the
    network runs, for an encoder that takes it; see :attr:`VideoEncoder.yuv420_matrix`).

    With ``area``, only the picture inside the bars is stylized (see :func:`_stylize_picture`);
    the time whole frames are stylized from, if the picture reaches into them, is appended to
    ``bars_until``. A :class:`~vidstyle.timeline.TimelineStylizer` paints each frame at its time
    on the input's clock (the frame's time plus ``clock``); across a cut from one style to the
    next the flow state is dropped, so the stabilizer starts over instead of blending the old
    style's output into the new one's. ``mix(image, input_image, pts)``: a matte's mix of each
    stylized frame with its input frame (:mod:`vidstyle.mask`), made here when no stabilizer
    follows; ``keep_input``: pass the input frame on for a later stage's mix. ``stabilizer``: the
    flow stabilizer, applied here, where the network runs (:attr:`Stylizer.stabilizes_on_device`),
    with the flow states that came with the frames; no stabilize stage follows."""
    timeline = hasattr(stylizer, "stylize_batch_at")
    last_time: float | None = None
    ended = False
    held = None  # (items, finish) of a batch still on the device (CUDA): passed on after the next one is queued

    def pass_on(items: list, finish: Callable[[], list]) -> None:
        with stages.timed("stylize"), stages.discardable():
            styled = finish()
        for (frame, state), image in zip(items, styled):
            if mix is not None:
                with stages.timed("stylize"):
                    image = mix(image, frame.image, frame.pts)
            stages.put(frames_out, (image, frame.pts, frame.duration, state, frame.alpha,
                                    frame.image if keep_input else None))

    while not ended:
        items = []
        while len(items) < batch:
            item = stages.get(frames_in)
            if item is None:
                ended = True
                break
            items.append(item if isinstance(item, tuple) else (item, None))
        if not items:
            break
        frames = [f for f, _ in items]
        times = None
        if timeline:
            times = [float(f.time + clock) for f in frames]
            for k, t in enumerate(times):
                if last_time is not None and not stylizer.continuous(last_time, t):
                    items[k] = (items[k][0], None)
                last_time = t
        with stages.timed("stylize"):
            # where the output keeps the transparency, the network sees no edge where it begins
            images = [f.image if f.alpha is None else fill_transparent(f.image, f.alpha) for f in frames]
            cut = len(frames)  # frames before this one keep the bars
            overlapped = False
            if area is not None:
                cut = next((i for i, f in enumerate(frames) if not area.holds(f.image)), cut)
            if cut == len(frames):
                with stages.discardable():
                    finish, overlapped = _start_picture(stylizer, images, area, times, yuv420, stabilizer,
                                                        [state for _, state in items])
            else:
                # for good: switching back and forth would change the look from frame to frame
                when = float(frames[cut].time + clock)  # on the input's clock, as style changes and the mask
                log.warning("from %.2f s on, the picture reaches into the black bars found on frames spread over "
                            "the video: stylizing whole frames from there", when)
                if bars_until is not None:
                    bars_until.append(when)
                with stages.discardable():
                    styled = [*(_stylize_picture(stylizer, images[:cut], area, times and times[:cut]) if cut else []),
                              *_stylize_picture(stylizer, images[cut:], None, times and times[cut:])]
                finish = styled.copy
                area = None
        if held is not None:
            pass_on(*held)
            held = None
        if overlapped:
            held = (items, finish)
        else:
            pass_on(items, finish)
    if held is not None:
        pass_on(*held)
    stages.put(frames_out, None)


def _stylize_picture(stylizer, images: list, area: PictureArea | None, times: list[float] | None = None):
    """``stylizer.stylize_batch(images)`` (with ``times``, a style timeline's
    ``stylize_batch_at(images, times)``), or with ``area`` the stylized picture pasted between the
    input's own bars."""
    finish, _ = _start_picture(stylizer, images, area, times)
    return finish()


def _start_picture(stylizer, images: list, area: PictureArea | None, times: list[float] | None = None,
                   yuv420: int | None = None, stabilizer=None, states: list | None = None
                   ) -> tuple[Callable[[], list], bool]:
    """:func:`_stylize_picture`, started: (a function that returns its images, whether the work
    goes on meanwhile). A :class:`Stylizer` on CUDA queues the batch (``submit_batch``) and
    returns; other stylizers and devices finish it here. ``yuv420``: ask ``submit_batch`` for
    yuv420p with that matrix (whole frames only); ``stabilizer``: have it applied there too, with
    ``states`` (whole frames only)."""
    crops = images if area is None else [area.crop(i) for i in images]
    if times is None and _submits(stylizer):
        extra = {} if yuv420 is None else {"yuv420": yuv420}
        if stabilizer is not None:
            extra.update(stabilizer=stabilizer, states=states)
        pending = stylizer.submit_batch(crops, **extra)
        overlapped = pending.overlapped
        results = pending.result
    else:
        done = stylizer.stylize_batch(crops) if times is None else stylizer.stylize_batch_at(crops, times)
        overlapped, results = False, lambda: done

    def finish() -> list:
        pictures = _checked(results(), crops, yuv420 is not None)
        return pictures if area is None else [area.paste(i, p) for i, p in zip(images, pictures)]
    return finish, overlapped


def _submits(stylizer) -> bool:
    """Whether ``stylizer``'s class has ``submit_batch`` (a :class:`Stylizer`): an object that only
    forwards attributes to one (``__getattr__``) is called through its own ``stylize_batch``."""
    return callable(getattr(type(stylizer), "submit_batch", None))


def _checked(outputs, inputs: list, yuv420: bool = False) -> list:
    """``outputs`` if they are one uint8 (H, W, 3) image per input, each its input's size (with
    ``yuv420``, (H * 3 / 2, W) yuv420p frames): a stylizer object of the caller's that returns
    anything else is named as the cause here, not blamed on the video by the encoder later."""
    outputs = list(outputs)
    if len(outputs) != len(inputs):
        raise VidstyleError(f"the stylizer returned {len(outputs)} images for {len(inputs)} frames")
    for out, inp in zip(outputs, inputs):
        shape = (inp.shape[0] * 3 // 2, inp.shape[1]) if yuv420 else inp.shape
        if not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == shape):
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise VidstyleError(f"the stylizer returned {got} for a frame of {inp.shape}: it must return uint8 "
                                "(H, W, 3) images of the frames' size")
    return outputs


def _stabilize_stage(stages: _Stages, stabilizer, frames_in: queue.Queue, frames_out: queue.Queue,
                     strength_at: Callable[[int], float] | None = None, mix: Callable | None = None,
                     before: Callable | None = None) -> None:
    """Blend each stylized frame with the warped previous output, in frame order (it carries the
    previous output). Its own thread, so the blending overlaps the network's next batch instead of
    holding up the network's thread. ``strength_at(pts)``: the strength for each frame (a style
    timeline's styles each have their own), else the stabilizer's. ``mix``: a matte's mix with
    the input frame (see :func:`_stylize_stage`), after the blend, so the input's own pixels come
    out as they went in. ``before(image, pts)``: what is done to each frame before the blend
    (kept bars filled from the picture's edges)."""
    while (item := stages.get(frames_in)) is not None:
        image, pts, duration, state, alpha, original = item
        if strength_at is not None:
            stabilizer.strength = strength_at(pts)
        with stages.timed("stabilize"):
            if before is not None:
                image = before(image, pts)
            image = stabilizer.apply(image, state)
            if mix is not None:
                image = mix(image, original, pts)
        stages.put(frames_out, (image, pts, duration, None, alpha, None))
    stages.put(frames_out, None)


def _encode_stage(stages: _Stages, encoder: VideoEncoder, frames_in: queue.Queue, audio_in: queue.Queue,
                  on_frame: Callable[[], None], check_folder: Callable[[], None] = lambda: None) -> None:
    """Write the frames and sound that come in; ``check_folder`` (:func:`_folder_watch`) runs
    before each frame is written."""
    audio_open = True

    def write_audio(item: AudioItem | SubtitleItem | None) -> None:
        nonlocal audio_open
        if item is None:  # the decoder's end of audio (and subtitles)
            audio_open = False
            return
        with stages.timed("encode"):
            encoder.write_audio(item)

    def drain_audio(block: bool) -> None:
        while audio_open:
            try:
                write_audio(stages.get(audio_in) if block else audio_in.get_nowait())
            except queue.Empty:
                return

    def relieve_audio() -> None:
        # Audio is written as video frames arrive, so the file interleaves the two closely. A
        # video stream with few frames (one still image over an hour of music) would otherwise
        # hold all the audio in memory, or, with the audio queue bounded, stall the decoder behind
        # it: while waiting for a frame, write audio once its queue is half full.
        while audio_open and audio_in.qsize() >= AUDIO_QUEUE_ITEMS // 2:
            write_audio(audio_in.get_nowait())

    while True:
        item = stages.get(frames_in, idle=relieve_audio)
        drain_audio(block=False)
        if item is None:
            break
        image, pts, duration, _, alpha, _ = item
        check_folder()
        with stages.timed("encode"):
            encoder.write(image, pts, duration, alpha)
        on_frame()
    drain_audio(block=True)
    with stages.timed("encode"):
        encoder.finish()


# --- building blocks -----------------------------------------------------------------------

_STYLIZE_FIELDS = {f.name for f in dataclasses.fields(StylizeConfig)}
#: keyword options that switch an EncodeConfig field off, as the command line's --no-audio does
_NEGATED_OPTIONS = ("no_audio", "no_subtitles")
_ENCODE_FIELDS = {f.name for f in dataclasses.fields(EncodeConfig)}


#: What a config field's annotation admits (``int | None`` etc.; NumPy numbers and bools too,
#: Python's bools not as numbers: :func:`~vidstyle.config.is_number`), and the plain Python
#: value it is stored as, so the code downstream (Fraction, JSON, ...) sees no NumPy scalar.
_OPTION_TYPES = {"int": (lambda v: is_number(v, integral=True), int), "float": (is_number, float),
                 "str": (lambda v: isinstance(v, str), str),
                 "os.PathLike": (lambda v: isinstance(v, PathLike), fspath),
                 "bool": (lambda v: isinstance(v, (bool, np.bool_)), bool)}


def _checked_options(options: dict) -> dict:
    """``options`` as plain Python values; keyword options of the wrong type (``crf="20"``,
    ``batch=2.5``) are refused with one clear line, instead of a TypeError deep inside, or a
    silently different run."""
    fields = {f.name: f.type for cls in (StylizeConfig, EncodeConfig) for f in dataclasses.fields(cls)}
    checked = {}
    for name, value in options.items():
        checked[name] = value
        if name == "device" and isinstance(value, _torch_device_type()):
            continue  # a torch.device is taken as well as its name
        kinds = [k.strip() for k in str(fields[name]).split("|")]
        if value is None and "None" in kinds:
            continue
        kind = next((k for k in kinds if k in _OPTION_TYPES and _OPTION_TYPES[k][0](value)), None)
        if kind is None:
            raise BadTypeError(f"{name} must be {' or '.join(kinds)}, got {value!r}")
        try:
            checked[name] = _OPTION_TYPES[kind][1](value)
        except OverflowError:  # a whole number past any float: the config's own check names it
            pass
    return checked


def _torch_device_type() -> type:
    """``torch.device`` when torch is imported already, else a type nothing is an instance of."""
    torch = sys.modules.get("torch")
    return torch.device if torch is not None else type("NoTorch", (), {})


def _merge_options(config: StylizeConfig | None, encode: EncodeConfig | None,
                   options: dict, caller: str = "stylize_video",
                   encoding: bool = True) -> tuple[StylizeConfig, EncodeConfig]:
    """Apply plain keyword options (``batch=2, crf=20, no_audio=True``) onto the two configs;
    without ``encoding`` (a still image) the encoder's options are not among the valid ones."""
    for name, value, cls in (("config", config, StylizeConfig), ("encode", encode, EncodeConfig)):
        if value is not None and not isinstance(value, cls):  # dataclasses.replace would say "dataclass instances"
            raise BadTypeError(f"{caller}() takes {name}= as a vidstyle.{cls.__name__} (or None), got "
                            f"{type(value).__name__}; give options as keywords instead, e.g. {caller}(..., batch=2)")
    options = dict(options)
    for negated in _NEGATED_OPTIONS:
        if negated in options and negated.removeprefix("no_") in options:  # audio=True, no_audio=True
            raise BadTypeError(f"{caller}() got both {negated.removeprefix('no_')}= and {negated}=; give one")
        if negated in options:
            options[negated.removeprefix("no_")] = not check_flag(negated, options.pop(negated))  # "no" is no True
    valid = _STYLIZE_FIELDS | (_ENCODE_FIELDS | set(_NEGATED_OPTIONS) if encoding else set())
    unknown = set(options) - valid
    if unknown:
        raise BadTypeError(f"{caller}() got unknown option(s) {', '.join(sorted(unknown))}; "
                        f"valid: {', '.join(sorted(valid))}")
    options = _checked_options(options)
    config = dataclasses.replace(config or StylizeConfig(),
                                 **{k: v for k, v in options.items() if k in _STYLIZE_FIELDS})
    encode = dataclasses.replace(encode or EncodeConfig(),
                                 **{k: v for k, v in options.items() if k in _ENCODE_FIELDS})
    return config, encode  # (StylizeConfig checks its own values)


def _check_call(caller: str, output, overwrite, progress):
    """The arguments every stylize_* function takes besides its input (checked by check_input):
    a wrong kind is a BadTypeError naming the argument, not a TypeError from deep in pathlib, or
    "yes" taken as true. Returns ``progress``, a flag as a plain bool (NumPy's too, as every flag)."""
    from vidstyle.config import check_callback, check_flag

    if not isinstance(output, (str, PathLike)):
        raise BadTypeError(f"the output of {caller}() is a path (str or pathlib.Path), got {output!r}")
    check_flag("overwrite", overwrite)
    if callable(progress):
        # (called from the encoding thread: a wrong signature stopped the run at the first frame)
        check_callback("progress", progress, "progress(done, total), two arguments (total may be None)", 0, None)
        return progress
    try:
        return check_flag("progress", progress)
    except BadTypeError:
        raise BadTypeError(f"progress must be True, False or a function progress(done, total), "
                           f"got {progress!r}") from None


def _check_not_the_mask(output: str | Path, config: StylizeConfig) -> None:
    """The matte is an input too: never the output file that would replace it, nor, for a folder
    of matte frames, numbered output frames written into that folder."""
    from vidstyle.io.files import same_file

    if config.mask is None:
        return
    mask = Path(config.mask)
    if mask.is_file() and same_file(mask, Path(output)):
        raise VidstyleError(f"output {output} is the --mask file {config.mask}; choose another output path")
    if mask.is_dir() and is_sequence_output(output) and same_file(mask, Path(output).parent):
        raise VidstyleError(f"output frames {output} would be written into the --mask folder {config.mask}; "
                            "choose another folder")


def _check_ready_stylizer(stylizer, config: StylizeConfig) -> None:
    """A ready stylizer is used as built: a closed one is refused (:meth:`Stylizer.close`), and a
    style_strength or keep_colors asked of the run that it was not built with is an error, rather
    than silently ignored."""
    check_open = getattr(stylizer, "_check_open", None)
    if check_open is not None:
        check_open()
    asked = (config.style_strength, config.keep_colors)
    if asked != (StylizeConfig.style_strength, StylizeConfig.keep_colors):
        built = (getattr(stylizer, "style_strength", None), getattr(stylizer, "keep_colors", None))
        if built != asked:
            raise VidstyleError(f"style_strength={config.style_strength:g}, keep_colors={config.keep_colors} "
                                "do not apply to a ready stylizer: set them with its set_look() or when "
                                "building it")


def _check_ready_stylizers(style, config: StylizeConfig) -> None:
    """:func:`_check_ready_stylizer` of ``style`` if it is a ready stylizer, or of each one a
    :class:`~vidstyle.timeline.StyleTimeline` holds (used as built, as one alone is)."""
    from vidstyle.timeline import StyleTimeline, is_ready_stylizer

    for one in ([c.style for c in style.changes] if isinstance(style, StyleTimeline) else [style]):
        if is_ready_stylizer(one):
            _check_ready_stylizer(one, config)


def _make_stylizer(style, config: StylizeConfig):
    """``style`` may already be a Stylizer (anything with ``stylize_batch``); else build one, or
    for a :class:`~vidstyle.timeline.StyleTimeline` (or a list of its (seconds, style) pairs) a
    :class:`~vidstyle.timeline.TimelineStylizer` with one Stylizer per style."""
    from vidstyle.timeline import StyleTimeline, TimelineStylizer, is_ready_stylizer

    if isinstance(style, (list, tuple)):
        style = StyleTimeline(style)
    _check_ready_stylizers(style, config)
    if isinstance(style, StyleTimeline):
        return TimelineStylizer(style, lambda spec: _make_stylizer(spec, config))
    if is_ready_stylizer(style):
        return style
    from vidstyle.stylizer import Stylizer  # torch is imported only when a video is processed

    return Stylizer(style, device=config.device, precision=config.precision, channels_last=config.channels_last,
                    max_side=config.max_side, scale=config.scale, backend=config.backend,
                    style_strength=config.style_strength, keep_colors=config.keep_colors)


def _describe(stylizer, batch: int | None) -> str:
    """``cpu bf16 compile, batch 4`` for a Stylizer; what is known for other stylize_batch objects.
    ``batch`` None: a still image, one network call, where a batch size says nothing."""
    device = getattr(stylizer, "device", None)
    parts = [str(device) if device is not None else "", getattr(stylizer, "precision", ""),
             getattr(stylizer, "backend", "")]
    look = [f"style {stylizer.style_strength:g}" if getattr(stylizer, "style_strength", 1.0) < 1.0 else "",
            "input's colours" if getattr(stylizer, "keep_colors", False) else ""]
    runtime = " ".join(p for p in parts if p)
    return ", ".join(x for x in (runtime, f"batch {batch}" if batch is not None else "", *look) if x)


#: On the CPU, the most frame pixels one call of a reduced-resolution network gets: two 720p frames.
#: Bigger batches of big frames outgrow the caches (light network, eager bf16, 2 cores,
#: benchmarks/batch_by_size.py: at 1080p batch 4 ran 6-29% slower than batch 1, at 2160p batch 1
#: ran 1.5-1.8x faster than batch 4; at 720p the batch made no difference beyond noise, and at 360p
#: batch 4 helps, see the docstring below).
CPU_BATCH_PIXELS = 2 * 1280 * 720

#: Frames spread over the input that set an int8 network's activation ranges (--precision int8).
INT8_CALIBRATION_FRAMES = 8


def calibrate_for(stylizer, path: str | Path, start: float | None = None, duration: float | None = None,
                  area: PictureArea | None = None, fps=None, hdr: str = "sdr",
                  fill_transparency: bool = False, downscale: int | None = None,
                  still: np.ndarray | None = None) -> None:
    """Give an int8 :class:`~vidstyle.stylizer.Stylizer` its activation ranges from the video at
    ``path`` (frames spread over the segment; with ``area``, their picture inside the bars; with
    ``fill_transparency``, the picture continued under their transparency, as the network sees
    it when the output keeps the alpha), unless it already has them from that file; other
    stylizers are left alone. A Stylizer reused for another video is calibrated again. ``still``:
    the picture of a still image at ``path``, as read, which is then the one frame calibrated on
    (not the ranges of a video or image stylized before it)."""
    if not getattr(stylizer, "int8", False):
        return
    source = file_identity(path) + ("#still" if still is not None else "") + ("#hdr-coded" if hdr == "keep" else "") + \
        ("#filled" if fill_transparency else "") + (f"#downscale{downscale}" if downscale else "")
    if area is not None:
        source += f"#{area.top}:{area.bottom},{area.left}:{area.right}"
    if (start, duration, fps) != (None, None, None):  # another segment's frames are other frames
        source += f"#segment{start},{duration},{fps}"
    if stylizer.calibration_source != source:
        frames = [still] if still is not None else sample_frames(
            path, INT8_CALIBRATION_FRAMES, start, duration, fps, hdr, fill_transparency=fill_transparency,
            downscale=downscale)
        stylizer.calibrate([area.crop(f) if area is not None else f for f in frames], source=source)


def default_batch(stylizer, frame_size: tuple[int, int] | None = None) -> int:
    """Frames per network call when none is given (see StylizeConfig.batch).

    ``frame_size``: (H, W) of the input frames, when known (the network's working size follows
    the stylizer's ``max_side``/``scale``).

    4 on GPUs and for networks that run at reduced resolution (the light one: on the CPU, a batch
    amortises the thread hand-offs that the flow and encode stages otherwise interrupt), as long as
    the batch stays within :data:`CPU_BATCH_PIXELS` (so 2 at 720p, 1 from 1080p up); 1 on the CPU
    for networks with full-resolution layers (the standard one), whose activations for a batch of 4
    640x360 frames (about 60 MB in bf16) no longer fit in the caches; 1 under ONNX Runtime (what
    CPUs without bf16 run), which ran the light network 7-8% faster end to end at batch 1 than at
    4, with less CPU time and memory a frame (the thirty-fifth session, on cutbunny and bikes).
    Measured end to end in benchmarks/RESULTS.md.
    """
    networks = getattr(stylizer, "networks", None)
    if networks:  # a style timeline: a batch every one of its networks can take
        return min(default_batch(p, frame_size) for p in networks)
    device = getattr(stylizer, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        return 4
    model = getattr(stylizer, "model", None)
    if getattr(model, "shuffle", 2) == 1 or getattr(stylizer, "backend", None) == "onnx":
        return 1
    if frame_size is None:
        return 4
    h, w = working_size(*frame_size, getattr(stylizer, "max_side", None), getattr(stylizer, "scale", None))
    return max(1, min(4, CPU_BATCH_PIXELS // (h * w)))


def queue_depth(frame_bytes: int, batch: int, queue_size: int) -> int:
    """Items each of the pipeline's video queues holds for frames of ``frame_bytes``: ``queue_size``
    at most, and no more than :data:`QUEUE_FRAME_BYTES` of frames, but never fewer than a ``batch``
    (the network takes that many at once; nor more than ``queue_size``)."""
    return max(1, min(queue_size, max(batch, QUEUE_FRAME_BYTES // max(1, frame_bytes))))


def queued_bytes(depth: int, pixels: int, stabilizer: bool, keep_input: bool = False, alpha: bool = False) -> int:
    """The bytes of frames the pipeline's video queues hold when full, ``depth`` items each, for
    frames of ``pixels``: decoded and stylized frames (3 bytes a pixel, 4 with ``alpha``); with the
    ``stabilizer`` two more queues, one of whose items hold the flow too; ``keep_input``: the
    stylized frames travel with their input (for a matte's mix after the blend)."""
    frame = (4 if alpha else 3) * pixels
    items = 2 * frame + (frame if keep_input else 0)
    if stabilizer:
        items += 2 * frame + FLOW_STATE_BYTES_PER_PIXEL * pixels
    return depth * items


def _networks(stylizer) -> list:
    """The :class:`Stylizer` objects a run's ``stylizer`` runs (a style timeline's each), or none."""
    return list(getattr(stylizer, "networks", None) or ([stylizer] if hasattr(stylizer, "info") else []))


def _network_arch(stylizer) -> str | None:
    """The architecture of the network that needs the most memory per pixel, of those ``stylizer``
    runs (None: a stylizer object of the caller's, whose needs are not known)."""
    from vidstyle.memory import network_kind
    from vidstyle.models.weights import arch_name

    # (a timeline of the caller's own stylizer objects has networks without a model's info: not counted)
    archs = [arch_name(getattr(n.info, "arch_args", None) or {}) for n in _networks(stylizer) if hasattr(n, "info")]
    return max(archs, key=lambda a: network_kind(a) == "standard", default=None)


def memory_need(stylizer, frame_size: tuple[int, int], batch: int, stabilizer: bool, queue_size: int,
                downscale: int | None = None, max_side: int | None = None, arch: str | None = None,
                keep_input: bool = False, alpha: bool = False, held: int = 0, coding: bool | None = None
                ) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """(bytes, frame size, network size) a stylize run of frames of ``frame_size`` (H, W), as decoded,
    needs at its peak (:func:`vidstyle.memory.run_need`), with ``downscale``/``max_side`` (what
    they would be: the stylizer's own max_side when None) and ``arch`` (the stylizer's when None).
    ``held``: no pipeline, but this many frames held while each runs through the network on its
    own (``vidstyle preview``'s). ``coding``: a decoder and an encoder work beside the network
    (:func:`vidstyle.memory.run_need`'s ``pipeline``; default: unless ``held``), as they do beside a
    live session's frames held one by one (a file replayed, a recording)."""
    from vidstyle.memory import run_need

    h, w = frame_size
    if downscale is not None and max(h, w) > downscale:
        h, w = max(2, round(h * downscale / max(h, w))), max(2, round(w * downscale / max(h, w)))
    networks = _networks(stylizer)
    net = working_size(h, w, max_side or getattr(stylizer, "max_side", None), getattr(stylizer, "scale", None))
    depth = queue_depth((4 if alpha else 3) * h * w, batch, queue_size)
    on_host = all(getattr(getattr(n, "device", None), "type", "cpu") == "cpu" for n in networks)
    queued = queued_bytes(depth, h * w, stabilizer, keep_input, alpha) if not held else 3 * h * w * held
    precision = getattr(networks[0], "precision", "fp32") if networks else "fp32"
    need = run_need(h * w, net[0] * net[1], arch or _network_arch(stylizer), precision, batch, stabilizer, queued,
                    on_host, pipeline=not held if coding is None else coding)
    return need, (h, w), net


def check_memory(stylizer, frame_size: tuple[int, int], batch: int, stabilizer: bool, queue_size: int,
                 keep_input: bool = False, alpha: bool = False, held: int = 0, warn: bool = True,
                 coding: bool | None = None, size_option: str = "--downscale") -> bool:
    """Refuse a run that cannot fit in the memory a process here may use (the machine's, or a
    container's limit), saying what would; warn (and go on) when it needs more than is free now.

    Past it the kernel kills the process without a word from vidstyle ("Killed"): the allocator
    seldom fails on Linux, so the out-of-memory line never came. ``held``, ``coding``: see
    :func:`memory_need`. ``size_option``: the option that makes the frames smaller, as the refusal
    offers it: ``--downscale`` (stylize's, preview's), or ``--size`` (live's capture size).
    Returns whether it warned (or would have: ``warn`` False)."""
    from vidstyle.memory import GIB, memory_now, own_resident_bytes

    total, where, free = memory_now()
    if free is not None:  # what this process holds already (torch, the network) is its own to use
        free += own_resident_bytes()
    need, (h, w), _ = memory_need(stylizer, frame_size, batch, stabilizer, queue_size, keep_input=keep_input,
                                  alpha=alpha, held=held, coding=coding)
    networks = _networks(stylizer)
    name = getattr(getattr(networks[0], "choice", None), "label", None) if len(networks) == 1 else None
    doing = f"at {w}x{h}" + (f" with {name}" if name else "")
    free_text = "" if free is None else f" ({free / GIB:.1f} GiB free now)"
    if total and need > total:
        fits = _what_fits(stylizer, frame_size, batch, stabilizer, queue_size, keep_input, alpha, held, total, coding,
                          size_option)
        raise VidstyleError(f"stylizing {doing} needs about {need / GIB:.1f} GiB of memory; {where} "
                            f"{total / GIB:.1f} GiB in all{free_text}: "
                            + (_either(fits) if fits else "no smaller setting fits either"))
    if free is None or need <= free:
        return False
    if warn:
        log.warning("stylizing %s needs about %.1f GiB of memory and %.1f GiB is free now (%s %.1f GiB in all): "
                    "other programs may have to give memory back, or the system may stop the run", doing,
                    need / GIB, free / GIB, where, (total or 0) / GIB)
    return True


def _either(options: list[str]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + ", or " + options[-1]


def _what_fits(stylizer, frame_size, batch, stabilizer, queue_size, keep_input, alpha, held, total, coding=None,
               size_option="--downscale") -> list[str]:
    """The options that would bring a run that needs more than ``total`` within it, the largest
    setting of each that does."""
    def fits(**change) -> tuple[bool, tuple, tuple]:
        args = dict(batch=batch, stabilizer=stabilizer)
        args.update({k: change.pop(k) for k in ("batch", "stabilizer") if k in change})
        need, frame, net = memory_need(stylizer, frame_size, args["batch"], args["stabilizer"], queue_size,
                                       keep_input=keep_input, alpha=alpha, held=held, coding=coding, **change)
        return need <= total, frame, net

    said = []
    _, _, net = fits()
    for side in (s for s in _SMALLER_SIDES if s < max(net)):
        ok, _, smaller = fits(max_side=side)
        if ok:
            said.append(f"--max-side {side} runs the network at {smaller[1]}x{smaller[0]}")
            break
    for side in (s for s in _SMALLER_SIDES if s < max(frame_size)):
        ok, frame, _ = fits(downscale=side)
        if ok:
            said.append(f"--size {frame[1]}x{frame[0]}" if size_option == "--size" else
                        f"--downscale {side} writes {frame[1]}x{frame[0]}")
            break
    if batch > 1 and fits(batch=1)[0]:
        said.append("--batch 1")
    from vidstyle.memory import network_kind

    arch = _network_arch(stylizer)
    if arch is not None and network_kind(arch) == "standard" and fits(arch="light")[0]:
        said.append("a light style")
    if stabilizer and fits(stabilizer=False)[0]:
        said.append("--temporal off")
    return said


def _warn_of_what_is_not_kept(info, input_path: Path, output: Path, config: StylizeConfig, encoder) -> None:
    """One warning for each part of the input that the output (written by ``encoder``, a
    :class:`VideoEncoder` or a :class:`SequenceWriter`) will not have, or not as it was."""
    name = input_path.name
    pix_fmt = encoder.pix_fmt
    frames = isinstance(encoder, SequenceWriter)
    if frames and info.sample_aspect_ratio and info.sample_aspect_ratio != 1:
        log.warning("%s has pixels that are not square (aspect %s), which images cannot record: viewers will "
                    "show the frames stretched", name, info.sample_aspect_ratio)
    if frames and (info.chapters or info.dropped_chapters):
        log.warning("%s has %d chapter(s), which images cannot hold", name,
                    len(info.chapters) or info.dropped_chapters)
    if frames and info.subtitle_streams and encoder.subtitles:
        log.warning("an image sequence holds no subtitles: the %d subtitle stream(s) of %s are not written",
                    len(info.subtitle_streams), name)
    for track, codec, reason in encoder.dropped_subtitles:
        log.warning("dropping subtitle track %d (%s) of %s: %s", track, codec, name, reason)
    if info.dropped_chapters and not frames:
        if config.start is None and config.duration is None:  # a file whose clock starts late
            log.warning("%d chapter(s) of %s lie before its first frame (its clock starts late), and are "
                        "not carried over", info.dropped_chapters, name)
        else:  # outside the segment asked for: said, not warned of
            log.info("%d chapter(s) of %s lie outside the segment", info.dropped_chapters, name)
    if info.attachments and not encoder.attached and encoder.subtitles:
        log.warning("%s has %d attached file(s) (fonts, cover images), not carried over: vidstyle carries them "
                    "into .mkv outputs with the subtitle tracks that use them, and %s", name, len(info.attachments),
                    "an image sequence holds neither" if frames else
                    "no subtitle track is kept" if output.suffix.lower() == ".mkv" else
                    f"{output.suffix} does not hold them")
    if info.data_streams:
        log.warning("%s has %d data stream(s) other than a timecode (camera metadata), which vidstyle does not "
                    "carry over", name, info.data_streams)
    if info.other_video_streams:
        log.warning("%s has %d more video stream(s) after the first; vidstyle stylizes the first and does not "
                    "carry over the others", name, info.other_video_streams)
    if info.cover_images:
        log.warning("%s has %s (an attached picture, such as a thumbnail), which vidstyle does not carry over",
                    name, "a cover image" if info.cover_images == 1 else f"{info.cover_images} cover images")
    if info.interlaced:
        log.warning("%s is interlaced: each frame's two fields are stylized as one picture, so moving edges "
                    "keep their combing, painted; deinterlace it first (ffmpeg -i IN -vf bwdif=mode=send_frame "
                    "OUT) for a clean result", name)
    if info.alpha and not encoder.alpha:  # a render's RGBA frames, ProRes 4444, a WebM overlay
        if frames:
            what, keep = f"{output.suffix} images", ".png, .tif or .webp frames"
        else:
            what = f"{output.name} ({pix_fmt})"
            keep = ("ProRes 4444 (--codec prores_ks to .mov), VP9 (.webm), an animated .webp (a .gif, all or nothing) "
                    "or .png/.tif/.webp frames")
            if encoder.config.pix_fmt is not None:
                keep += f", without --pix-fmt {encoder.config.pix_fmt}"
        log.warning("%s has an alpha channel (transparency), which %s cannot hold: the frames are written "
                    "opaque (to keep it, write %s)", name, what, keep)
    if info.tone_mapped:  # HDR's range is what goes; the bits are SDR's own 8 then
        log.warning("%s is HDR (%s): tone-mapped to SDR (BT.709), the pictures the styles were trained on, and "
                    "written as SDR (--hdr keep paints the HDR signal as coded instead)", name, info.hdr)
    elif info.bits > 8 and component_bits(pix_fmt) <= 8 and output.suffix.lower() not in (".gif", ".webp"):
        hdr = f" and is HDR ({info.hdr}), whose coded values are painted as they are (--hdr keep)" if info.hdr else ""
        writes = "8-bit images" if frames else \
            f"{pix_fmt} ({ten_bit_hint(encoder.config.codec, output, encoder.alpha)})"
        _say_eight_bits(name, info.bits, writes, hdr)
    written = chroma_subsampling(pix_fmt)
    if not frames and info.chroma and written and (written[0] > info.chroma[0] or written[1] > info.chroma[1]):
        # colour finer than the output's (ProRes 4444, a 4:2:2 camera's): lost as the bits above are, so said alike
        log.warning("%s has %s chroma; vidstyle writes %s, whose %s chroma is coarser (%s)", name,
                    CHROMA_NAMES.get(info.chroma, info.chroma), pix_fmt, CHROMA_NAMES.get(written, written),
                    chroma_hint(encoder.config.codec, output, pix_fmt, info.chroma,
                                8 if info.tone_mapped else info.bits))


def _say_eight_bits(name: str, bits: int, writes: str, hdr: str = "") -> None:
    """The warning that the input ``name``'s ``bits``-bit colour is stylized in 8 bits, and what is written."""
    log.warning("%s has %d-bit colour%s; vidstyle stylizes in 8 bits and writes %s", name, bits, hdr, writes)


def make_stabilizer(config: StylizeConfig, stylizer):
    """The flow stabilizer ``config`` asks for, at its strength or else the style's own; or None."""
    if config.temporal != "flow":
        return None
    from vidstyle.stylizer import flow_stabilizer

    return flow_stabilizer(stylizer, config.temporal_strength, config.flow_backend, config.flow_weights)


def _progress_bar(total: int | None, enabled: bool, label: str):
    """A tqdm bar on stderr, only when asked for and stderr is a terminal."""
    if callable(enabled) or not (enabled and sys.stderr.isatty()):
        return None
    # smoothing: the rate and time left from the last ~20 frames' pace, not the last few frames'
    # (on a busy machine those swing by half)
    return terminal_bar(total=total, unit="frame", desc=printable(label), leave=False, smoothing=0.05)


class ProgressLines:
    """A ``progress`` function for :func:`stylize_video` and :func:`stylize_files` that prints a
    line on ``stream`` (stderr) every ``interval`` seconds, ``out.mp4: 1200/7200 frames, 68.9
    frames/s, about 1:27 left``: what a log file, or a job under nohup, gets instead of the bar,
    which needs a terminal. The rate is the run's average since its first frame; a count starting
    again at 1 (the next input of :func:`stylize_files`) starts it again."""

    def __init__(self, label: str = "", interval: float = 30.0, stream=None, clock: Callable[[], float] = time.monotonic):
        self.label, self.interval, self.stream, self.clock = label, interval, stream, clock
        self._start = self._last = None

    def __call__(self, done: int, total: int | None) -> None:
        now = self.clock()
        if done <= 1 or self._start is None:
            self._start = self._last = now
            return
        if now - self._last < self.interval:
            return
        self._last = now
        rate = (done - 1) / (now - self._start) if now > self._start else 0.0
        text = f"{done}/{total} frames" if total else f"{done} frames"
        if rate:
            text += f", {rate:.1f} frames/s"
            if total and total > done:
                left = round((total - done) / rate)
                text += f", about {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left" if left >= 3600 \
                    else f", about {left // 60}:{left % 60:02d} left"
        with contextlib.suppress(OSError):  # a log on a full disk loses the line, not the run
            print(f"{printable(self.label)}: {text}" if self.label else text, file=self.stream or sys.stderr,
                  flush=True)


def _folder_watch(held: HeldOutputFolder, output) -> Callable[[], None]:
    """What the encode stage calls before each frame of a video output: at most once every
    :data:`FOLDER_CHECK_SECONDS`, whether the folder ``held`` (the output's, where its temporary
    file is) is still there under its name, else the run stops with :func:`folder_gone_error`.
    The encoder writes through its open file, which goes on working in a folder renamed or
    removed: the run was said to have failed only once the whole input was encoded (hours, for a
    long film). Numbered frames need none: each is written by its path, which fails at once."""
    last = time.monotonic()

    def check() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < FOLDER_CHECK_SECONDS:
            return
        last = now
        if not held.still_there():
            raise folder_gone_error(output, held.folder)
    return check


def _on_frame(progress, bar, total: int | None) -> Callable[[], None]:
    """What the encode stage calls after each frame: the caller's ``progress(done, total)``, or
    the bar's update, its clock started at the first frame."""
    if callable(progress):
        done = 0

        def report() -> None:
            nonlocal done
            done += 1
            progress(done, total)
        return report
    if bar is None:
        return lambda: None
    started = False

    def advance() -> None:
        nonlocal started
        if not started:
            # the bar's clock from the first frame, as ProgressLines': the wait before it (the
            # network compiling, the stages filling; 8.7 s in a 30-minute run) is no frame's pace,
            # and counted as one the bar said 129 hours left, then took seconds to forget it
            started = True
            bar.unpause()
        bar.update(1)
    return advance


# --- the public entry point ----------------------------------------------------------------

def stylize_video(input: str | PathLike[str], output: str | PathLike[str], style: RunStyle,
                  config: StylizeConfig | None = None, encode: EncodeConfig | None = None, overwrite: bool = False,
                  progress: bool | Callable[[int, int | None], object] = True, **options) -> StylizeResult:
    """Stylize the video ``input`` into ``output``, keeping timing, size, rotation and audio.

    Args:
        input: a video file, or a folder of numbered frames (an image sequence, played at
            ``sequence_fps``; see :mod:`vidstyle.io.sequence`); never modified.
        output: .mp4, .m4v, .mkv, .mov, .webm, .gif or .webp, written atomically (temp file + rename); or
            numbered images (``out/frame_%04d.png``), moved into place when all are written.
        style: a style spec (bundled name, ``.safetensors`` path, ``mix:a=0.7,b=0.3``) or a ready
            :class:`vidstyle.stylizer.Stylizer` (used as built: its device, precision and
            resolution win over ``config``).
        config / encode: :class:`StylizeConfig` / :class:`EncodeConfig`.
        overwrite: replace ``output`` if it exists.
        progress: True: a progress bar on stderr when it is a terminal; False: none; or a function
            ``progress(done, total)`` called after each frame is written (from the pipeline's
            encoding thread), ``total`` the input's frame count or None where the container does
            not say (an estimate for variable frame rates; when it was off, one last call from
            this thread gives the final count as both). An exception it raises (e.g. a cancel
            button's) stops the run: it comes out of this call, and nothing is left at ``output``.
            One that cannot be called so is a :class:`~vidstyle.errors.BadTypeError` at the call.
        **options: any field of either config as a keyword, e.g. ``batch=2, crf=20, start=1.5``,
            or ``no_audio=True``.

    Raises:
        VidstyleError: bad input or output, unavailable codec, corrupt file, ...; nothing is left
            at ``output`` (an existing file there is untouched).
    """
    from vidstyle.io.images import is_image_path

    config, encode = _merge_options(config, encode, options)
    progress = _check_call("stylize_video", output, overwrite, progress)
    input_path = check_input(input, folders=True)  # a folder: an image sequence
    if input_path.is_dir():
        find_sequence(input_path)  # a folder that is not one sequence says why before any work
    elif is_image_path(input_path):  # under any name (a photo saved as .mp4): said before the network loads
        raise BadValueError(f"{input_path.name} is a still image, not a video: stylize_image() stylizes it")
    say_if_fps_unused(config.sequence_fps, input_path)
    to_frames = is_sequence_output(output)  # out/frame_%04d.png: an image sequence
    check_frame_pattern(output)
    if to_frames:  # fail before loading the model
        check_sequence_output(output, input_path, overwrite)
    else:
        check_output(output, input_path, overwrite)
        check_encoding(encode, output)
    _check_not_the_mask(output, config)
    if config.mask is not None:  # a bad mask fails before the model loads (opened again at the input's rate)
        _open_matte(config, segment=False).close()
    stylizer = _make_stylizer(style, config)
    with stop_marked_once_placed(output) as placed:  # (a stop once it is in place: the summary still to come)
        return _stylize_video(input_path, output, stylizer, config, encode, overwrite, progress, to_frames, placed)


def _open_matte(config: StylizeConfig, frame_rate=None, segment: bool = True):
    """``config.mask`` opened (:class:`vidstyle.mask.Matte`), with ``segment`` at the segment's
    start; a folder of matte frames plays at the input's ``frame_rate`` (a sequence input's --fps
    included). (The input itself may be its own mask: its bright parts painted, its dark ones kept.)"""
    from vidstyle.mask import Matte

    return Matte(config.mask, config.invert_mask, fps=frame_rate or config.sequence_fps,
                 start=config.start if segment else None, downscale=config.downscale)


def _stylize_video(input_path: Path, output, stylizer, config: StylizeConfig, encode: EncodeConfig, overwrite: bool,
                   progress, to_frames: bool, placed: list[Path]) -> StylizeResult:
    _wait_for_calls_left(stylizer)
    stabilizer = make_stabilizer(config, stylizer)
    if hasattr(stylizer, "painted_until"):  # a style timeline, maybe reused for another input
        stylizer.painted_until, stylizer.shown = None, set()
    started = time.perf_counter()
    stages = _Stages(config.queue_size)
    bar = None
    fps = config.sequence_fps
    with termination_as_exit(), \
            VideoDecoder(input_path, config.start, config.duration, fps=fps, hdr=config.hdr,
                         downscale=config.downscale) as decoder, \
            (contextlib.nullcontext() if to_frames else atomic_output(output, input_path, overwrite, placed=placed)) as temp, \
            contextlib.ExitStack() as closing:
        if hasattr(stylizer, "painted_until"):
            # a segment opens in one style, not mid-dissolve: at its first frame, which comes after
            # the start asked for when that falls between frames (or inside a slide)
            stylizer.start_at(None if config.start is None else float(decoder.first_time))
        matte = None
        if config.mask is not None:  # checked before anything is written
            matte = closing.enter_context(_open_matte(config, decoder.info.frame_rate))
            matte.check_fits((decoder.info.height, decoder.info.width), decoder.info.sample_aspect_ratio)
        if to_frames:  # numbered as the input sequence's frames were, else from 1
            encoder = SequenceWriter(output, decoder.info, decoder.sequence_number, overwrite, audio=encode.audio,
                                     subtitles=encode.subtitles,  # a sequence's frames keep their colour space
                                     icc_profile=decoder.sequence.rgb_profile() if decoder.sequence else None,
                                     placed=placed)  # (in the encoding stage, which a Ctrl-C lets finish)
            check_folder = lambda: None  # noqa: E731 - (see _folder_watch)
        else:
            encoder = VideoEncoder(temp, decoder.info, encode, name=output)
            held = HeldOutputFolder(Path(temp).parent)
            closing.callback(held.close)
            check_folder = _folder_watch(held, output)
        try:  # from here on the encoder is aborted on any way out (its frames' hidden folder removed)
            _warn_of_what_is_not_kept(decoder.info, input_path, Path(output), config, encoder)
            area = None
            if config.bars == "keep":
                # on the frames as the network sees them: where the alpha is kept, the picture continued
                # under the transparency, so a render's transparent rows are no bars (a title rising into
                # them was left unpainted, as something small appearing in a bar is); written opaque,
                # they are the black stored under them, kept as bars
                area = video_picture_area(input_path, (decoder.info.height, decoder.info.width), config.start,
                                          config.duration, fps, config.hdr, fill_transparency=encoder.alpha)
                if area is not None:
                    log.info("keeping the black bars: %s", area.describe())
            # int8 only; on the frames as the network will see them (see _stylize_stage)
            calibrate_for(stylizer, input_path, config.start, config.duration, area=area, fps=fps, hdr=config.hdr,
                          fill_transparency=encoder.alpha, downscale=config.downscale)
            batch = config.batch or default_batch(stylizer, area.shape if area is not None
                                                  else (decoder.info.height, decoder.info.width))
            keep_input = stabilizer is not None and (matte is not None or area is not None)
            check_memory(stylizer, (decoder.info.height, decoder.info.width), batch, stabilizer is not None,
                         config.queue_size, keep_input, encoder.alpha)
            # the queues hold a batch at least, and at most QUEUE_FRAME_BYTES of frames
            stages.queue_size = queue_depth((4 if encoder.alpha else 3) * decoder.info.height * decoder.info.width,
                                            batch, config.queue_size)
            expect = getattr(stylizer, "expect_frames", None)
            if expect is not None:  # a long run may pick a compiled network (backend auto)
                expect(decoder.info.frames)
            bar = _progress_bar(decoder.info.frames, progress, Path(output).name)
            decoded, styled, audio = stages.queue(), stages.queue(), stages.queue(AUDIO_QUEUE_ITEMS)
            stages.start("decode", _decode_stage, stages, decoder, encoder, decoded, audio)
            if stabilizer is not None:
                estimated = stages.queue()
                from vidstyle.flow import stabilizer as stabilizer_module

                stages.start("flow", _flow_stage, stages, stabilizer, decoded, estimated,
                             stabilizer_module.flow_workers() if getattr(stabilizer, "thread_safe_estimate", False)
                             else 1)
                decoded = estimated
            bars_until: list[float] = []
            tb, offset = decoder.info.time_base, decoder.clock_offset
            last_mixed = [0.0]  # the time of the last frame mixed with the matte

            def mix_with_matte(image, original, pts):
                last_mixed[0] = float(pts * tb + offset)
                return matte.apply(image, original, last_mixed[0])
            mix = mix_with_matte if matte is not None else None
            after_blend = mix  # what the stabilize stage does to each blended frame
            before_blend = None
            if stabilizer is not None and area is not None:
                def bars_kept(pts) -> bool:
                    # not where whole frames are stylized (the picture reached into the bars:
                    # bars_until, said before such a frame is passed on)
                    return not bars_until or float(pts * tb + offset) < bars_until[0]

                def edges_into_bars(image, pts):
                    # the stabilizer warps and blends whole frames: with black there, its bilinear
                    # samples darkened the picture's edge rows frame after frame (the history
                    # kept them); the picture's edges instead, as if it went on
                    return area.extend_edges(image) if bars_kept(pts) else image  # (ours to change)

                def bars_back(image, original, pts):
                    # the input's own bars back around the blended picture: the blend carried the
                    # painted picture into them (up to 75 grey levels at strength 0.8)
                    if bars_kept(pts):
                        image = area.restore_bars(image, original)  # (the blend's output is ours to change)
                    return image if mix is None else mix(image, original, pts)
                after_blend, before_blend = bars_back, edges_into_bars
            strength_at = None
            if stabilizer is not None and hasattr(stylizer, "strengths_differ") and \
                    stylizer.strengths_differ(config.temporal_strength):
                fixed = config.temporal_strength  # the user's, for every style that paints
                strength_at = lambda pts: stylizer.temporal_strength_at(float(pts * tb + offset), fixed)  # noqa: E731
            plain = mix is None and area is None and _submits(stylizer)
            # the stabilizer runs where the network does when that is a GPU, with no matte, bars or
            # strength that changes along the video (Stylizer.stabilizes_on_device) ...
            on_device = (stabilizer is not None and plain and strength_at is None
                         and getattr(stabilizer, "applies_to_tensors", False)
                         and getattr(stylizer, "stabilizes_on_device", False))
            # ... and frames that go straight from there to the encoder are converted to YUV on it
            # too (Stylizer.hands_yuv420)
            direct = (stabilizer is None or on_device) and plain and getattr(stylizer, "hands_yuv420", False)
            yuv420 = getattr(encoder, "yuv420_matrix", None) if direct else None
            stages.start("stylize", _stylize_stage, stages, stylizer, batch, decoded, styled, area, bars_until,
                         offset, None if stabilizer is not None else mix,
                         stabilizer is not None and after_blend is not None,
                         yuv420, stabilizer if on_device else None)
            if stabilizer is not None and not on_device:
                stabilized = stages.queue()
                stages.start("stabilize", _stabilize_stage, stages, stabilizer, styled, stabilized, strength_at,
                             after_blend, before_blend)
                styled = stabilized
            stages.start("encode", _encode_stage, stages, encoder, styled, audio,
                         _on_frame(progress, bar, decoder.info.frames), check_folder)
            stages.wait()
            if bar is not None and bar.total and bar.n < bar.total:
                bar.total = bar.n  # the count was an estimate (variable frame rate): end at 100%
                bar.refresh()
            if callable(progress) and decoder.info.frames != encoder.frames:
                progress(encoder.frames, encoder.frames)  # the same for a caller's bar
        except BaseException:
            stages.join_all()
            _leave_calls(stylizer, stages.still_running("stylize"))
            encoder.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
    seconds = time.perf_counter() - started
    # Reading a frame's display matrix (its side data) leaves a reference cycle in PyAV that keeps
    # the frame, and with it its decoder's threads (about 20 here), alive until the collector
    # runs; this input opened up to 9 decoders. Collected now, so many inputs in one run do not
    # pile up idle threads (about 0.1 s).
    gc.collect()
    damaged = decoder.damaged()
    if damaged:
        log.warning("skipped %s that would not decode", damaged)
    if decoder.retimed_frames:
        log.warning("%s of %s came with a time no later than the frame before (a damaged clock): each was put "
                    "one tick of the file's clock after the frame before it", counted(decoder.retimed_frames, "frame"),
                    input_path.name)
    if decoder.clock_restarts:
        log.warning("the clock of %s starts over %s (segments joined into one file?): the output runs on "
                    "from each, as one timeline", input_path.name,
                    "once" if decoder.clock_restarts == 1 else f"{decoder.clock_restarts} times")
    if encoder.damaged_audio_packets:
        log.warning("skipped %d damaged audio packet(s) of %s that could not be copied",
                    encoder.damaged_audio_packets, input_path.name)
    if decoder.damaged_audio_packets:
        log.warning("skipped %d damaged audio packet(s) of %s that would not decode: the sound has a gap there",
                    decoder.damaged_audio_packets, input_path.name)
    # a track with no sound in the part written (one that ends before --start): MP4/MOV leave it
    # out, Matroska keeps it empty, either way unlike the input's tracks, which a player may number
    empty = [track for track in encoder.audio_modes if not getattr(encoder, "audio_written", {}).get(track)]
    if empty:
        log.warning("audio track%s %s of %s %s no sound in the part written: %s", "s" if len(empty) > 1 else "",
                    ", ".join(map(str, empty)), input_path.name, "have" if len(empty) > 1 else "has",
                    "left out of " + Path(output).name
                    if OUTPUT_FORMATS.get(Path(output).suffix.lower()) in ("mp4", "mov")
                    else "written empty into " + Path(output).name)
    thinned = getattr(encoder, "thinned", 0)
    if thinned and not encoder.said_thinning:  # an uneven clock, not a high frame rate said up front
        log.warning("left out %d frame(s) of %s that came closer to the one before than %s can time",
                    thinned, input_path.name, Path(output).suffix)
    if decoder.unreadable_subtitles:
        log.warning("skipped %d subtitle event(s) of %s that could not be read to convert them (text that is not "
                    "UTF-8, or damaged); .mkv copies them as they are", decoder.unreadable_subtitles, input_path.name)
    if encoder.refused_subtitles:
        log.warning("skipped %d subtitle event(s) of %s that could not be written into %s (out of order, or "
                    "not convertible)", encoder.refused_subtitles, input_path.name, Path(output).name)
    shortfall = decoder.shortfall(encoder.frames)
    if shortfall:
        log.warning("%s", shortfall)
    elif note := decoder.ended_before_duration():
        log.warning("%s", note)
    first = float(decoder.first_time)  # the segment's first frame, on the input's clock
    if matte is not None and matte.ended_before(last_mixed[0]):
        cut = matte.cut_short()  # a file cut short is not a matte made shorter
        if config.start is not None and matte.ended_before(first):
            # one frame held all through: what a matte rendered for the segment alone (its clock
            # from --start) does, so its clock is said
            log.warning("the mask %s ends at %.2f s, before the segment starts (%.2f s): its last frame was held "
                        "all through; a moving mask is timed from the input's first frame, not from --start%s",
                        matte.path.name, matte.held_from, first, f"; {cut}" if cut else "")
        else:
            log.warning("the mask %s ends at %.2f s, before the video: its last frame was held for the rest%s",
                        matte.path.name, matte.held_from, f"; {cut}" if cut else "")
    # where a --duration segment the input reached ends: the timeline's changes after it are the
    # parts of a longer timeline not written (a whole film's rendered in parts), as those before --start are
    part_end = None if decoder.ended_before_duration() else decoder.segment_end
    if getattr(stylizer, "timeline", None) is not None:
        _say_unseen_changes(stylizer, first, part_end, config.start is not None, input_path.name,
                            None if decoder.stated_end is None else float(decoder.stated_end))
    if matte is not None and matte.damaged():
        log.warning("skipped %s (the mask): its frame before each was held", matte.damaged())
    return StylizeResult(network=_describe(stylizer, batch), frames=encoder.frames, seconds=seconds, fps=encoder.frames / seconds if seconds else 0.0,
                         output=Path(output), stage_seconds=dict(stages.busy),
                         # the encoder's config: its codec resolved (None: the container's usual)
                         pace=pace_note(stages.busy, encoder.frames, getattr(encoder, "config", encode)),
                         audio=dict(encoder.audio_modes),
                         subtitles=dict(encoder.subtitle_modes),
                         pix_fmt=encoder.pix_fmt,
                         temporal_strength=None if stabilizer is None else config.temporal_strength
                         if config.temporal_strength is not None else stabilizer.strength,
                         strength_per_style=strength_at is not None and config.temporal_strength is None,
                         bars="" if area is None else area.bars_text() + (
                             f" until {bars_until[0]:.2f} s" if bars_until else ""),
                         sequence="" if decoder.sequence is None else
                         f"{decoder.sequence.count} {decoder.sequence.suffix} frames at "
                         f"{float(decoder.info.frame_rate):.6g} fps",
                         alpha=bool(decoder.info.alpha and encoder.alpha),
                         tone_mapped=decoder.info.hdr if decoder.info.tone_mapped else "",
                         downscaled=_downscaled_text(decoder.info.downscaled_from, decoder.info.width,
                                                     decoder.info.height),
                         styles=_timeline_text(stylizer, part_end), mask=_mask_text(matte))


def _say_unseen_changes(stylizer, first: float, part_end: float | None, segment: bool, name: str,
                        input_end: float | None = None) -> None:
    """Warn of the changes of ``stylizer``'s style timeline that the output does not show as typed:
    after its last frame (a typo: 10:5 for 1:05), but for those after ``part_end`` (where a
    --duration segment ends, see :func:`_stylize_video`) and before ``input_end`` (where the
    container says the input ends, None where it does not say); with no frame between one and the
    next; and, for a ``segment`` (--start) beginning at ``first`` (s, the input's clock), every
    change before it when, counted from --start, they would all fall inside it. ``name``: the input's."""
    timeline, until = stylizer.timeline, stylizer.painted_until
    if until is None:  # no frame painted
        return
    late = [i for i in range(1, len(timeline.changes)) if timeline.changes[i].at > until]
    # a dissolve begun before the end shows in part (one change at most: dissolves never overlap),
    # said first, as it comes first
    for seen, said in ((True, "only the start of its dissolve is seen"), (False, "never seen")):
        these = [timeline.changes[i] for i in late if (timeline.dissolve_begins(i) < until) == seen
                 and (seen or part_end is None or timeline.changes[i].at < part_end)]
        _say_late(these, f"the last frame stylized of {name} ({until:.2f} s)", said)
    # those after the part come in no later part either where they come at or after the input's own
    # end: a typo as above (--style-at 1:05 on a 4 s clip), said with the input's length
    if part_end is not None and input_end is not None:
        past = [i for i in late if timeline.dissolve_begins(i) >= until and timeline.changes[i].at >= part_end
                and timeline.changes[i].at >= input_end]
        for seen, said in ((True, "only the start of its dissolve is seen"), (False, "never seen")):
            _say_late([timeline.changes[i] for i in past if (timeline.dissolve_begins(i) < input_end) == seen],
                      f"the end of {name} ({input_end:.2f} s long)", said)
    # a change the next one follows before any frame (10=B, 10.01=C) paints nothing: said, as a
    # change after the end is (a typo); those before a segment's first frame are the part not written
    unseen = [c for i, c in enumerate(timeline.changes) if i and first < c.at <= until
              and i not in getattr(stylizer, "shown", {i})]
    if unseen:
        log.warning("the style change%s at %s come%s before the next with no frame between: never seen",
                    "s" if len(unseen) > 1 else "", ", ".join(f"{c.at:g} s" for c in unseen),
                    "" if len(unseen) > 1 else "s")
    # every change before the segment's first frame: one style all through, with nothing said, for
    # a user who counts --style-at from --start (5=B for 5 s into the segment). Said when the
    # changes, counted so, would all fall inside the segment, as such a user types them; not for a
    # whole-film timeline rendered in parts whose changes are spread before and after a part, nor
    # for a part after its last change that is shorter than the time of that change
    changes = timeline.changes[1:]
    if segment and changes and all(c.at < first and first + c.at <= until for c in changes):
        log.warning("every style change (at %s) comes before the segment starts (%.2f s), so all of it is in %s: "
                    "--style-at times are on the input's clock, as --start's (%g s into the segment is "
                    "--style-at %g)", ", ".join(f"{c.at:g} s" for c in changes), first,
                    timeline.style_name(len(timeline.changes) - 1), changes[0].at, round(first + changes[0].at, 3))


def _say_late(changes: list, end: str, said: str) -> None:
    """The warning for style ``changes`` that come after ``end`` (what ends, and when), ``said``:
    how much of them the output shows (see :func:`_say_unseen_changes`)."""
    if changes:
        log.warning("the style change%s at %s come%s after %s: %s", "s" if len(changes) > 1 else "",
                    ", ".join(f"{c.at:g} s" for c in changes), "" if len(changes) > 1 else "s", end, said)


def _mask_text(matte) -> str:
    return "" if matte is None else f"{'inverted ' if matte.invert else ''}mask {matte.path.name}"


def _timeline_text(stylizer, end: float | None = None) -> str:
    """The summary's timeline; ``end``: where the --duration part ends (StyleTimeline.describe)."""
    timeline = getattr(stylizer, "timeline", None)
    return "" if timeline is None or len(timeline.changes) < 2 else timeline.describe(end)


def _downscaled_text(before: tuple[int, int] | None, width: int, height: int) -> str:
    return "" if before is None else f"{before[0]}x{before[1]} downscaled to {width}x{height}"


def stylize_image(input: str | PathLike[str], output: str | PathLike[str], style: RunStyle,
                  config: StylizeConfig | None = None, overwrite: bool = False,
                  progress: bool | Callable[[int, int | None], object] = True,
                  **options) -> StylizeResult:
    """Stylize the still image ``input`` (jpg, png, webp, ..., a one-frame GIF) into ``output`` (.png, .jpg, .webp,
    .bmp or .tif), upright by the input's EXIF orientation: a quick look at a style on one picture.

    ``style``, ``config`` and ``**options`` as for :func:`stylize_video`; only the network's
    settings, ``bars`` and ``mask`` (an image, or a video's first frame) apply (device, precision, backend, ``max_side``, ``scale``): there is no
    time axis to stabilize or cut (``temporal``, ``start``, ``duration`` do nothing), and the
    encoder's options (``crf``, ``codec``...) are refused. Written atomically, like videos.
    ``progress`` is taken so that a call can switch between :func:`stylize_video` and this one
    unchanged: no bar (one picture has no progress to show); a function is called once,
    ``progress(1, 1)``, before the picture is put in place (raising there leaves nothing).
    """
    from vidstyle.io.images import (IMAGE_OUTPUT_FORMATS, check_image_size, check_still, is_image_path,
                                    is_one_frame_animation, keeps_transparency, read_image_and_alpha, rgb_profile,
                                    stored_bits, write_image)

    video_only = sorted(set(options) & (_ENCODE_FIELDS | set(_NEGATED_OPTIONS)))
    if video_only:  # a keyword this call does not take: a TypeError, as an unknown option's
        raise BadTypeError(f"stylize_image() writes a still image: {', '.join(video_only)} "
                            f"{'does' if len(video_only) == 1 else 'do'} not apply")
    config, _ = _merge_options(config, None, options, caller="stylize_image", encoding=False)
    progress = _check_call("stylize_image", output, overwrite, progress)
    input_path = check_input(input)
    # a video is said as one (else "cannot identify image file"); a one-frame GIF is a still picture,
    # which FFmpeg reads as a video of one frame
    if not is_image_path(input_path) and not is_one_frame_animation(input_path) and holds_video(input_path):
        raise BadValueError(f"{input_path.name} is a video, not a still image: stylize_video() stylizes it")
    check_still(input_path)
    if is_sequence_output(output):
        raise VidstyleError(f"{input_path.name} is a still image, one frame: give the output a name without "
                            f"a frame-number field (not {Path(output).name})")
    if Path(output).suffix.lower() not in IMAGE_OUTPUT_FORMATS:
        raise VidstyleError(f"{input_path.name} is a still image: write it to an image "
                            f"({', '.join(sorted(IMAGE_OUTPUT_FORMATS))}), not {Path(output).name}")
    check_output(output, input_path, overwrite, formats=IMAGE_OUTPUT_FORMATS)  # before loading the model
    _check_not_the_mask(output, config)
    image, alpha = read_image_and_alpha(input_path)
    before = (image.shape[1], image.shape[0])
    smaller = downscaled_size(*before, config.downscale)
    if smaller is not None and alpha is None:
        image = resize_frame(image, smaller)
    elif smaller is not None:  # premultiplied: no fringe of the colour under the transparency
        rgba = resize_rgba(np.dstack([image, alpha]), smaller)
        image, alpha = np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    out_format = IMAGE_OUTPUT_FORMATS[Path(output).suffix.lower()]
    check_image_size(output, *(smaller or before))  # before the network loads and runs
    keep_alpha = keeps_transparency(alpha, output, input_path)  # the input's transparency, kept (or said)
    bits = stored_bits(input_path)
    if bits > 8:
        _say_eight_bits(input_path.name, bits, "an 8-bit image")
    matte = _open_matte(config, segment=False) if config.mask is not None else None  # or a video's first frame
    weights = None
    if matte is not None:
        with matte:
            weights = matte.weights_at(0.0, image.shape[:2])
    stylizer = _make_stylizer(_still_style(style), config)
    _wait_for_calls_left(stylizer)
    expect = getattr(stylizer, "expect_frames", None)
    if expect is not None:  # one frame: a Stylizer compiled for a long video goes back to its short-run backend
        expect(1)
    started = time.perf_counter()
    # the picture continued under its transparency where the alpha is kept (with no edge for the
    # network where it begins), and bars looked for on it as the network sees it, as for videos:
    # transparency kept is no bar; dropped, the black stored under it is
    filled = fill_transparent(image, alpha) if keep_alpha else image
    # (a still's chroma is not known: no bar line is taken as black but for the picture's colour)
    area = find_picture_area([filled]) if config.bars == "keep" else None
    with stop_marked_once_placed(output) as placed, termination_as_exit(), \
            atomic_output(output, input_path, overwrite, formats=IMAGE_OUTPUT_FORMATS, placed=placed) as temp:
        original = image
        image = filled
        calibrate_for(stylizer, input_path, area=area, fill_transparency=keep_alpha,
                      downscale=config.downscale if smaller else None, still=image)
        out = _stylize_picture(stylizer, [image], area)[0]
        if weights is not None:
            from vidstyle.mask import composite

            out = composite(out, original, weights)
        if keep_alpha:
            out = np.dstack([out, alpha])
        write_image(temp, out, out_format, icc_profile=rgb_profile(input_path))  # its colour space kept
        if callable(progress):
            progress(1, 1)
    seconds = time.perf_counter() - started
    return StylizeResult(network=_describe(stylizer, None), frames=1, seconds=seconds,
                         fps=1 / seconds if seconds else 0.0, output=Path(output), still_image=True,
                         bars=area.bars_text() if area is not None else "",
                         downscaled=_downscaled_text(before if smaller else None, image.shape[1], image.shape[0]),
                         mask=_mask_text(matte))


def _still_style(style):
    """What paints a still: a style timeline's first style that paints (its other networks are
    not loaded); anything else as it is."""
    from vidstyle.timeline import NO_STYLE, StyleTimeline

    if isinstance(style, (list, tuple)):
        style = StyleTimeline(style)
    if isinstance(style, StyleTimeline):
        style.check_styles()
        return next(c.style for c in style.changes if str(c.style).strip() != NO_STYLE)
    return style


def folder_output(input: str | Path, folder: str | Path, codec: str | None = None) -> Path:
    """Where :func:`stylize_files` writes ``input`` in ``folder``: under the input's own name,
    except that a video container vidstyle does not write (.avi, .ts, ...) becomes .mp4, and one
    that cannot hold the ``codec`` asked for becomes that codec's (.mov for ProRes, else .mp4);
    every still-image format it reads, it also writes (a still under a video's name, under its
    format's: a PNG saved as .mp4 is written as .png)."""
    from vidstyle.io.files import OUTPUT_FORMATS
    from vidstyle.io.images import image_suffix, is_image_path

    input = Path(input)
    if is_image_path(input):  # (a photo saved as .mp4 is written as the image it is: .png)
        return Path(folder) / (input.stem + image_suffix(input))
    if input.is_dir():  # an image sequence: named after its folder ("." is the folder it names)
        return Path(folder) / (input.resolve().name + (container_for(codec) if codec else ".mp4"))
    suffix = input.suffix if input.suffix.lower() in OUTPUT_FORMATS else ".mp4"
    if codec is not None and not codec_fits(codec, suffix):
        suffix = container_for(codec)
    return Path(folder) / (input.stem + suffix)


def stylize_files(inputs: str | PathLike[str] | Iterable[str | PathLike[str]], folder: str | PathLike[str],
                  style: RunStyle, config: StylizeConfig | None = None, encode: EncodeConfig | None = None,
                  overwrite: bool = False,
                  progress: bool | Callable[[int, int | None], object] = True, **options) -> Iterator[tuple[Path, StylizeResult | VidstyleError]]:
    """Stylize several videos and still images (``inputs``: a list of paths, or one path) into
    ``folder`` with one network, loaded (and compiled or quantized) once: ``vidstyle stylize a.mp4
    b.mov c.jpg -o out/``.

    Every input and output is checked here, before anything is loaded or written: a missing
    input, one given twice, two inputs that would share an output name (:func:`folder_output`), an output that
    exists (without ``overwrite``) or is one of the inputs, the output folder given as an input (a
    glob that caught it), a still that is an animation or a multi-page TIFF, or whose name holds
    a frame-number field (``%03d``) raise :class:`VidstyleError` (from file names and headers: no
    input is decoded); so does a ``mask`` of another shape than an input's (each video's first
    frame decoded for its size). The
    returned iterator then stylizes the inputs in order as it is advanced (nothing is stylized
    until then: ``list(stylize_files(...))`` runs them all), yielding ``(input, result)`` for each,
    or ``(input, error)`` with the VidstyleError of an input that failed (a corrupt file, say;
    its traceback without the local variables of its calls, so that one kept holds no decoder or
    FFmpeg threads of its run): the others still run, unless the folder is removed or renamed meanwhile: then a
    VidstyleError ends the iteration. It makes the folder when missing, and removes it again when nothing
    was written to it, unless another run writes into it (:func:`~vidstyle.io.files.folder_in_use`). ``style``, ``config``, ``encode`` (videos only), ``progress`` (a function
    counts each input's frames from 1; an exception other than VidstyleError raised in it stops
    the whole run) and ``**options`` as for :func:`stylize_video`.
    """
    config, encode = _merge_options(config, encode, options, caller="stylize_files")
    progress = _check_call("stylize_files", folder, overwrite, progress)
    if isinstance(inputs, (str, PathLike)):  # one path (of any kind), not its characters
        inputs = [inputs]
    try:
        inputs = iter(inputs)
    except TypeError:
        raise BadTypeError(f"stylize_files() takes a list of paths, or one path, got {inputs!r}") from None
    inputs = [check_input(i, folders=True) for i in inputs]  # a folder: an image sequence
    for folder_input in (i for i in inputs if i.is_dir()):
        if Path(folder).is_dir() and same_file(folder_input, Path(folder)):
            # (clips/* -o clips/styled/ once styled/ is there: "holds videos, not numbered frames" misled)
            raise VidstyleError(f"the output folder {folder_input} is also given as an input (a pattern such as * "
                                "catches it), which would be read as a folder of numbered frames: leave it out of "
                                "the inputs, or write the outputs to another folder")
        find_sequence(folder_input)  # before any input is stylized
    if not inputs:
        raise VidstyleError("no inputs to stylize")
    from vidstyle.io.files import OUTPUT_FORMATS
    from vidstyle.io.images import IMAGE_OUTPUT_FORMATS, check_still, is_image_path

    said_folder = isinstance(folder, str) and folder.endswith(("/", sep))  # "out.mp4/" is a folder: said so
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise VidstyleError(f"output folder {folder} is a file, not a folder")
    if not folder.exists() and not said_folder and folder.suffix.lower() in {**OUTPUT_FORMATS, **IMAGE_OUTPUT_FORMATS}:
        # (a numbered-frames name, out_%03d.png, gives no folder name: "styled/" then)
        stem = folder.with_suffix("") if "%" not in folder.name else folder.parent / "styled"
        raise VidstyleError(f"several inputs go into a folder, and {folder} names a file; give a folder such as "
                            f"{stem}/")
    pairs = [(i, folder_output(i, folder, encode.codec)) for i in inputs]
    # case-blind: on macOS's and Windows' file systems X.mp4 and x.mp4 are one file
    names = [o.name.casefold() for _, o in pairs]
    given: dict[str, list[Path]] = {}  # the inputs written to each output name
    for i, name in zip(inputs, names):
        # one file named twice (overlapping globs, clips/*.mp4 clips/a*.mp4): said as such, since
        # "several inputs would be written to" it, to be "stylized into separate folders", misleads.
        # Only where the outputs clash: a file under another name (a link, latest.mp4 to
        # 2024-05-01.mp4) has an output of its own, as it had before this check
        first = next((j for j in given.get(name, ()) if same_file(j, i)), None)
        if first is not None:
            raise VidstyleError(f"{i} is given twice" + ("" if str(first) == str(i) else f" (also as {first})")
                                + ": give each input once")
        given.setdefault(name, []).append(i)
    shared = sorted({str(o) for _, o in pairs if names.count(o.name.casefold()) > 1})
    if shared:
        raise VidstyleError(f"several inputs would be written to {shared[0]}; stylize them into separate folders")
    for source, target in pairs:
        check_output_file(target, inputs=inputs, overwrite=overwrite, create_folder=True)
        _check_not_the_mask(target, config)
        if is_image_path(source):  # what stylize_image would refuse at its turn, from names and headers only
            check_still(source)  # an animated PNG or WebP, a multi-page TIFF
            if is_sequence_output(target):
                raise VidstyleError(f"{source}: a still image is written into {folder} under its own name, and "
                                    f"{source.name} reads as numbered frames (a frame-number field such as %03d): "
                                    f"rename it, or stylize it on its own with -o NAME{source.suffix}")
        else:
            if frame_field(target):  # what stylize_video would refuse at its turn (check_output)
                raise VidstyleError(f"{source}: a video is written into {folder} under its own name, and "
                                    f"{source.name} reads as numbered frames (a frame-number field such as %03d): "
                                    f"rename it, or stylize it on its own with -o NAME{target.suffix}")
            check_encoding(encode, target)
    from vidstyle.models.zoo import StyleChoice, resolve_style
    from vidstyle.timeline import StyleTimeline, is_ready_stylizer

    if isinstance(style, (list, tuple)):
        style = StyleTimeline(style)
    # an unknown style fails here too, before the folder is made; and a ready stylizer that is
    # closed, or asked for a look it was not built with (each input was said to fail with it)
    _check_ready_stylizers(style, config)
    if isinstance(style, StyleTimeline):
        style.check_styles()
    elif not (is_ready_stylizer(style) or isinstance(style, StyleChoice)):  # None or a number refused here too
        resolve_style(style)
    _check_mask_fits_each(inputs, config)
    return _stylize_pairs(pairs, folder, style, config, encode, overwrite, progress)


def _check_mask_fits_each(inputs: list[Path], config: StylizeConfig) -> None:
    """A --mask of another shape than one of several inputs, said before the first is stylized,
    naming that input: at its turn, those before it had been stylized (hours of them, maybe).
    Each input's size as its run sees it: a still's from its header (turned upright), a video's
    or a frame folder's from its first frame (the container's header says nothing of a turn)."""
    if config.mask is None:
        return
    from vidstyle.io.display import downscaled_size
    from vidstyle.io.images import is_image_path, shown_size

    with _open_matte(config, segment=False) as matte:
        for source in inputs:
            size, aspect = None, None
            if source.is_file() and is_image_path(source):
                size = shown_size(source)
                size = size and (downscaled_size(*size, config.downscale) or size)
            else:
                with contextlib.suppress(VidstyleError), \
                        VideoDecoder(source, announce=False, fps=config.sequence_fps, hdr=config.hdr,
                                     downscale=config.downscale) as decoder:
                    size, aspect = (decoder.info.width, decoder.info.height), decoder.info.sample_aspect_ratio
            if size is None:  # unreadable: its error at its turn, as without a mask (the others still run)
                continue
            try:
                matte.check_fits((size[1], size[0]), aspect)
            except VidstyleError as exc:
                raise VidstyleError(f"{source}: {exc}") from None


def _stylize_pairs(pairs, folder: Path, style, config, encode, overwrite, progress):
    with folder_in_use(folder):  # made if missing, and removed again if left empty
        yield from _stylize_into(pairs, folder, style, config, encode, overwrite, progress)


def _stylize_into(pairs, folder: Path, style, config, encode, overwrite, progress):
    from vidstyle.io.images import is_image_path

    # the command line's lines in a log (ProgressLines) are one object for every input: each line
    # names the output it counts, as a single run's does (else "1200/7200 frames" of which one?)
    name_each = isinstance(progress, ProgressLines) and not progress.label
    try:
        stylizer = _make_stylizer(style, config)  # once, for every input
        for n, (source, target) in enumerate(pairs):
            if not folder.is_dir():  # removed or renamed meanwhile: each input left failed in turn, a line each
                left = [s.name for s, _ in pairs[n:]]
                raise VidstyleError(f"the output folder {folder} was removed or renamed meanwhile: "
                                    f"{counted(len(left), 'input')} not stylized ({', '.join(left[:3])}"
                                    f"{', ...' if len(left) > 3 else ''})")
            if name_each:
                progress.label = target.name
            try:
                if is_image_path(source):
                    result = stylize_image(source, target, stylizer, config=config, overwrite=overwrite,
                                           progress=progress)
                else:
                    result = stylize_video(source, target, stylizer, config=config, encode=encode,
                                           overwrite=overwrite, progress=progress)
            except VidstyleError as exc:
                yield source, without_locals(exc)  # kept by a caller: not the failed run with it
            else:
                yield source, result
    finally:
        if name_each:  # the caller's object, as it was: reused for a later run, it named this run's last output
            progress.label = ""
