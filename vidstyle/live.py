"""Live stylization: camera (or a replayed file) -> Stylizer -> window / recording / virtual camera.

The capture runs on its own thread and keeps only the newest frame (:mod:`vidstyle.io.capture`),
so when the network is slower than the camera, stale frames are dropped and latency stays bounded.
Every frame carries its capture time; the latency reported is capture -> shown (after the window
has drawn it, or, with ``--no-window``, after the stylized frame is ready).

Keys (:class:`LiveControls`, pure logic, testable without a window): ``n``/``p`` (or the
right/left arrows) next/previous style, ``t`` toggle the temporal stabilizer, ``+``/``-`` its
strength, ``[``/``]`` (or down/up) less/more style, ``c`` the input's colours on/off, ``s``
snapshot PNG, ``r`` start/stop recording, ``q``/Esc quit (:data:`KEYMAP`, :data:`SPECIAL_KEYS`).
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

# OpenCV must be loaded before PyAV: PyAV's wheels bundle their own libxcb, and when that copy is
# loaded first OpenCV's Qt window hangs forever at 100% CPU (PyAV-Org/PyAV#978, #1050).
import cv2
import numpy as np

import av  # noqa: F401  after cv2; file sources and recordings need it (without it the CLI explains)

from vidstyle.config import DEFAULT_TEMPORAL_STRENGTH, LIVE_STATS_SCHEMA
from vidstyle.signals import TERMINATIONS, ours_to_handle, stop_signals_held
from vidstyle.errors import VidstyleError, counted, printable
from vidstyle.frames import resize_frame
from vidstyle.io.capture import CameraSource, FileSource, FrameGrabber, FrameSource
from vidstyle.io.samples import spread_samples
from vidstyle.io.files import (check_recording_name, create_output_folder, numbered_name, special_file_kind,
                               write_then_rename)
from vidstyle.io.images import write_image
from vidstyle.letterbox import SAMPLE_FRAMES as BAR_SAMPLE_FRAMES
from vidstyle.letterbox import PictureArea, find_picture_area

WINDOW_NAME = "vidstyle live"

#: seconds without a new frame, once frames have come, after which live says it is waiting for
#: the source: a network camera whose stream stalls is given up by OpenCV only after 30 s, and
#: meanwhile the window showed the last picture under the last frame rate, as if all were well
STALL_NOTICE_S = 2.0

#: seconds between two looks at the window while the network works on a frame (on its own thread):
#: Qt keeps one key from one look to the next, so keys typed during a frame of seconds (a standard
#: style on a busy CPU) were lost but the last, and the window neither redrew nor answered its window
#: manager meanwhile
KEY_POLL_S = 0.015

#: what waiting on the network's thread gives when the wait ended first (q, Esc, the window closed),
#: and what a call cut short gives (:class:`NetworkThread`)
_ABANDONED = object()


# --- keys ----------------------------------------------------------------------------------------

class Action(str, Enum):
    NONE = "none"
    QUIT = "quit"
    NEXT_STYLE = "next_style"
    PREV_STYLE = "prev_style"
    TOGGLE_STABILIZER = "toggle_stabilizer"
    STRENGTH_UP = "strength_up"
    STRENGTH_DOWN = "strength_down"
    SNAPSHOT = "snapshot"
    TOGGLE_RECORD = "toggle_record"
    STYLE_UP = "style_up"
    STYLE_DOWN = "style_down"
    TOGGLE_COLORS = "toggle_colors"


#: character -> action; '=' and '_' are '+' and '-' without shift; a capital letter does what its
#: lower case does (:func:`key_action`)
KEYMAP = {
    "q": Action.QUIT, "\x1b": Action.QUIT,
    "n": Action.NEXT_STYLE, "p": Action.PREV_STYLE,
    "t": Action.TOGGLE_STABILIZER,
    "+": Action.STRENGTH_UP, "=": Action.STRENGTH_UP,
    "-": Action.STRENGTH_DOWN, "_": Action.STRENGTH_DOWN,
    "s": Action.SNAPSHOT, "r": Action.TOGGLE_RECORD,
    "]": Action.STYLE_UP, "[": Action.STYLE_DOWN, "c": Action.TOGGLE_COLORS,
}


#: Special keys as ``cv2.waitKeyEx`` reports them (X11/GTK/Qt keysyms, Windows virtual-key codes
#: shifted 16 bits, macOS function-key characters): the arrows switch styles (left/right) and change
#: the style strength (up/down), as users guess. Their low byte alone, which ``cv2.waitKey`` keeps,
#: is a letter's: Left read as "Q" quit the session, Insert as "c" toggled the colours.
SPECIAL_KEYS = {
    0xFF51: Action.PREV_STYLE, 0xFF53: Action.NEXT_STYLE, 0xFF52: Action.STYLE_UP, 0xFF54: Action.STYLE_DOWN,
    0x250000: Action.PREV_STYLE, 0x270000: Action.NEXT_STYLE, 0x260000: Action.STYLE_UP, 0x280000: Action.STYLE_DOWN,
    0xF702: Action.PREV_STYLE, 0xF703: Action.NEXT_STYLE, 0xF700: Action.STYLE_UP, 0xF701: Action.STYLE_DOWN,
}


def key_action(key: int) -> Action:
    """The action of ``key`` as ``cv2.waitKeyEx`` returns it: a special key's (:data:`SPECIAL_KEYS`;
    others do nothing), or a character's (:data:`KEYMAP`; modifier bits above the 16 of a keysym
    are ignored)."""
    code = key & 0xFFFF  # GTK adds the modifier state (NumLock, CapsLock) above the keysym
    if key in SPECIAL_KEYS or code in SPECIAL_KEYS:  # (Windows' codes have an empty low word)
        return SPECIAL_KEYS.get(key, SPECIAL_KEYS.get(code))
    if not 0 < code <= 0xFF:
        return Action.NONE
    # a letter with Shift or Caps Lock does what the letter does ("T" toggled nothing)
    return KEYMAP.get(chr(code), KEYMAP.get(chr(code).lower(), Action.NONE))


@dataclass
class LiveControls:
    """Key code -> action state machine. ``handle`` updates the state and returns what the loop must
    do (load another style, reset the stabilizer, write a snapshot, open/close a recording...)."""

    num_styles: int
    style_index: int = 0
    stabilizer_on: bool = False
    strength: float = DEFAULT_TEMPORAL_STRENGTH
    recording: bool = False
    quit: bool = False
    strength_step: float = 0.1
    style_strength: float = 1.0  # how much of the style (vidstyle.stylizer.blend_style)
    keep_colors: bool = False

    def handle(self, key: int) -> Action:
        """``key`` as returned by ``cv2.waitKeyEx`` (-1: no key; see :func:`key_action`)."""
        if key is None or key < 0:
            return Action.NONE
        action = key_action(key)
        if action is Action.QUIT:
            self.quit = True
        elif action is Action.NEXT_STYLE:
            self.style_index = (self.style_index + 1) % self.num_styles
        elif action is Action.PREV_STYLE:
            self.style_index = (self.style_index - 1) % self.num_styles
        elif action is Action.TOGGLE_STABILIZER:
            self.stabilizer_on = not self.stabilizer_on
        elif action in (Action.STRENGTH_UP, Action.STRENGTH_DOWN):
            self.strength = self._stepped(self.strength, action is Action.STRENGTH_UP)
        elif action is Action.TOGGLE_RECORD:
            self.recording = not self.recording
        elif action in (Action.STYLE_UP, Action.STYLE_DOWN):
            self.style_strength = self._stepped(self.style_strength, action is Action.STYLE_UP)
        elif action is Action.TOGGLE_COLORS:
            self.keep_colors = not self.keep_colors
        return action

    def _stepped(self, value: float, up: bool) -> float:
        """``value`` one :attr:`strength_step` up or down, kept in [0, 1]."""
        return round(min(1.0, max(0.0, value + (self.strength_step if up else -self.strength_step))), 3)

    def look_text(self, sep: str = "  ") -> str:
        """The look controls where they differ from plain stylization, for the overlay and log."""
        return sep.join(x for x in (f"style {self.style_strength:g}" if self.style_strength < 1.0 else "",
                                     "input colours" if self.keep_colors else "") if x)


class Terminated(KeyboardInterrupt):
    """SIGTERM during a live run (see ``live_command``): stops it as Ctrl-C does, reported as terminated."""


# --- statistics ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveSummary:
    """What a live run did. Every captured frame was processed, dropped (replaced by a newer one
    before the network took it, or skipped by a ``--realtime`` file source that had fallen behind),
    or still waiting when the run stopped."""

    source: str
    captured: int
    processed: int
    dropped: int
    elapsed_s: float
    mean_fps: float | None  # None: fewer than two frames, no rate to speak of
    # of the frames after the first (steady state, as mean_fps); None: no frame was shown (strict
    # JSON has no NaN). The first frame's on its own: it waits behind no frame, and carries the
    # run's one-time work (the bars searched on it; the network's first call at the picture's size
    # when the bars crop it), though not the network's start: warmed up before capture begins.
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    stop_reason: str
    waiting: int = 0  # captured, but not yet taken by the network when the run stopped
    first_latency_ms: float | None = None
    recordings: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # outputs that failed (a recording on a full disk)

    def text(self) -> str:
        waiting = f", {self.waiting} still waiting at the stop" if self.waiting else ""
        rate = f"{self.mean_fps:.1f} fps processed" if self.mean_fps is not None else \
            "no frame rate (fewer than 2 frames processed)"
        latency = "no frame shown" if self.latency_mean_ms is None else \
            f"capture-to-display latency mean {self.latency_mean_ms:.0f} ms, p95 {self.latency_p95_ms:.0f} ms"
        if self.first_latency_ms is not None and self.processed > 1:
            latency += f" (the first frame on its own, after the network's warm-up: {self.first_latency_ms:.0f} ms)"
        lines = [f"live ({self.source}, stopped: {self.stop_reason}): {counted(self.captured, 'frame')} captured, "
                 f"{self.processed} processed, {self.dropped} dropped{waiting} in {self.elapsed_s:.1f} s",
                 f"  {rate}; {latency}"]
        lines += [f"  recorded {p}" for p in self.recordings]
        lines += [f"  snapshot {p}" for p in self.snapshots]
        lines += [f"  failed: {e}" for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


class LiveStats:
    """Latency and rate accounting of shown frames (times from ``time.perf_counter``)."""

    def __init__(self, recent: int = 30):
        self.latencies: list[float] = []
        self.first_shown: float | None = None
        self.last_shown: float | None = None
        self._recent = deque(maxlen=recent)

    def frame_shown(self, t_capture: float, t_shown: float) -> None:
        self.latencies.append(t_shown - t_capture)
        self.first_shown = t_shown if self.first_shown is None else self.first_shown
        self.last_shown = t_shown
        self._recent.append(t_shown)

    @property
    def processed(self) -> int:
        return len(self.latencies)

    def recent_fps(self) -> float:
        """Rate over the last few shown frames (for the overlay)."""
        if len(self._recent) < 2 or self._recent[-1] <= self._recent[0]:
            return 0.0
        return (len(self._recent) - 1) / (self._recent[-1] - self._recent[0])

    def overlay_text(self) -> str:
        """The rate and the last shown frame's latency, for the window's overlay, each once there
        is one (before, they read "0.0 fps  0 ms", measured on nothing), a separator after."""
        fps = self.recent_fps()
        return (f"{fps:4.1f} fps  " if fps else "") + \
            (f"{self.latencies[-1] * 1000:4.0f} ms  " if self.latencies else "")

    def mean_fps(self) -> float | None:
        """Steady processed rate: frames after the first, over the time from the first to the
        last; None with fewer than two frames."""
        if self.processed < 2 or self.last_shown <= self.first_shown:
            return None
        return (self.processed - 1) / (self.last_shown - self.first_shown)

    def summary(self, source: str, captured: int, elapsed_s: float, stop_reason: str, dropped: int | None = None,
                **extra) -> LiveSummary:
        """``dropped``: frames the grabber replaced before they were read (None: every frame not
        processed counts as dropped); the rest of the unprocessed frames were waiting at the stop."""
        lat = np.asarray(self.latencies) * 1000.0
        first = float(lat[0]) if lat.size else None
        lat = lat[1:] if lat.size > 1 else lat  # steady state: the first's one-time work apart (LiveSummary)
        unprocessed = max(0, captured - self.processed)
        dropped = unprocessed if dropped is None else min(dropped, unprocessed)
        return LiveSummary(source=source, captured=captured, processed=self.processed,
                           dropped=dropped, waiting=unprocessed - dropped, elapsed_s=elapsed_s,
                           mean_fps=self.mean_fps(),
                           latency_mean_ms=float(lat.mean()) if lat.size else None,
                           latency_p95_ms=float(np.percentile(lat, 95)) if lat.size else None,
                           first_latency_ms=first, stop_reason=stop_reason, **extra)


# --- styles --------------------------------------------------------------------------------------

class StyleBank:
    """The styles ``n``/``p`` cycle through. Entries are style specs (loaded on first use; files
    already loaded are reused, switching the mix of a multi-style network) or ready stylizers
    (anything with ``.stylize(image) -> image``)."""

    def __init__(self, styles: Sequence, **stylizer_kwargs):
        if not styles:
            raise VidstyleError("no styles to show")
        self._entries = []
        for s in styles:
            if hasattr(s, "stylize"):
                self._entries.append((s, getattr(s, "label", type(s).__name__)))
            else:
                from vidstyle.models.zoo import resolve_style

                choice = resolve_style(s)  # resolve every spec now: a bad one fails before the camera opens
                self._entries.append((choice, choice.short_label))
        self._kwargs = stylizer_kwargs
        self._loaded: dict[Path, object] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def label(self, i: int) -> str:
        return self._entries[i][1]

    def temporal_strength(self, i: int) -> float:
        """The stabilizer strength style ``i`` asks for (see :func:`vidstyle.models.zoo.temporal_strength_for`)."""
        from vidstyle.models.zoo import temporal_strength_for

        entry, _ = self._entries[i]
        choice = getattr(entry, "choice", None) if hasattr(entry, "stylize") else entry  # a ready Stylizer knows its file
        return temporal_strength_for(getattr(choice, "path", None))

    def get(self, i: int):
        entry, _ = self._entries[i]
        if hasattr(entry, "stylize"):
            return entry
        from vidstyle.stylizer import Stylizer

        stylizer = self._loaded.get(entry.path)
        if stylizer is None:
            stylizer = self._loaded[entry.path] = Stylizer(entry, **self._kwargs)
        else:
            stylizer.set_mix(entry.mix)
        return stylizer


def default_styles() -> list[str]:
    """All bundled style names, fastest networks first (used when no ``--style`` is given)."""
    from vidstyle.models.zoo import bundled_styles

    styles = bundled_styles()
    if not styles:
        raise VidstyleError("no --style given and no styles are bundled; pass --style MODEL.safetensors")
    # narrowest (real-time light) networks first: live opens with a style that keeps up on a CPU
    return sorted(styles, key=lambda name: (sum(styles[name].arch_args.get("channels", ())), name))


def _stabilizes_on_device(stylizer) -> bool:
    """Whether live mode may hand the stabilizer to ``stylizer.submit_batch`` (a GPU): only for a
    :class:`~vidstyle.stylizer.Stylizer` whose ``stylize``, which live mode calls otherwise, is its
    own (a subclass's or a wrapper's, a watermark say, must not be bypassed)."""
    from vidstyle.stylizer import Stylizer

    return (isinstance(stylizer, Stylizer) and type(stylizer).stylize is Stylizer.stylize
            and stylizer.stabilizes_on_device)


#: Frames of the source's size a live session holds at once beside the network's own memory: the
#: grabber's newest and the one the source reads into, the frame in hand and the one before it (the
#: stabilizer's), the stylized one, the recording's copy of it and the window's picture; side by
#: side, the window's picture is twice as wide and made of one more (:func:`compose_view`).
HELD_FRAMES = 7


def live_memory_need(stylizer, frame_size: tuple[int, int], stabilizer: bool, side_by_side: bool) -> int:
    """Bytes a live session of ``stylizer`` on frames of ``frame_size`` (H, W) needs at its peak:
    stylize's estimate (:func:`vidstyle.pipeline.memory_need`) for frames run through the network
    one by one, :data:`HELD_FRAMES` held, a decoder (a replayed file) and an encoder (a recording,
    which r can begin at any time) beside it."""
    from vidstyle.pipeline import memory_need

    return memory_need(stylizer, frame_size, 1, stabilizer, 1, held=_held_frames(side_by_side), coding=True)[0]


def check_live_memory(stylizer, frame_size: tuple[int, int], stabilizer: bool, side_by_side: bool) -> None:
    """Refuse a session that cannot fit in memory, in one line saying what would (a smaller
    ``--size``, ``--max-side``, a light style, the stabilizer off), as ``vidstyle stylize`` refuses
    a run (:func:`vidstyle.pipeline.check_memory`, on :func:`live_memory_need`'s terms); warn when
    it needs more than is free now. ``stabilizer``: on at the start (t turns it on later uncounted)."""
    from vidstyle.pipeline import check_memory

    check_memory(stylizer, frame_size, 1, stabilizer, 1, held=_held_frames(side_by_side), coding=True,
                 size_option="--size")


def _held_frames(side_by_side: bool) -> int:
    return HELD_FRAMES + (2 if side_by_side else 0)


def _make_stabilizer(strength: float):
    # imported here: building the CLI's parser imports this module, and the stabilizer brings torch
    from vidstyle.flow.stabilizer import FlowStabilizer
    return FlowStabilizer(strength)


# --- outputs -------------------------------------------------------------------------------------

def opencv_has_gui() -> bool:
    """False for builds without a window backend (opencv-python-headless)."""
    m = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return not (m and m.group(1).upper() == "NONE")


def check_display() -> None:
    """Raise a one-line :class:`VidstyleError` when no window can be opened, suggesting --no-window."""
    if not opencv_has_gui():
        raise VidstyleError("this OpenCV build has no window support (opencv-python-headless is installed); "
                            "run with --no-window, or replace it: pip uninstall -y opencv-python-headless "
                            "&& pip install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise VidstyleError("no display found (DISPLAY is not set); run with --no-window "
                            "(add --record FILE or --virtual-cam to see the result)")
    if sys.platform.startswith("linux") and loaded_before("av", "cv2"):
        raise VidstyleError("PyAV was imported before OpenCV, which makes OpenCV windows hang (PyAV issue 978); "
                            "import cv2 (or vidstyle.live) before av, or run with --no-window")


def probe_window(timeout: float = 30.0) -> None:
    """Open and close an OpenCV window in a child process; a one-line :class:`VidstyleError` if
    that fails. Some failures (a DISPLAY that cannot be reached, a Qt platform plugin that does not
    load) abort the whole process from inside OpenCV (Qt's qFatal), which no ``except`` can catch
    and which would leave a half-written recording behind: a child process takes that blow."""
    import subprocess

    code = ("import cv2; cv2.namedWindow('vidstyle', cv2.WINDOW_NORMAL | cv2.WINDOW_GUI_NORMAL); "
            "cv2.waitKey(1); cv2.destroyAllWindows()")
    where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or "the screen"
    try:
        # (a toolkit's message in another encoding than the locale's is shown with replacement
        # characters, not raised as a UnicodeDecodeError)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, errors="replace",
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VidstyleError(f"opening a window on {where} did not finish in {timeout:g} s; "
                            "run with --no-window") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if "display" in line.lower()), lines[0] if lines else
                      f"exit status {proc.returncode}")
        raise VidstyleError(f"cannot open a window on {where} ({detail}); run with --no-window")


def loaded_before(first: str, second: str) -> bool:
    """True if module ``first`` was imported before module ``second`` (sys.modules keeps import order)."""
    order = list(sys.modules)
    return first in sys.modules and second in sys.modules and order.index(first) < order.index(second)


class LiveWindow:
    """The OpenCV window (BGR images)."""

    def __init__(self, name: str = WINDOW_NAME, fullscreen: bool = False):
        check_display()
        self.name = name
        try:
            # GUI_NORMAL: no Qt toolbar/status bar, just the image
            cv2.namedWindow(name, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as exc:
            raise VidstyleError(f"cannot open a window ({str(exc).strip().splitlines()[-1]}); run with --no-window") \
                from None
        self.fullscreen = fullscreen
        self._screen_size = screen_size()  # asked once: it opens a connection to the X server
        # the shape the picture is padded to: the screen's while the window is full screen
        self._screen = self._screen_size if fullscreen else None
        self._shown = False
        # from when, and until when, to look whether the full-screen request was honoured
        self._fullscreen_checks: tuple[float, float] | None = None

    #: seconds after the full-screen request from which the window is expected to fill the screen,
    #: and until which it is looked at again (a window manager may animate, or be slow under load)
    FULLSCREEN_SETTLE_S, FULLSCREEN_WATCH_S = 0.5, 3.0

    def show(self, bgr: np.ndarray) -> None:
        if not self._shown:
            # Start at the image's own size (WINDOW_NORMAL picks its own), which is also what is left
            # when no window manager honours the full-screen request; shrunk to fit the screen (a
            # 1080p camera side by side is 3840 pixels wide), the picture scaled inside it.
            cv2.resizeWindow(self.name, *fit_window(bgr.shape[1], bgr.shape[0], self._screen_size))
        if self._fullscreen_checks is not None:
            now, (begin, end) = time.monotonic(), self._fullscreen_checks
            if now >= begin:
                self._check_fullscreen(bgr)
            if now >= end:
                self._fullscreen_checks = None
        if self.fullscreen and self._screen:  # the window is the screen (the image rect OpenCV reports is the picture's)
            bgr = _letterboxed(bgr, self._screen)
        cv2.imshow(self.name, bgr)
        if not self._shown and self.fullscreen:  # some backends ignore it before the first image
            cv2.setWindowProperty(self.name, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
            if self._screen_size is not None:  # (without it there is nothing to compare the window with)
                now = time.monotonic()
                self._fullscreen_checks = (now + self.FULLSCREEN_SETTLE_S, now + self.FULLSCREEN_WATCH_S)
        self._shown = True

    def _check_fullscreen(self, bgr: np.ndarray) -> None:
        """With no window manager (a bare X server, as kiosks run) nothing honours the full-screen
        request and the window keeps the picture's size: the picture padded to the screen's shape
        would then be shrunk into it, bars and all. So it is shown as it is, filling the window."""
        try:
            _, _, w, h = cv2.getWindowImageRect(self.name)
        except cv2.error:
            return
        screen = self._screen_size
        # above what fit_window starts a window at (90% of the screen's width, 85% of its height): a
        # picture wider than the screen (side by side) starts at 90% of its width, and was taken
        # for a full-screen window, its picture padded to the screen's shape and squashed into it
        filled = w >= 0.95 * screen[0] or h >= 0.95 * screen[1]
        if self._screen and not filled:
            self._screen = None
            cv2.resizeWindow(self.name, *fit_window(bgr.shape[1], bgr.shape[0], screen))
        elif not self._screen and filled:  # honoured after all, later: the screen's shape again
            self._screen = screen

    def key(self) -> int:
        """Pump window events; the key pressed, or -1 (also when the window was closed: see closed).
        The full code (``waitKeyEx``), so special keys are not taken for letters (:func:`key_action`)."""
        return cv2.waitKeyEx(1)

    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.name, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)
        except cv2.error:
            pass


def _letterboxed(image: np.ndarray, area: tuple[int, int] | None) -> np.ndarray:
    """``image`` with black bars to the shape of ``area`` = (width, height): a full-screen window
    scales it to fit, and the toolkit's own background (Qt's light grey) would fill the rest."""
    if area is None:
        return image
    h, w = image.shape[:2]
    aw, ah = area
    if abs(w * ah - h * aw) <= max(aw, ah):  # the same shape, to a pixel
        return image
    if w * ah > h * aw:  # wider than the screen: bars above and below
        pad = round(w * ah / aw) - h
        return cv2.copyMakeBorder(image, pad // 2, pad - pad // 2, 0, 0, cv2.BORDER_CONSTANT, value=0)
    pad = round(h * aw / ah) - w
    return cv2.copyMakeBorder(image, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_CONSTANT, value=0)


def screen_size() -> tuple[int, int] | None:
    """(width, height) of the X11 screen windows open on, or None where it cannot be asked
    (no X11 display, no libX11; OpenCV has no call for it)."""
    if not os.environ.get("DISPLAY"):
        return None
    import ctypes.util

    name = ctypes.util.find_library("X11")
    if name is None:
        return None
    try:
        x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
            fn.argtypes = [ctypes.c_void_p]
        for fn in (x11.XDisplayWidth, x11.XDisplayHeight):
            fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        try:
            screen = x11.XDefaultScreen(display)
            return int(x11.XDisplayWidth(display, screen)), int(x11.XDisplayHeight(display, screen))
        finally:
            x11.XCloseDisplay(display)
    except (OSError, AttributeError):
        return None


def fit_window(width: int, height: int, screen: tuple[int, int] | None) -> tuple[int, int]:
    """The window size for a ``width`` x ``height`` picture: its own size, or scaled down (aspect
    kept) to 90% of the screen's width and 85% of its height, leaving room for title bars and
    panels. ``screen`` None: the picture's own size."""
    if screen is None:
        return width, height
    scale = min(1.0, 0.9 * screen[0] / width, 0.85 * screen[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


#: pixels at the right of the top row that the recording's dot takes (its left side, plus a margin),
#: in a picture up to 600 pixels tall; taller ones scale it as they scale the text (_marks_scale)
_RECORDING_DOT_ROOM = 32


def _marks_scale(view: np.ndarray) -> float:
    """How much the overlay's text and the recording's dot grow with the picture: the window
    shrinks a tall one to fit the screen (a 4K picture into a 1280-pixel screen by 3), and marks
    of a fixed size in pixels shrank with it (the dot to 5 pixels)."""
    return view.shape[0] / 600


def compose_view(stylized: np.ndarray, original: np.ndarray | None, overlay: str | None,
                 recording: bool = False) -> np.ndarray:
    """The displayed BGR image: stylized (optionally right of the original) with a text overlay."""
    view = stylized if original is None else np.concatenate([original, stylized], axis=1)
    view = cv2.cvtColor(view, cv2.COLOR_RGB2BGR)
    dot = max(1.0, _marks_scale(view))  # the dot's size: 8 pixels' radius up to 600 pixels tall
    if overlay:
        scale = max(0.5, _marks_scale(view))
        thickness = 1 if scale < 0.9 else 2
        (tw, th), base = cv2.getTextSize(overlay, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        pad = max(4, th // 3)
        # the recording's dot (top right, 28 pixels from the edge to its left side) stays clear of the
        # text: on a 320-pixel frame the dot covered the overlay's last word
        room = view.shape[1] - (round(_RECORDING_DOT_ROOM * dot) if recording else 0)
        if tw + 2 * pad > room:  # a small frame: shrink the text rather than cut it off
            scale *= (room - 2 * pad) / tw
            (tw, th), base = cv2.getTextSize(overlay, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            pad = max(2, th // 3)
        box = view[: th + base + 2 * pad, : tw + 2 * pad]
        box[:] = box // 3  # darken the text's background so it reads on any image
        cv2.putText(view, overlay, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness,
                    cv2.LINE_AA)
    if recording:
        cv2.circle(view, (view.shape[1] - round(20 * dot), round(20 * dot)), round(8 * dot), (0, 0, 255), -1,
                   cv2.LINE_AA)
    return view


class Recording:
    """The stylized stream written to ``path`` with wall-clock timestamps (variable frame rate):
    each frame is stamped with its capture time relative to the first recorded frame
    (timestamps), so playback runs at the speed of reality however many frames were dropped.

    Encoded by the pipeline's :class:`~vidstyle.io.encode.VideoEncoder` in the container's default
    codec, in its fast settings (live encoding shares the CPU with the network): H.264 at preset
    veryfast for .mp4/.mkv/.mov, VP9's real-time mode for .webm, GIF and WebP as animations. The
    file is written under a hidden temporary name and renamed when :meth:`close` finalizes it,
    which the live loop does on every exit path, errors included (a live recording is worth
    keeping up to the failure). Its folder renamed or moved meanwhile, the recording is finished
    under its name where the folder is now (:attr:`moved_from` says where it was): it cannot be
    made again, so it is not thrown away as stylize's half-done output is.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, overwrite: bool = False):
        from vidstyle.config import EncodeConfig
        from vidstyle.io.decode import SourceInfo
        from vidstyle.io.codecs import default_codec
        from vidstyle.io.encode import VideoEncoder
        from vidstyle.io.files import OUTPUT_FORMATS, HeldOutputFolder, check_output, temp_path_beside

        self.path = check_output(check_recording_name(path), overwrite=overwrite)
        self._held = HeldOutputFolder(self.path.parent)  # followed where it goes: see _follow_folder
        self.moved_from: Path | None = None  # the folder the recording was begun in, when it was moved meanwhile
        self.asked = self.path  # (path is where the file is: another name when this one was taken meanwhile)
        self.overwrite = overwrite
        self.not_replaced: str | None = None  # why the file under the name asked for could not be replaced
        self._tmp = temp_path_beside(self.path)
        container = OUTPUT_FORMATS[self.path.suffix.lower()]
        # A time base each muxer keeps as is (mp4/mov turn 1/1000 into 1/16000; Matroska forces
        # 1/1000), so pts mean the same to the encoder, the muxer and the file.
        self.time_base = Fraction(1, 1000) if container in ("matroska", "webm") else Fraction(1, 90000)
        info = SourceInfo(path=self.path, width=width, height=height, rotation=0, time_base=self.time_base,
                          frame_rate=Fraction(round(fps) or 30), frames=None, codec="rawvideo",
                          sample_aspect_ratio=None, audio_streams=())
        codec = default_codec(self.path.suffix)
        animation = codec in ("gif", "libwebp")  # no crf or preset (vidstyle.io.encode)
        config = EncodeConfig(codec=codec, crf=None if animation else 20 if codec == "libx264" else 32,
                              preset=None if animation else "veryfast", audio=False, realtime=True)
        self._encoder = VideoEncoder(self._tmp, info, config, name=self.path)  # errors name the recording
        self._playable_partly = container in ("matroska", "webm")  # no index needed to play what was written
        self._t0: float | None = None
        self._last_pts = -1
        # the newest frame waits for the next, which says how long it is shown (the last one: until the stop)
        self._pending: tuple[np.ndarray, int] | None = None
        # frames handed to the encoder without an error: what the file holds once finalized (a
        # frame is written when the next comes, and a write that failed holds none: counted as
        # taken, an encoder that failed on the first frame left a file of no frames, "recorded")
        self.frames = 0
        self.thinned = 0  # frames GIF/WebP timing could not hold apart (see VideoEncoder.thinned)

    def write(self, image: np.ndarray, t_capture: float) -> None:
        """Append uint8 (H, W, 3) RGB ``image`` captured at ``t_capture`` (time.perf_counter)."""
        if self._t0 is None:
            self._t0 = t_capture
        pts = max(round((t_capture - self._t0) / self.time_base), self._last_pts + 1)  # strictly increasing
        self._last_pts = pts
        self._write_pending(pts)
        self._pending = (image.copy(), pts)  # the caller may draw on its frame next

    def _write_pending(self, until: int) -> None:
        if self._pending is not None:
            image, pts = self._pending
            self._pending = None
            self._encoder.write(image, pts, until - pts)
            self.frames += 1

    def close(self, t_stop: float | None = None, cut_short: bool = False) -> None:
        """Flush and finalize: the file appears under its name (nothing is left if no frame came).
        ``t_stop`` (time.perf_counter): the last frame is shown until then, as it was live.
        ``cut_short``: the recording stopped at an error, so it is a part of what was asked for,
        which never replaces a file, overwrite or not: it takes the next free name instead.

        When finalizing fails (a full disk), a Matroska or WebM recording keeps what was written
        up to the failure (it plays without an index) and the error says so; others are removed."""
        try:
            self._close(t_stop, cut_short)
        finally:
            self._held.close()

    def _close(self, t_stop: float | None, cut_short: bool) -> None:
        from vidstyle.io.files import folder_gone_error

        lost = self._follow_folder()
        try:
            if self._pending is not None:
                end = self._last_pts + 1
                if t_stop is not None and self._t0 is not None:
                    end = max(end, round((t_stop - self._t0) / self.time_base))
                self._write_pending(end)
            self._encoder.finish()
        except BaseException as exc:
            if isinstance(exc, (VidstyleError, OSError)) and self._playable_partly and self.frames and \
                    not lost and self._tmp.is_file() and self._tmp.stat().st_size > 0:
                self._place(overwrite=False)  # a part never replaces a whole file, --overwrite or not
                raise VidstyleError(f"{exc}; what was recorded before is kept in {self.path}") from None
            self._held.remove_temp(self._tmp)
            raise
        self.thinned = getattr(self._encoder, "thinned", 0)
        if lost:
            self._held.remove_temp(self._tmp)
            raise VidstyleError(f"{folder_gone_error(self.path, self.path.parent)}, and where it is "
                                "now cannot be found: the recording is lost")
        if self.frames:
            self._place(overwrite=False if cut_short else None)
        else:
            self._held.remove_temp(self._tmp)

    def _follow_folder(self) -> bool:
        """Point the recording's names into its folder where it is now, when it was renamed or
        moved since the recording began: the encoder wrote on through its open file, into the
        folder under its new name, and the finished file was left there under its hidden name
        (placing it by the old path failed with a FileNotFoundError traceback). True when the
        folder is gone from its name and where it went cannot be found (removed, or a system
        without /proc or F_GETPATH: :meth:`~vidstyle.io.files.HeldOutputFolder.where_now`)."""
        if self._held.still_there():
            return False
        now = self._held.where_now()
        if now is None:
            return True
        self.moved_from = self.path.parent
        self._tmp, self.path = now / self._tmp.name, now / self.path.name
        return False

    def _place(self, overwrite: bool | None = None) -> None:
        """Rename the finished file onto :attr:`path`, replacing what is there when ``overwrite``
        (default: as the recording was asked). Otherwise a file under that name stays, and the
        recording, which cannot be made again, takes the next free numbered name (PATH-2,
        PATH-3...), which :attr:`path` then is; so does one that cannot replace the file there
        (Windows refuses while a player holds it open), as other outputs are kept beside it
        (:func:`vidstyle.io.files.atomic_output`), :attr:`not_replaced` saying why."""
        from vidstyle.io.files import move_into_place, place_beside

        overwrite = self.overwrite if overwrite is None else overwrite
        refused = None
        try:
            move_into_place(self._tmp, self.path, overwrite)
            return
        except FileExistsError:
            pass
        except PermissionError as exc:
            if not (overwrite and self.path.exists()):
                raise
            self.not_replaced, refused = exc.strerror or str(exc), exc
        self.path = place_beside(self._tmp, self.path, refused=refused)


#: SIGTERM/SIGHUP that arrived while :func:`_interrupts_deferred` held them: the exit status still
#: says the session was terminated (vidstyle live's live_command reads it).
DEFERRED_TERMINATIONS: list[int] = []


def _interrupts_deferred():
    """Stop signals held while live stops: nothing cuts the files' finalization short (Ctrl-C is
    dropped, a termination noted in :data:`DEFERRED_TERMINATIONS`)."""
    return stop_signals_held(deliver=False, noted=DEFERRED_TERMINATIONS)


def _signals_held():
    """Stop signals held while a frame is recorded, and delivered after it: a frame is recorded
    whole or not at all (interrupted between the encoder's call and the muxer's, a recording
    lost the frames in hand)."""
    return stop_signals_held(deliver=True)


class ProcessExitHook:
    """Runs ``fn`` if the C library's ``exit()`` ends the process while the block runs.

    Qt's X11 backend (OpenCV's window) calls ``exit(1)`` from inside ``cv2.waitKey`` when the
    display connection breaks (the X server stopped, ssh X forwarding dropped, ``xkill``). That
    skips every Python ``finally``, so without this the recording would be left unfinalized under
    its hidden temporary name.

    Only with glibc, and only armed on the main thread (OpenCV's windows live there): ``fn`` runs
    when ``exit()`` is called on the thread that armed it, which is then inside a C call and
    touches nothing else; an ``exit()`` on another thread leaves the files alone rather than race
    the loop. Disarming removes the handler with ``__cxa_finalize`` on the handle it was
    registered with, which runs it once now (doing nothing) and deletes it: a ctypes callback
    still registered when the interpreter has shut down would crash the normal exit. musl's
    ``__cxa_finalize`` does nothing, hence glibc only; elsewhere the hook does nothing.
    """

    _CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

    def __init__(self, fn: Callable[[], None]):
        self._fn = fn
        self._armed = False
        self._registered = False
        self._thread: int | None = None
        self._register = self._finalize = None
        try:
            if not os.confstr("CS_GNU_LIBC_VERSION"):
                return
            libc = ctypes.CDLL(None)
            # getattr: written as attributes, the names would be mangled inside this class
            self._register, self._finalize = getattr(libc, "__cxa_atexit"), getattr(libc, "__cxa_finalize")
        except Exception:  # noqa: BLE001 - not glibc (Windows has no confstr, musl no name): no hook
            self._register = self._finalize = None
            return
        self._register.argtypes = [self._CALLBACK, ctypes.c_void_p, ctypes.c_void_p]
        self._finalize.argtypes = [ctypes.c_void_p]
        self._handle = ctypes.create_string_buffer(1)  # a unique address: this hook's own "DSO handle"
        self._callback = self._CALLBACK(self._run)  # kept referenced while registered

    @property
    def supported(self) -> bool:
        return self._register is not None

    def _run(self, _arg) -> None:
        if self._armed and threading.get_ident() == self._thread:
            self._armed = False
            try:
                self._fn()
            except BaseException as exc:  # noqa: BLE001 - the process is ending: say it, nothing else can
                sys.stderr.write(f"vidstyle: error: finalizing the outputs failed: {printable(exc)}\n")
                sys.stderr.flush()

    def arm(self) -> None:
        if self._register is not None and not self._registered \
                and threading.current_thread() is threading.main_thread():
            self._thread = threading.get_ident()
            self._armed = True
            self._registered = self._register(self._callback, None, ctypes.addressof(self._handle)) == 0
            self._armed = self._registered

    def disarm(self) -> None:
        self._armed = False
        if self._registered:  # never with a NULL handle: that would run every exit handler now
            self._registered = False
            self._finalize(ctypes.addressof(self._handle))

    def __enter__(self) -> "ProcessExitHook":
        self.arm()
        return self

    def __exit__(self, *exc) -> None:
        self.disarm()


class RecordingPaths:
    """Where each recording goes: ``--record PATH`` first, then PATH-2, PATH-3...; without it,
    timestamped files in the output folder. Numbered names never overwrite an existing file."""

    def __init__(self, base: Path | None, output_dir: Path):
        self.base, self.output_dir = base, output_dir
        self.count = 0  # recordings begun (begun()): a refused one takes no number, the next tries it again

    def next(self) -> Path:
        """The path the next recording takes, the same until :meth:`begun` says it was taken."""
        if self.base is None:
            create_output_folder(self.output_dir)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            first = path = self.output_dir / f"vidstyle-live-{stamp}.mp4"
            n = 1
            while path.exists():
                n += 1
                path = numbered_name(first, n)
            return path
        if self.count == 0:
            return self.base
        n = self.count + 1
        while (path := numbered_name(self.base, n)).exists():
            n += 1
        return path

    def begun(self) -> None:
        """The path :meth:`next` gave is a recording's now: the next one is numbered after it."""
        self.count += 1

    def unused(self) -> None:
        """The recording last begun stopped before its first frame, leaving no file: its name is
        the next one's again (the next was numbered after a file that is not there)."""
        self.count = max(0, self.count - 1)


def check_virtual_camera() -> None:
    """A VidstyleError with the install hint when pyvirtualcam is missing."""
    import importlib.util

    if importlib.util.find_spec("pyvirtualcam") is None:
        raise VidstyleError("--virtual-cam needs pyvirtualcam (pip install pyvirtualcam) and a virtual camera "
                            "driver (v4l2loopback on Linux, OBS Virtual Camera on Windows/macOS)")


class VirtualCamera:
    """The stylized feed as a virtual webcam for video-call apps (pyvirtualcam)."""

    def __init__(self, width: int, height: int, fps: float):
        check_virtual_camera()
        import pyvirtualcam

        try:
            self.cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB)
        except Exception as exc:  # no driver/device: pyvirtualcam raises RuntimeError with the reason
            raise VidstyleError(f"cannot start the virtual camera: {exc}") from None

    def send(self, image: np.ndarray) -> None:
        self.cam.send(np.ascontiguousarray(image))

    def close(self) -> None:
        self.cam.close()


# --- the loop ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveOptions:
    """What a live run shows, writes and for how long (see ``vidstyle live --help``)."""

    window: bool = True
    side_by_side: bool = False
    fullscreen: bool = False
    overlay: bool = True
    record: Path | None = None
    overwrite: bool = False
    output_dir: Path = Path(".")
    duration: float | None = None
    virtual_cam: bool = False
    temporal: bool = False
    temporal_strength: float | None = None  # None: each style's own (vidstyle.models.zoo.temporal_strength_for)
    bars: str = "keep"  # keep: black letterbox/pillarbox bars stay as they are (vidstyle.letterbox); stylize
    style_strength: float = 1.0  # how much of the style, at the start ([ and ] change it)
    keep_colors: bool = False  # the input's colours, at the start (c toggles it)

    def __post_init__(self):
        from vidstyle.config import check_bars_mode, check_look, check_temporal

        check_look(self.style_strength, self.keep_colors)
        check_bars_mode(self.bars)  # "Keep" would have meant "stylize" without a word
        check_temporal("flow", self.temporal_strength)


def _next_style_that_loads(styles: StyleBank, controls: LiveControls, shown: int, step: int, log,
                           fits: Callable[[object], None] | None = None):
    """The stylizer of ``controls.style_index`` (where n or p just moved it), else of the first
    style after it in the direction of ``step`` that loads, ``controls.style_index`` moved there;
    None where none but the one ``shown`` does (``controls.style_index`` put back to it). Styles
    load on first use, so a file deleted or damaged since the start fails only now: said, as a
    failed snapshot is, and skipped (staying on it, n never got past a broken style). So is one
    that ``fits`` refuses (a VidstyleError: a standard network the memory cannot hold at this size)."""
    while True:
        try:
            stylizer = styles.get(controls.style_index)
            if fits is not None:
                fits(stylizer)
            return stylizer
        except VidstyleError as exc:
            failed = styles.label(controls.style_index)
            controls.style_index = (controls.style_index + step) % len(styles)
            if controls.style_index == shown:
                log(f"cannot show {failed}: {exc}; staying with {styles.label(shown)}")
                return None
            log(f"cannot show {failed}: {exc}; skipped")


def _stylize_frame(image: np.ndarray, prev_input: np.ndarray | None, stylizer, stabilizer, strength: float,
                   area: PictureArea | None) -> np.ndarray:
    """The network's and the stabilizer's work on one frame (run on the session's network thread)."""
    if (area is None and stabilizer is not None and strength > 0 and stabilizer.applies_to_tensors
            and _stabilizes_on_device(stylizer)):  # a GPU: the stabilizer blends there, before the frame comes back
        state = None if prev_input is None else stabilizer.estimate(prev_input, image)
        return stylizer.submit_batch([image], stabilizer=stabilizer, states=[state]).result()[0]
    if area is None:
        stylized = stylizer.stylize(image)
    else:
        stylized = area.paste(image, stylizer.stylize(area.crop(image)))
    if stabilizer is not None and strength > 0:
        if area is not None:  # the picture's edges, not black, under its warp (see the pipeline)
            stylized = area.extend_edges(stylized)
        stylized = stabilizer.step(prev_input, image, stylized)
        if area is not None:  # its warp carries the painted picture into the bars: put back
            stylized = area.restore_bars(stylized, image)
    elif stabilizer is not None:  # strength 0 returns the frame as it is: skip the flow
        stabilizer.reset()  # and start afresh when the strength goes up again
    return stylized


class _CutShort(BaseException):
    """Raised in the network's thread to end a call the stopped session no longer wants (not an
    Exception: a ``except Exception`` in torch or a stylizer must not take it for the network's)."""


class NetworkThread:
    """The one thread a live session's network runs on (always the same: a compiled network's
    graphs and dynamo's limits are per thread). :meth:`stop` cuts a call under way short, as
    Ctrl-C did when the network ran on the main thread: waited for, a frame of a standard network
    (about 3 s at 640x360 on 2 busy cores), a style's first load or a ``torch.compile`` warm-up
    (76 s, cold, on 2 cores) kept the process working on after the summary, q's window gone. The exception comes at the
    thread's next bytecode: a C call under way is waited for (between torch's ops, little; the C++
    compiler that ``torch.compile`` runs, and waits for, seconds; a style's first ONNX Runtime
    session, most of a second), except ONNX Runtime's run of a frame, told to end at its next
    layer (:func:`vidstyle.export.stop_run`)."""

    #: how long a call that returned just as it was cut short waits for the exception sent to it,
    #: which comes at one of the thread's next bytecodes (unless the call took it for its own)
    CATCH_S = 0.05

    def __init__(self):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidstyle-live-network")
        self._lock = threading.Lock()
        self._running: int | None = None  # the thread's id while a call runs on it
        self._cut = False
        # the thread started now: started by the first call, a Ctrl-C from inside that call (the
        # warm-up's) could land in the start, before the executor kept the thread, and stop() left it
        self._executor.submit(int).result()

    def submit(self, fn, *args):
        """A future of ``fn(*args)`` run on the thread (:data:`_ABANDONED` once cut short)."""
        return self._executor.submit(self._call, fn, args)

    def _call(self, fn, args):
        try:
            caught = False
            try:
                with self._lock:
                    self._running = threading.get_ident()
                return fn(*args)
            except _CutShort:
                caught = True
                return _ABANDONED
            finally:
                with self._lock:
                    self._running, sent = None, self._cut and not caught
                # sent as the call returned: caught here, not in the executor's own loop (which
                # would log it as a crash)
                deadline = time.monotonic() + self.CATCH_S
                while sent and time.monotonic() < deadline:
                    time.sleep(0.001)
        except _CutShort:
            return _ABANDONED

    def stop(self) -> None:
        """Cut the call under way short, if any, and end the thread (joined: none is left)."""
        with self._lock:
            if self._running is not None:
                self._cut = True
                # ONNX Runtime runs a whole frame in one C call, which the exception waits for: told
                # to end (vidstyle.export is loaded where a network runs there)
                onnx = sys.modules.get("vidstyle.export")
                if onnx is not None:
                    onnx.stop_run(self._running)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._running), ctypes.py_object(_CutShort))
        self._executor.shutdown(wait=True, cancel_futures=True)


def run_live(source: FrameSource, styles: StyleBank, options: LiveOptions = LiveOptions(), *,
             keys: Callable[[], int] | None = None, log: Callable[[str], None] | None = None) -> LiveSummary:
    """Stylize ``source`` live until quit, ``duration``, the end of the source or Ctrl-C.

    Args:
        keys: returns the next key code or -1 (default: the window's keyboard; none without one).
        log: receives one-line messages and the final summary.
    Every output (recording, virtual camera, window, capture thread) is closed on every exit path;
    exceptions propagate after that. The network and the stabilizer run on a thread of their own,
    always the same one (torch keeps a compiled network's limits per thread), while this thread
    keeps the window's events going: every key typed during a frame is queued and applied, in
    order, once the frame is shown (state changes happen between frames, here); q, Esc or the
    window closed stop the session without waiting for the frame (cut short at the end, after the
    outputs, and the thread joined: :class:`NetworkThread`). A ready
    :class:`~vidstyle.stylizer.Stylizer` in ``styles`` keeps its own look unless ``options`` asks
    for one; the ``[``, ``]`` and ``c`` keys change it (:meth:`~vidstyle.stylizer.Stylizer.set_look`),
    and it keeps the last look after the run.
    """
    log = log or (lambda msg: None)
    # the strength follows each style's own until the user picks one (--temporal-strength or +/-)
    strength_chosen = options.temporal_strength is not None
    controls = LiveControls(len(styles), stabilizer_on=options.temporal,
                            strength=options.temporal_strength if strength_chosen else styles.temporal_strength(0),
                            recording=options.record is not None, style_strength=options.style_strength,
                            keep_colors=options.keep_colors)
    paths = RecordingPaths(options.record, options.output_dir)
    width, height = source.width, source.height
    window = recording = vcam = stabilizer = None
    recordings: list[str] = []
    snapshots: list[str] = []
    errors: list[str] = []
    # folder -> the last recording begun there, where it is now, for folders renamed or moved while
    # recording: a recording begun there next is refused, and the refusal says where they went
    moved_folders: dict[Path, Path] = {}
    grabber = FrameGrabber(source)
    stats = LiveStats()
    stop_reason = "error"
    t_start = time.perf_counter()
    summaries: list[LiveSummary] = []
    network = NetworkThread()
    pending: deque[int] = deque()  # keys typed while the network worked, applied in order after the frame
    window_gone = False  # the window closed while the network worked
    window_seen = False  # the window seen open (closed() False) before any frame was shown in it

    def finish(reason: str, window_usable: bool = True) -> LiveSummary:
        """Finalize every output once (the loop's ``finally``, or the exit hook when the display
        is lost) and log the summary."""
        if summaries:
            return summaries[0]
        t_end = time.perf_counter()
        # the session's counts now: the source goes on reading (and a paced file skipping) while
        # the recording is finalized, which can take seconds for VP9
        captured, dropped = grabber.captured, grabber.dropped + source.skipped
        try:
            # the recording first, and a second Ctrl-C (or SIGTERM) waits: a user stopping twice
            # must still get the file, not a half-written one (README: finalized on every exit path)
            with _interrupts_deferred():
                try:
                    if recording is not None:  # (a session ended by an error cut it short)
                        stop_recording(recording, t_end, quiet=True,
                                       cut_short=reason == "error" or not window_usable)
                finally:  # a recording that fails to finalize must not leave the camera open
                    grabber.stop()
        finally:
            if vcam is not None:
                vcam.close()
            if window is not None and window_usable:
                window.close()
        summaries.append(stats.summary(source.description, captured, t_end - t_start, reason,
                                       dropped=dropped, recordings=recordings, snapshots=snapshots, errors=errors))
        if grabber.started:  # nothing to report when setup failed before capture began
            damaged = getattr(source, "damaged_packets", 0)
            if damaged:
                log(f"skipped {damaged} damaged video packet(s) of {source.description} that would not decode")
            log(summaries[0].text())
        elif reason in ("interrupted", "terminated", "quit", "window closed"):
            log(f"live stopped ({reason}) before the first frame")
        return summaries[0]

    def stop_recording(finished: Recording, t_stop: float, quiet: bool = False, failed: str | None = None,
                       cut_short: bool = False) -> None:
        """Finalize ``finished``; a failure (a full disk) is reported and counted, not raised:
        the session, or its summary, goes on. ``failed``: why it stopped early (one error for the
        recording, however its finalizing goes). ``cut_short``: the session stopped at an error
        (so did the recording, as with ``failed``: a part, which never replaces a file)."""
        cut_short = cut_short or failed is not None
        try:
            finished.close(t_stop, cut_short=cut_short)
        except VidstyleError as exc:
            errors.append(f"recording {finished.path}: {failed or exc}")
            log(f"not recorded: {exc}")
            if finished.path.is_file():  # a Matroska recording kept up to the failure
                recordings.append(str(finished.path))
            return
        if failed:
            errors.append(f"recording {finished.path}: {failed}")
        elif not finished.frames:  # (r pressed twice within one frame): "recording to" was said, no file is left
            paths.unused()
            log(f"nothing recorded to {finished.path}: stopped before its first frame")
        if finished.frames and finished.moved_from is not None:
            moved_folders[finished.moved_from] = finished.path
            log(f"{finished.moved_from} was renamed or moved while recording: the recording is {finished.path}")
        elif finished.frames and finished.path != finished.asked and cut_short:
            log(f"what was recorded is kept in {finished.path}, beside {finished.asked}")
        elif finished.frames and finished.not_replaced:
            log(f"cannot replace {finished.asked} ({finished.not_replaced}: is it open in another program?): "
                f"the recording is {finished.path}")
        elif finished.frames and finished.path != finished.asked:
            log(f"{finished.asked} appeared while recording (another program's?): the recording is {finished.path}")
        if finished.frames:
            recordings.append(str(finished.path))
            if not quiet:
                log(f"recorded {finished.path} ({finished.frames} frames)")
        if finished.thinned:
            log(f"{finished.path.name}: left out {finished.thinned} frame(s) that came closer to the one before "
                f"than {finished.path.suffix} can time")

    def ended_by_native_code() -> None:
        # in practice the window's toolkit, whose display connection broke (see ProcessExitHook)
        why = "the window's display connection broke" if window is not None else "a library ended the process"
        try:
            finish(why, window_usable=False)
        finally:
            stop_network()
        log(f"vidstyle: error: {why}; outputs were finalized")

    def stop_network() -> None:
        """After the outputs are done and said: a frame no longer wanted (q or Ctrl-C during it) is
        cut short, and no thread is left running."""
        network.stop()

    def stop_wanted() -> bool:
        """q or Esc typed, or the window closed, while the network worked."""
        return window_gone or any(key_action(k) is Action.QUIT for k in pending)

    def take_key() -> None:
        """Queue the key typed since the last look, if any (with a window: its events pumped, so it
        redraws and answers its window manager)."""
        key = keys() if keys is not None else -1
        if key is not None and key >= 0:
            pending.append(key)

    def pump() -> None:
        """One look at the window while the network works."""
        nonlocal window_gone, window_seen
        take_key()
        if not window_gone:
            # before the first frame too, once seen open: closed during the warm-up (a compile of a
            # minute) it went unseen, and the first frame then failed to show in a window that was
            # gone (Qt: "NULL guiReceiver (please create a window)"); not before it was seen open,
            # as a window not yet shown may read as closed
            closed = window.closed()
            window_gone = closed and bool(stats.processed or window_seen)
            window_seen = window_seen or not closed

    def on_network_thread(fn, *args):
        """``fn(*args)`` on the network's thread, the window pumped meanwhile; :data:`_ABANDONED`
        when a stop is wanted before it returns (or already was: nothing is begun then)."""
        if window is not None and stop_wanted():
            return _ABANDONED
        future = network.submit(fn, *args)
        while True:
            try:  # (a timeout: on Windows a wait without one is deaf to Ctrl-C)
                return future.result(timeout=KEY_POLL_S if window is not None else 0.25)
            except FutureTimeout:
                if window is not None:
                    pump()
                    if stop_wanted():
                        return _ABANDONED

    def fits_in_memory(stylizer) -> None:
        if width and height:
            check_live_memory(stylizer, (height, width), controls.stabilizer_on, options.side_by_side)

    def handle(key: int) -> bool:
        """Apply ``key`` (between frames); True when the session is to stop."""
        nonlocal stylizer, shown_style, prev_input, stabilizer, strength_chosen, recording
        action = controls.handle(key)
        if action is Action.QUIT:
            return True
        if action in (Action.NEXT_STYLE, Action.PREV_STYLE):
            # loaded on the network's thread, the window answering meanwhile (a first load takes seconds)
            wanted = on_network_thread(_next_style_that_loads, styles, controls, shown_style,
                                       1 if action is Action.NEXT_STYLE else -1, log, fits_in_memory)
            if wanted is None or wanted is _ABANDONED:
                return False
            stylizer, shown_style = wanted, controls.style_index
            _apply_look(stylizer, controls)
            prev_input = None
            if not strength_chosen:
                controls.strength = styles.temporal_strength(controls.style_index)
            if stabilizer is not None:
                stabilizer.reset()  # do not blend the old style into the new one
                stabilizer.strength = controls.strength
            log(f"style: {styles.label(controls.style_index)}"
                + (f" (stabilizer strength {controls.strength:g})" if stabilizer is not None else ""))
        elif action is Action.TOGGLE_STABILIZER:
            if controls.stabilizer_on:
                try:
                    stabilizer = _make_stabilizer(controls.strength)
                except VidstyleError as exc:
                    controls.stabilizer_on = False
                    log(f"stabilizer unavailable: {exc}")
                prev_input = None
            else:
                stabilizer = None
            log(f"stabilizer {'on' if controls.stabilizer_on else 'off'}")
        elif action in (Action.STRENGTH_UP, Action.STRENGTH_DOWN):
            strength_chosen = True
            if stabilizer is not None:
                stabilizer.strength = controls.strength
            log(f"stabilizer strength {controls.strength:.1f}")
        elif action in (Action.STYLE_UP, Action.STYLE_DOWN, Action.TOGGLE_COLORS):
            if _apply_look(stylizer, controls):
                log(f"style strength {controls.style_strength:g}, "
                    f"{'input' if controls.keep_colors else 'style'} colours")
            else:
                log(f"{styles.label(controls.style_index)} cannot change its style strength or colours")
        elif action is Action.SNAPSHOT and last_stylized is not None:
            try:  # a full disk or a read-only folder must not end the session
                snapshots.append(str(_snapshot(last_stylized, last_input if options.side_by_side else None,
                                               options.output_dir)))
                log(f"snapshot {snapshots[-1]}")
            except VidstyleError as exc:
                log(f"no snapshot: {exc}")
        elif action is Action.TOGGLE_RECORD:
            if recording is not None:
                recording, finished = None, recording
                stop_recording(finished, time.perf_counter())
            else:
                path = None
                try:  # as for snapshots: the session goes on without the recording
                    path = paths.next()
                    recording = Recording(path, width, height, source.fps)
                    paths.begun()
                    log(f"recording to {recording.path}")
                except VidstyleError as exc:
                    controls.recording = False
                    # "output folder does not exist" alone read as though it never had
                    last = moved_folders.get(path.parent) if path is not None and not path.parent.is_dir() \
                        else None
                    log(f"not recording: {exc}" + (f" (renamed or moved while recording: the last recording "
                                                   f"is {last})" if last else ""))
        return False

    stylizer = shown_style = last_stylized = last_input = prev_input = None
    exit_hook = ProcessExitHook(ended_by_native_code)
    try:
        exit_hook.arm()
        if options.virtual_cam:  # first: a missing loopback device fails before a recording is begun and said
            vcam = VirtualCamera(width, height, source.fps)
        stylizer, shown_style = styles.get(0), 0
        fits_in_memory(stylizer)  # refused before the recording begins and the network warms up, as stylize is
        if controls.recording:
            recording = Recording(paths.next(), width, height, source.fps, overwrite=options.overwrite)
            paths.begun()
            log(f"recording to {recording.path}")
        if (options.style_strength, options.keep_colors) == (LiveOptions.style_strength, LiveOptions.keep_colors):
            # no look asked for: a ready stylizer of the caller's starts with its own
            controls.style_strength = getattr(stylizer, "style_strength", controls.style_strength)
            controls.keep_colors = getattr(stylizer, "keep_colors", controls.keep_colors)
        _apply_look(stylizer, controls)
        if controls.stabilizer_on:
            stabilizer = _make_stabilizer(controls.strength)
        log(f"style: {styles.label(0)}" + (f" (stabilizer strength {controls.strength:g})" if stabilizer else "")
            + (f", {controls.look_text(', ')}" if controls.look_text() else "")
            + (f"; n / p switch between {len(styles)}" if len(styles) > 1 else ""))
        if options.window:
            window = LiveWindow(fullscreen=options.fullscreen)
            keys = keys or window.key
        if width and height:  # warm the network up so the first live frame is not artificially late
            # a textured frame: one of (almost) one colour never reaches the network (Stylizer); on
            # the thread that runs it (a compiled network's graphs are that thread's)
            warmed = on_network_thread(stylizer.stylize, np.random.default_rng(0).integers(0, 256, (height, width, 3),
                                                                                           np.uint8))
            if warmed is _ABANDONED:  # q, Esc or the window closed meanwhile: no capture begun, no bars read
                stop_reason = "window closed" if window_gone else "quit"
                return finish(stop_reason)  # (the same summary as the finally's finish gives)

        area, bars_pending = None, options.bars == "keep"
        # a file's frames spread over it, for the bars, read now: read on the first frame, they
        # froze it for half a second (and a --realtime source skipped what came due meanwhile)
        bar_samples = file_bar_samples(source) if bars_pending else []
        grabber.start()
        t_start = time.perf_counter()
        t_last_frame, stalled, stall_shown = t_start, False, -1  # (the window's count of the stall's seconds)
        while True:
            if options.duration is not None and time.perf_counter() - t_start >= options.duration:
                stop_reason = "duration reached"
                break
            try:
                frame = grabber.get(timeout=0.02 if window else 0.25)
                if frame is None:
                    stop_reason = (f"{source.description} stopped delivering frames" if source.lost
                                   else "end of source")
                    break
            except TimeoutError:
                frame = None  # nothing new yet: still poll the keyboard
                if source.holding():  # a file's frame that lasts: counted from when the next is due
                    t_last_frame = time.perf_counter()
                waited = time.perf_counter() - t_last_frame
                if stats.processed and waited >= max(STALL_NOTICE_S, 3.0 / (source.fps or 30.0)):
                    if not stalled:  # said once in the log; the window counts the seconds
                        stalled = True
                        log(f"no frame from {source.description} for {waited:.0f} s: waiting for it "
                            "(q, Esc or Ctrl-C stops)")
                    if window is not None and options.overlay and int(waited) != stall_shown:
                        stall_shown = int(waited)
                        window.show(compose_view(last_stylized, last_input if options.side_by_side else None,
                                                 f"no frame from {source.description} for {stall_shown} s",
                                                 recording is not None))
            if frame is not None:
                if stalled:
                    log(f"{source.description} delivers again, after {time.perf_counter() - t_last_frame:.1f} s "
                        "without a frame")
                    stalled, stall_shown = False, -1
                t_last_frame = time.perf_counter()
                if bars_pending:  # found once, on the first frame (and frames spread over a file)
                    bars_pending = False
                    area = live_picture_area(frame.image, bar_samples, getattr(source, "chroma", None))
                    if area is not None:
                        log(f"keeping the black bars: {area.describe()}")
                if area is not None and not area.holds(frame.image):
                    area = None  # for good, as in files
                    log("the picture reaches into the black bars: stylizing whole frames from now on")
                stylized = on_network_thread(_stylize_frame, frame.image, prev_input, stylizer, stabilizer,
                                             controls.strength, area)
            if frame is not None and stylized is not _ABANDONED:
                prev_input = frame.image
                last_stylized, last_input = stylized, frame.image
                if window is not None:
                    overlay = None
                    if options.overlay:
                        overlay = f"{stats.overlay_text()}{styles.label(controls.style_index)}"
                        if stabilizer is not None:
                            overlay += f"  stab {controls.strength:.1f}"
                        if controls.look_text():
                            overlay += f"  {controls.look_text()}"
                    window.show(compose_view(stylized, frame.image if options.side_by_side else None, overlay,
                                             recording is not None))
                # The window draws while its events are pumped (waitKey): the frame is on screen after it.
                take_key()
                with _signals_held():  # a frame counted as processed is in the recording too
                    stats.frame_shown(frame.t_capture, time.perf_counter())
                    if recording is not None:
                        try:
                            recording.write(stylized, frame.t_capture)
                        except (VidstyleError, OSError) as exc:  # a full disk: said now, the session goes on
                            recording, failed = None, recording
                            controls.recording = False
                            log(f"recording stopped: {exc}")
                            stop_recording(failed, frame.t_capture, failed=f"stopped: {exc}")
                if vcam is not None:
                    vcam.send(stylized)
                if window is None and stats.processed == 1:  # no window shows that the warm-up is over
                    log("running (Ctrl-C stops)")
            elif frame is None:
                take_key()
            stop = False
            while pending and not (stop or window_gone):  # each key typed, in order
                stop = handle(pending.popleft())
            if window is not None and (window_gone or stats.processed and window.closed()):
                stop_reason = "window closed"
                break
            if stop:
                stop_reason = "quit"
                break
    except KeyboardInterrupt as exc:
        stop_reason = "terminated" if isinstance(exc, Terminated) else "interrupted"
    finally:
        exit_hook.disarm()
        try:
            summary = finish(stop_reason)
        finally:
            stop_network()
    return summary


def _apply_look(stylizer, controls: LiveControls) -> bool:
    """Give ``stylizer`` the controls' style strength and colours; False for a ready stylizer of
    the caller's that has no :meth:`~vidstyle.stylizer.Stylizer.set_look`."""
    set_look = getattr(stylizer, "set_look", None)
    if set_look is None:
        return False
    set_look(controls.style_strength, controls.keep_colors)
    return True


def file_bar_samples(source: FrameSource) -> list[np.ndarray]:
    """For a file source, frames spread over the file at the source's size, in which black bars
    are looked for as ``vidstyle stylize`` does; none for a camera (it has only what it shows)."""
    if not isinstance(source, FileSource):
        return []
    try:
        samples = spread_samples(source.path, BAR_SAMPLE_FRAMES)
    except VidstyleError:
        return []
    return [resize_frame(f, source.size) for f in samples]


def live_picture_area(first: np.ndarray, samples: list[np.ndarray] = (),
                      chroma: tuple[int, int] | None = None) -> PictureArea | None:
    """The picture inside black bars, found on the first frame and the file's ``samples``
    (:func:`file_bar_samples`; those of another size are left out); ``chroma``: the source's
    (:attr:`~vidstyle.io.capture.FrameSource.chroma`)."""
    return find_picture_area([first, *(f for f in samples if f.shape == first.shape)], chroma=chroma)


def _snapshot(stylized: np.ndarray, original: np.ndarray | None, folder: Path) -> Path:
    create_output_folder(folder)  # made on first use, as for r-started recordings
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
    path = folder / f"vidstyle-snapshot-{stamp}.png"
    view = cv2.cvtColor(compose_view(stylized, original, None), cv2.COLOR_BGR2RGB)
    # written as every image vidstyle writes: cv2.imwrite said neither why it failed (the folder
    # not writable, a full disk) nor only once, printing OpenCV's own "[ WARN:0@21.9] ... imwrite_"
    # line between live's; write_then_rename turns an OSError into one line with its reason. Fast,
    # as cv2.imwrite's was (zlib level 1): the session's frames wait while it is written
    with write_then_rename(path) as temp:  # a full disk leaves no half-written PNG
        write_image(temp, view, format="PNG", fast=True)
    return path


# --- command line --------------------------------------------------------------------------------

def open_source(args) -> FrameSource:
    """The frame source named by the command-line arguments."""
    if args.source:
        if args.fps:
            raise VidstyleError("--fps applies to cameras; a --source file plays at its own frame rate "
                                "(with --realtime) or as fast as it can be stylized")
        return FileSource(args.source, realtime=args.realtime, size=args.size, loop=args.loop)
    if args.realtime or args.loop:
        raise VidstyleError("--realtime and --loop apply to --source FILE")
    if args.camera and Path(args.camera).is_file():  # OpenCV would open it and race through it
        raise VidstyleError(f"--camera {args.camera} is a file: replay it with --source (add --realtime to pace "
                            "it as a camera would)")
    kind = special_file_kind(args.camera) if args.camera else None
    if kind in ("a pipe", "a socket"):  # OpenCV would wait in open() for a writer, deaf to Ctrl-C and kill
        raise VidstyleError(f"--camera {args.camera} is {kind}, not a camera: give a camera index or device "
                            "(e.g. 0 or /dev/video2), or save the stream to a file and replay it with --source")
    return CameraSource(args.camera or "0", size=args.size, fps=args.fps)


def live_command(args) -> int:
    """``vidstyle live``, its arguments parsed and checked by :mod:`vidstyle.cli` (window options
    that --no-window leaves unused are refused there)."""
    options = LiveOptions(window=not args.no_window, side_by_side=args.side_by_side, fullscreen=args.fullscreen,
                          overlay=not args.no_overlay, record=Path(args.record) if args.record else None,
                          overwrite=args.overwrite, output_dir=Path(args.output_dir or "."), duration=args.duration,
                          virtual_cam=args.virtual_cam, temporal=args.temporal == "flow",
                          temporal_strength=args.temporal_strength, bars=args.bars,
                          style_strength=args.style_strength, keep_colors=args.keep_colors)
    if options.window:
        check_display()  # before loading anything: fail fast with the --no-window hint
        probe_window()
    if options.record is not None:
        from vidstyle.io.files import check_output

        # the name as given: Path() would drop a trailing slash, which names a folder
        check_output(check_recording_name(args.record), input=args.source,
                     overwrite=options.overwrite)  # before the camera opens
    if args.stats_json:  # checked now, not after the session
        from vidstyle.io.files import check_output_file

        from vidstyle.io.files import same_file

        if options.record is not None and same_file(Path(args.stats_json), options.record):
            raise VidstyleError(f"--stats-json {args.stats_json} is the --record file")
        try:
            check_output_file(args.stats_json, inputs=[args.source], overwrite=options.overwrite)
        except VidstyleError as exc:  # (said as the option's: live may write a recording too)
            raise VidstyleError(f"--stats-json: {exc}") from None
    if args.output_dir is not None:  # now, as bench checks its --out, not at the first s or r
        from vidstyle.io.files import check_writable_folder

        check_writable_folder(args.output_dir, "--output-dir")
    if options.virtual_cam:
        check_virtual_camera()  # before the model loads and the camera opens
    stylizer_args = dict(device=args.device, precision=args.precision, channels_last=not args.no_channels_last,
                         max_side=args.max_side, scale=args.scale)
    stylizer_args["backend"] = args.backend
    styles = StyleBank(args.style or default_styles(), **stylizer_args)
    source = open_source(args)

    def log(msg: str) -> None:  # (the summary is several lines: each is made printable)
        print("\n".join(printable(line) for line in msg.split("\n")), file=sys.stderr, flush=True)

    # SIGTERM (a service manager) and SIGHUP (a closed terminal) end the run like Ctrl-C, so
    # recordings are finalized and the summary written; then the exit status says it was
    # terminated (128 + the signal), where Ctrl-C, like q, is a normal stop
    terminated = []

    def on_term(signum, frame):
        terminated.append(signum)
        raise Terminated

    # a signal the process was told to ignore (SIGHUP under nohup) stays ignored, as in every command
    ended_by = [s for s in TERMINATIONS if ours_to_handle(s)]
    DEFERRED_TERMINATIONS.clear()
    previous = {sig: signal.signal(sig, on_term) for sig in ended_by}
    try:
        summary = run_live(source, styles, options, log=log)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    terminated += DEFERRED_TERMINATIONS
    if args.stats_json:
        with write_then_rename(args.stats_json, overwrite=options.overwrite) as temp:  # a full disk leaves no empty file
            temp.write_text(json.dumps({"schema": LIVE_STATS_SCHEMA, **summary.to_dict()}, indent=2) + "\n")
    if source.lost:
        raise VidstyleError(f"{source.description} stopped delivering frames (unplugged, or its stream ended); "
                            "outputs were finalized")
    if terminated:  # the exit status, and "vidstyle: terminated (SIGTERM)", as every command says it
        raise SystemExit(128 + terminated[0])
    if summary.errors:  # said above; the exit status says it too
        raise VidstyleError(f"{len(summary.errors)} output(s) failed (see above)")
    return 0
