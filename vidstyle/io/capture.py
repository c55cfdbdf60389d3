"""Live frame sources behind one interface, and a capture thread that keeps only the newest frame.

Sources (all yield uint8 (H, W, 3) RGB images with a ``time.perf_counter`` capture timestamp):

* :class:`CameraSource`    an OpenCV ``VideoCapture`` camera (index or device path, backend auto);
* :class:`FileSource`      a video file replayed as if it were a camera: paced at its frame rate, and
  frames whose capture moment has passed are skipped, exactly as a camera keeps delivering
  frames whether or not anyone reads them;
* :class:`SyntheticSource` a generated moving pattern, for the tests and for programs that drive
  :func:`vidstyle.live.run_live` without a camera or a file (no command offers it).

:class:`FrameGrabber` reads a source on its own thread into a one-frame slot. A new frame replaces
an unread one (the stale frame is dropped and counted), so the consumer always gets the newest
frame and latency cannot build up in a queue.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vidstyle.errors import VidstyleError
from vidstyle.frames import resize_frame
from vidstyle.io.display import DisplayConversion
from vidstyle.io.ffmpeg_errors import error_text
from vidstyle.io.files import check_source_video, ffmpeg_path
from vidstyle.io.packets import PacketDecoder, continuous_packets
from vidstyle.io.probe import (clock_stuck, no_video_stream_error, picture_streams, refuse_still_image, say_clock_stuck,
                               stated_length, stream_frame_rate, unreadable_video_error)

log = logging.getLogger("vidstyle")


@dataclass(frozen=True)
class Frame:
    """One captured frame: ``image`` uint8 (H, W, 3) RGB, its sequence number and capture time."""

    image: np.ndarray
    index: int
    t_capture: float  # time.perf_counter() at the moment the frame was captured


class FrameSource:
    """Interface of a live source.

    ``read()`` blocks until the next frame exists and returns ``(image, t_capture)``, or ``None``
    when the source has ended (end of file, camera gone). ``skipped`` counts frames the source
    produced but could not hand over in time (they count as captured and dropped). ``lost`` is set
    when a device stopped delivering frames (unplugged) rather than ending normally.
    """

    description = "source"
    width: int = 0
    height: int = 0
    fps: float = 0.0
    skipped: int = 0
    lost: bool = False
    #: True: frames exist whether or not they are read (camera, paced replay), so stale ones are
    #: dropped. False: a non-paced file, where every frame is waited for.
    live: bool = True
    #: the frames' chroma subsampling as read (DisplayConversion.shown_chroma), for finding black
    #: bars; None where not known (a camera) or there is none (RGB)
    chroma: tuple[int, int] | None = None

    #: a source that plays on its own clock (a replayed file, a synthetic pattern) paces itself here
    _pacer: _Pacer | None = None

    def read(self) -> tuple[np.ndarray, float] | None:  # pragma: no cover - interface
        raise NotImplementedError

    def holding(self) -> bool:
        """Whether the source is waiting for its own next frame's time (a replayed file that holds
        a frame for seconds, as a slideshow or a screen recording does): no frame then is no stall."""
        return self._pacer is not None and self._pacer.holding

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Pacer:
    """Wall-clock schedule of a stream that runs at its own rate: frame ``t`` seconds in is due at
    ``start + t``. A frame more than one interval late is skipped (a camera would already have
    replaced it); a frame that is on time or slightly late is stamped with its due time, so a slow
    producer shows up as latency instead of being hidden."""

    def __init__(self, fps: float):
        self.interval = 1.0 / fps
        self.start: float | None = None
        self.holding = False  # asleep until a frame's time (FrameSource.holding, read from another thread)

    def wait(self, t: float, skip_late: bool = True) -> float | None:
        """Sleep until stream time ``t`` is due; return its capture timestamp, or None to skip it
        (only with ``skip_late``; otherwise a late frame is stamped now)."""
        now = time.perf_counter()
        if self.start is None:
            self.start = now - t
        due = self.start + t
        if now < due:
            self.holding = True
            try:
                time.sleep(due - now)
            finally:
                self.holding = False
            return due
        if now - due > self.interval:
            return None if skip_late else now
        return due


class CameraSource(FrameSource):
    """An OpenCV camera: ``index_or_path`` is a camera index (``0``) or a device path/URL.

    Args:
        size: requested (width, height); the camera may pick the nearest mode it supports.
        fps: requested frame rate.
    """

    #: consecutive failed reads after which the camera is considered unplugged
    MAX_FAILED_READS = 10
    #: seconds a camera may take to deliver its first frame: some fail their reads while they start
    #: (Windows' Media Foundation, a network stream), which the session, reading only after the
    #: network's warm-up, never saw; read at opening, they were refused after 0.1 s
    FIRST_FRAME_WAIT = 5.0

    def __init__(self, index_or_path: int | str = 0, size: tuple[int, int] | None = None, fps: float | None = None):
        import cv2

        target: int | str = index_or_path
        if isinstance(target, str) and target.strip().isdigit():
            target = int(target)
        self.description = f"camera {target}"
        # OpenCV's own FFmpeg prints what it meets while reading (an IP camera's glitches: "partial
        # file", "Stream ends prematurely") straight to stderr, between live's lines, from the
        # capture thread; quiet, the reads fail as before and live says what happened. Read once,
        # when OpenCV first opens an FFmpeg stream; a level the user set is kept.
        if not log.isEnabledFor(logging.DEBUG):
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        backends = _camera_backends()
        with _quiet_opencv():  # each backend that fails logs a warning; we print one line instead
            self.cap = cv2.VideoCapture(target, cv2.CAP_ANY)
            opened = self.cap.isOpened()
        if not opened:
            self.cap.release()
            missing = _missing_device(target)
            if missing:  # the backends tried, and "check that it is connected", said nothing of it
                raise VidstyleError(f"cannot open {self.description}: {missing}; give another --camera, "
                                    "or replay a file with --source FILE --realtime")
            device = f" (/dev/video{target})" if isinstance(target, int) and sys.platform.startswith("linux") else ""
            tried = f"OpenCV VideoCapture({target!r}){device} with automatic backend choice ({backends})"
            # macOS refuses a camera to a program the user has not allowed it to, with no other sign
            # (OpenCV's "not authorized to capture video" is quieted with its other lines above)
            allowed = (", that your terminal may use the camera (System Settings > Privacy & Security > Camera; "
                       "run again once allowed)") if sys.platform == "darwin" else ""
            raise VidstyleError(f"cannot open {self.description}: tried {tried}; check that it is connected"
                                f"{allowed} and not in use, or replay a file with --source FILE --realtime")
        # OpenCV's own log, likewise: a network stream that stalls printed "[ WARN:1@88.8] global
        # cap_ffmpeg_impl.hpp:435 ... Stream timeout triggered after 30030 ms" from the capture
        # thread between live's lines, where live says the stall and the loss itself. Errors
        # still show, and everything when vidstyle's logger is at DEBUG (as for FFmpeg's above);
        # the level is given back at close().
        cv_log = getattr(getattr(cv2, "utils", None), "logging", None)
        self._cv_log_level = None
        if cv_log is not None and not log.isEnabledFor(logging.DEBUG):
            self._cv_log_level = cv_log.getLogLevel()
            cv_log.setLogLevel(min(self._cv_log_level, cv_log.LOG_LEVEL_ERROR))
        if size is not None:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps is not None:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or fps or 30.0)
        self.backend = self.cap.getBackendName()
        self._failed = 0
        self.skipped = 0
        self.lost = False
        self._said_resized = False
        # The size is the first frame's: what a backend reports before reading can differ (the size
        # asked for, a mode the driver then changes, 0x0), and the recording and the virtual camera
        # are opened at this size: a recording opened at the reported one failed on its first frame
        # ("frame size changed mid-stream") and left an empty file. The frame is the first read() when
        # that comes before the camera could replace it (see read()).
        self.width = self.height = 0
        self._peeked: tuple[np.ndarray, float] | None = None
        deadline = time.perf_counter() + self.FIRST_FRAME_WAIT
        while (peeked := self.read()) is None and time.perf_counter() < deadline:
            self._failed, self.lost = 0, False  # starting, not unplugged: try again
        self._peeked = peeked
        if self._peeked is None:
            self.close()
            raise VidstyleError(f"{self.description} opened but delivered no frame; check that it is not in use, "
                                "or replay a file with --source FILE --realtime")
        self.height, self.width = self._peeked[0].shape[:2]

    def read(self) -> tuple[np.ndarray, float] | None:
        import cv2

        if self._peeked is not None:
            peeked, self._peeked = self._peeked, None
            # the frame read for the size, if the camera has had no time to replace it: read at
            # opening, before the network's warm-up, it was the session's first frame seconds late,
            # stamped then (a recording began with it held for the warm-up's length, and the first
            # latency counted the warm-up); as a paced file's late frame, it is passed over
            if time.perf_counter() - peeked[1] <= 1.0 / self.fps:
                return peeked
        while True:
            ok, bgr = self.cap.read()
            t = time.perf_counter()
            if ok and bgr is not None:
                self._failed = 0
                if bgr.ndim == 2:
                    bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if self.width and rgb.shape[:2] != (self.height, self.width):
                    # a camera that changes mode mid-session: scaled to the session's size, as a
                    # file that changes size is (the recording and the stabilizer need one size)
                    if not self._said_resized:
                        self._said_resized = True
                        log.warning("%s changes size mid-stream, from %dx%d to %dx%d: scaling such frames to %dx%d",
                                    self.description, self.width, self.height, rgb.shape[1], rgb.shape[0],
                                    self.width, self.height)
                    rgb = resize_frame(rgb, (self.width, self.height))
                return rgb, t
            self._failed += 1
            if self._failed >= self.MAX_FAILED_READS:
                self.lost = True  # reads keep failing: the device went away
                return None
            time.sleep(0.01)

    def close(self) -> None:
        self.cap.release()
        if self._cv_log_level is not None:
            import cv2

            cv2.utils.logging.setLogLevel(self._cv_log_level)
            self._cv_log_level = None


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's log and, at the file-descriptor level, what the C libraries under its
    capture backends (FFmpeg's av_log, V4L2) print to stderr themselves."""
    import cv2

    cv_log = getattr(getattr(cv2, "utils", None), "logging", None)
    level = cv_log.getLogLevel() if cv_log is not None else None
    if cv_log is not None:
        cv_log.setLogLevel(cv_log.LOG_LEVEL_SILENT)
    saved = None
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as devnull:
            saved = os.dup(2)
            os.dup2(devnull.fileno(), 2)
    except (OSError, AttributeError, ValueError):  # stderr closed or replaced, no fd left: leave it be
        if saved is not None:
            os.close(saved)
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if cv_log is not None:
            cv_log.setLogLevel(level)


#: where Linux keeps its video devices (/dev/video0 is camera 0 to OpenCV's V4L2 backend)
DEVICE_FOLDER = Path("/dev")


def _missing_device(target: int | str) -> str | None:
    """On Linux, why a camera that would not open is not there: its device file is missing (with
    the video devices there are, if any); None where the device exists or is not a file."""
    if not sys.platform.startswith("linux"):
        return None
    if isinstance(target, int):
        device = DEVICE_FOLDER / f"video{target}"
    elif str(target).startswith("/dev/"):
        device = Path(target)
    else:
        return None  # a URL, a GStreamer pipeline
    if device.exists():
        return None
    try:
        found = [p for p in DEVICE_FOLDER.glob("video*") if p.name[5:].isdigit()]
    except OSError:
        found = []
    found.sort(key=lambda p: int(p.name[5:]))
    there = (f"video devices here: {', '.join(str(p) for p in found)}" if found
             else "this machine has no video devices")
    return f"no camera at {device} ({there})"


def _camera_backends() -> str:
    try:
        from cv2 import videoio_registry as reg

        return ", ".join(reg.getBackendName(b) for b in reg.getCameraBackends()) or "none available"
    except Exception:  # very old OpenCV: the registry is missing
        return "unknown"


class FileSource(FrameSource):
    """Replay a video file as a camera.

    Args:
        realtime: pace frames at the file's timestamps and skip those whose moment has passed
            (camera behaviour). ``False`` reads frames as fast as they are consumed, losing none.
        size: resize frames to (width, height).
        loop: start over at the end instead of ending.
    """

    def __init__(self, path: str | Path, realtime: bool = True, size: tuple[int, int] | None = None,
                 loop: bool = False):
        import av

        self.path = Path(path)
        self.description = f"file {self.path}"
        check_source_video(self.path)
        try:
            self.container = av.open(ffmpeg_path(self.path))
        except av.error.FFmpegError as exc:
            raise unreadable_video_error(self.path, exc) from None
        try:  # the stream, and its rate, that vidstyle stylize would take (not cover art)
            refuse_still_image(self.container, self.path)  # (no other name makes a still image a source)
            videos = picture_streams(self.container)
            if not videos:
                raise no_video_stream_error(self.path, self.container)
        except VidstyleError:
            self.container.close()
            raise
        self.stream = videos[0]
        # Default (slice) threading: frame threading ("AUTO") would buffer several frames of latency.
        self._clock_stuck = clock_stuck(self.path, self.container, self.stream.index)
        self.fps = float(stream_frame_rate(self.container, self.stream, self._clock_stuck))
        if self._clock_stuck:
            say_clock_stuck(self.path.name, self.fps)
        self.size = size
        self.realtime, self.loop = realtime, loop
        self.live = realtime
        self.skipped = 0
        self.lost = False
        self.clock_restarts = 0  # where the file's clock started over (joined MPEG-TS segments)
        self._said_resized = False  # a frame of another size was warned of
        self._pacer = _Pacer(self.fps)
        self._offset = 0.0  # stream time added per completed loop
        self._last_t = 0.0
        self._packets = PacketDecoder()  # damaged packets are skipped, as vidstyle stylize does
        self._frames = self._decode()
        # the first frame now: its display matrix says the shown size (a phone video turned by 90
        # degrees is taller than stored), which the recording and the virtual camera need up front
        try:
            self._peeked = next(self._frames, None)
        except av.error.FFmpegError as exc:
            self.container.close()
            raise unreadable_video_error(self.path, exc) from None
        if self._peeked is None:
            self.container.close()
            if self.damaged_packets:  # as VideoDecoder says it
                raise VidstyleError(f"{self.path} is corrupt: none of its video could be decoded")
            raise VidstyleError(f"{self.path} has no video frames")
        # a stream cut after a keyframe: said as vidstyle stylize says it (its frames start at the first shown)
        self._packets.say_lead(self.path.name, self.stream.time_base)
        self._display = DisplayConversion.of(self._peeked[0], self.stream.codec_context.name)
        self._display.say_if_rounded(self.path.name)
        self.width, self.height = size or self._display.size
        shown_w, shown_h = self._display.size
        if size and abs(math.log((size[0] / size[1]) / (shown_w / shown_h))) > 0.01:
            log.warning(
                "%s is %dx%d: --size %dx%d stretches its picture to another shape", self.path.name, shown_w,
                shown_h, size[0], size[1])
        if size:
            # shrunk as they are converted to RGB: one swscale pass at the right levels costs less
            # than converting the whole frame and resizing it after (a 1080p 4:2:2 frame to 640x360
            # on 2 cores: 2.2 ms against 8.0)
            w, h = (size[1], size[0]) if self._display.turned else size
            if w <= self._display.stored_size[0] and h <= self._display.stored_size[1]:
                self._display = replace(self._display, scaled_size=(w, h))
        # resized (--size), a line mixes the stored ones: none to tell
        self.chroma = None if size else self._display.shown_chroma(self._peeked[0].format.name)

    @property
    def damaged_packets(self) -> int:
        """Video packets skipped so far because they would not decode."""
        return self._packets.damaged

    def _decode(self):
        """The frames from where the container stands, with their times from the first. The
        generator holds what it reads, and this source only weakly: holding each other, a source
        a program dropped without close() kept its decoder's threads until the collector ran
        (__del__ closes it)."""
        restarted = weakref.WeakMethod(self._restarted)
        return _file_frames(self.container, self.stream, self._packets, self._clock_stuck, self.fps,
                            lambda: restarted()())

    def _restarted(self) -> None:
        if not self.clock_restarts:
            log.warning(
                "the clock of %s starts over (segments joined into one file?): it plays on as one timeline",
                self.path.name)
        self.clock_restarts += 1

    def read(self) -> tuple[np.ndarray, float] | None:
        import av

        if self._frames is None:  # closed: it has ended
            return None
        while True:
            try:
                if self._peeked is not None:
                    (frame, t), self._peeked = self._peeked, None
                else:
                    frame, t = next(self._frames)
            except av.error.FFmpegError as exc:  # past PacketDecoder's patience: unreadable from here
                raise VidstyleError(f"{self.path} is corrupt or truncated: decoding failed "
                                    f"({error_text(exc)})") from None
            except StopIteration:
                self._say_if_short()
                if not self.loop:
                    return None
                self.container.seek(0)
                self._offset = self._last_t + 1.0 / self.fps
                self._frames = self._decode()
                continue
            t += self._offset
            self._last_t = t
            if self._display.resized(frame) and not self._said_resized:  # as vidstyle stylize says it
                self._said_resized = True
                self._display.say_resized(self.path.name, frame, t)
            if not self.realtime:
                return resize_frame(self._display.image(frame), self.size), time.perf_counter()
            stamp = self._pacer.wait(t)
            if stamp is None:
                self.skipped += 1
                continue
            return resize_frame(self._display.image(frame), self.size), stamp

    def _say_if_short(self) -> None:
        """Warn, once, when the file ended well before the length its container states: a
        truncated or damaged file, which `vidstyle stylize` warns of too."""
        if getattr(self, "_short_said", False):
            return
        self._short_said = True
        stated = stated_length(self.container, self.stream)  # (an .mkv's sound, longer, is not its picture's)
        # less the picture before the first frame shown of a stream cut after a keyframe, which
        # the length counts and a player never shows (that file was said to be truncated)
        stated = stated and stated - self._packets.lead_seconds(self.stream.time_base)
        reached = self._last_t - self._offset + 1.0 / self.fps
        if stated and reached < 0.9 * stated - 1.0 / self.fps:
            log.warning(
                "%s ended at %.2f s of the %.2f s it states (truncated or damaged file?)", self.path.name, reached,
                stated)

    def close(self) -> None:
        self.container.close()
        # the stream's decoder and its threads go only with the stream, which the frame generator
        # and this source held: each run_live of a file left 2 threads behind
        self._frames = self.stream = self._peeked = None

    def __del__(self) -> None:
        if "_frames" in vars(self):  # (opened; an __init__ that failed closed what it opened)
            self.close()


def _file_frames(container, stream, packets: PacketDecoder, stuck_clock: bool, fps: float, restarted):
    """(av.VideoFrame, seconds from the first) of ``stream`` from where ``container`` stands, for
    :class:`FileSource`; ``restarted`` is called where the clock starts over."""
    first_time = None
    last_t = 0.0
    # joined MPEG-TS segments play on as one timeline, as vidstyle stylize reads them: on the
    # raw clock, which steps back at each join, every frame after it was "late" and skipped
    for packet in continuous_packets(container.demux(stream), container, stream.index, restarted):
        for frame in packets.decode(packet):
            # no time, or the one time of a clock that does not run: the frame rate's
            stuck = stuck_clock and first_time is not None and frame.time is not None and frame.time <= last_t
            t = float(frame.time) if frame.time is not None and not stuck else last_t + 1.0 / fps
            if first_time is None:
                first_time = t
            last_t = t
            yield frame, t - first_time


class SyntheticSource(FrameSource):
    """A generated moving pattern paced at ``fps``: a scrolling colour gradient, a bouncing square
    and a moving bar, so consecutive frames differ like real footage. ``frames`` limits its length;
    ``realtime=False`` hands over every frame however slow the consumer (no skipping, no drops)."""

    def __init__(self, size: tuple[int, int] = (640, 480), fps: float = 30.0, frames: int | None = None,
                 realtime: bool = True):
        self.width, self.height = size
        self.live = realtime
        self.fps = float(fps)
        self.frames = frames
        self.description = f"synthetic {self.width}x{self.height}@{self.fps:g}"
        self.skipped = 0
        self.lost = False
        self._pacer = _Pacer(self.fps)
        self._i = 0
        y, x = np.mgrid[0:self.height, 0:self.width].astype(np.float32)
        self._base = np.stack([x / max(1, self.width - 1), y / max(1, self.height - 1),
                               0.5 + 0.5 * np.sin((x + y) / 40.0)], axis=-1) * 255.0

    def image(self, i: int) -> np.ndarray:
        """Frame number ``i`` of the pattern, uint8 (H, W, 3) RGB."""
        img = np.roll(self._base, shift=(3 * i) % self.width, axis=1).astype(np.uint8)
        s = max(4, min(self.width, self.height) // 6)
        px = int((self.width - s) * (0.5 + 0.5 * np.sin(i * 0.11)))
        py = int((self.height - s) * (0.5 + 0.5 * np.cos(i * 0.07)))
        img[py:py + s, px:px + s] = (255, 255, 255)
        bar = (5 * i) % self.height
        img[bar:bar + 4] = 0
        return img

    def read(self) -> tuple[np.ndarray, float] | None:
        while self.frames is None or self._i < self.frames:
            i = self._i
            self._i += 1
            stamp = self._pacer.wait(i / self.fps, skip_late=self.live)
            if stamp is None:
                self.skipped += 1
                continue
            return self.image(i), stamp
        return None


class FrameGrabber:
    """Reads ``source`` on a background thread into a latest-frame slot.

    ``get()`` returns the newest unread :class:`Frame` (waiting for one if needed), or ``None`` once
    the source has ended and the slot is empty. For a live source a frame that is replaced before
    it is read is dropped (counted in :attr:`dropped`); for a non-live source the thread waits for
    the consumer instead. An exception on the capture thread is re-raised by ``get()``.
    """

    def __init__(self, source: FrameSource):
        self.source = source
        self.drop_stale = source.live
        self.read_count = 0  # frames read from the source
        self.dropped = 0  # frames replaced in the slot before being read
        self._slot: Frame | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="vidstyle-capture", daemon=True)

    # -- counts -------------------------------------------------------------------------------
    @property
    def captured(self) -> int:
        """Frames the source produced, including those it skipped because nobody could take them."""
        return self.read_count + self.source.skipped

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended and self._slot is None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "FrameGrabber":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self.source.read()
                if item is None:
                    break
                image, t_capture = item
                with self._cond:
                    while not self.drop_stale and self._slot is not None and not self._stop.is_set():
                        self._cond.wait(0.1)
                    if not self.drop_stale and self._slot is not None:  # stopped while waiting: every
                        self.read_count += 1  # frame is processed here, so both were waiting, not dropped
                        break
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = Frame(image, self.read_count, t_capture)
                    self.read_count += 1
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the consumer, which decides what to do
            self._error = exc
        finally:
            try:
                self.source.close()
            finally:
                with self._cond:
                    self._ended = True
                    self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest unread frame, or ``None`` at the end; raises TimeoutError after ``timeout`` s."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while self._slot is None and not self._ended:
                remaining = None if deadline is None else deadline - time.perf_counter()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no frame yet")
                self._cond.wait(remaining)
            if self._error is not None and self._slot is None:
                error, self._error = self._error, None
                raise error
            frame, self._slot = self._slot, None
            self._cond.notify_all()
        if frame is not None and not self.drop_stale:
            # a file replayed as fast as it is stylized has no capture clock: its frame was read
            # ahead and waited in the slot, which counted as latency (three frames' time at 13
            # frames/s) and timed a recording's first frame at the 2 ms between two reads
            frame = replace(frame, t_capture=time.perf_counter())
        return frame

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the thread and close the source (idempotent). A frame left unread was waiting, not
        dropped: it counts in :attr:`captured` but not in :attr:`dropped`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.ident is None:  # never started: the thread did not get to close the source
            self.source.close()
            self._ended = True
        elif self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            self._slot = None

    def __enter__(self) -> "FrameGrabber":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
