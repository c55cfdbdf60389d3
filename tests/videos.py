"""Real encoded test videos, made with PyAV, and helpers to read them back.

Every test that needs a video makes its own with :func:`make_video`: a real file with a real
codec (H.264, H.265, VP9, ...), optional audio, variable frame timing and a rotation tag, whose
content is known (:func:`pattern_frame`) so tests can check what came out.

Reading back (:func:`read_frames`, :func:`frame_times`, :func:`probe`, :func:`audio_packets`)
works on the file as stored: no rotation is applied unless asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.video.reformatter
import numpy as np

class Identity:
    """A "network" that returns its input: only decoding and encoding touch the pixels."""

    def stylize_batch(self, images):
        return np.asarray(images)


PATTERNS = ("moving", "noise", "cut", "flat", "letterbox", "letterbox-opens", "letterbox-after-black")


def letterbox_bars(height: int) -> int:
    """The thickness of each bar of the ``letterbox`` pattern in a frame ``height`` pixels tall."""
    return height // 6


def pattern_frame(index: int, size: tuple[int, int], pattern: str = "moving", frames: int | None = None) -> np.ndarray:
    """The uint8 (H, W, 3) RGB content of frame ``index`` of a test video of ``size`` = (W, H).

    * ``moving``: a colour gradient with a white square sliding right by 3 px a frame and a pure
      red block in the top-left corner (so orientation can be checked after rotation).
    * ``noise``: seeded random pixels (hard for codecs, handy to see the network changed pixels).
    * ``cut``: ``moving`` for the first half of the ``frames``-long clip, then a scene cut to an
      inverted, mirrored scene.
    * ``flat``: one mid-grey colour.
    * ``letterbox``: ``moving`` squeezed between black bars above and below, each a sixth of the
      height (:func:`letterbox_bars`); ``letterbox-opens``: the same, except that the clip's last
      two frames fill the whole frame (the picture reaches into the bars late in the clip);
      ``letterbox-after-black``: the first quarter of the clip black, as films open.
    """
    w, h = size
    if pattern in ("letterbox", "letterbox-opens", "letterbox-after-black"):
        if pattern != "letterbox" and frames is None:
            raise ValueError(f"the {pattern!r} pattern needs the clip length (frames=)")
        if pattern == "letterbox-opens" and index >= frames - 2:
            return pattern_frame(index, size, "moving")
        if pattern == "letterbox-after-black" and index < frames // 4:
            return np.zeros((h, w, 3), np.uint8)
        bar = letterbox_bars(h)
        img = np.zeros((h, w, 3), np.uint8)
        img[bar:h - bar] = pattern_frame(index, (w, h - 2 * bar), "moving")
        return img
    if pattern == "noise":
        return np.random.default_rng(index).integers(0, 256, (h, w, 3), dtype=np.uint8)
    if pattern == "flat":
        return np.full((h, w, 3), 128, np.uint8)
    if pattern == "cut":
        if frames is None:
            raise ValueError("the 'cut' pattern needs the clip length (frames=)")
        img = pattern_frame(index, size, "moving")
        return np.ascontiguousarray(255 - img[:, ::-1]) if index >= frames // 2 else img
    if pattern != "moving":
        raise ValueError(f"unknown pattern {pattern!r} (use one of {PATTERNS})")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 40 + 150 * xx / max(w - 1, 1)
    img[..., 1] = 40 + 150 * yy / max(h - 1, 1)
    img[..., 2] = 110
    side = max(4, min(w, h) // 4)
    x0 = (3 * index) % max(w - side, 1)
    y0 = (h - side) // 2
    img[y0:y0 + side, x0:x0 + side] = 235
    corner = max(2, min(w, h) // 8)
    img[:corner, :corner] = (235, 16, 16)
    return img.astype(np.uint8)


#: the PyAV input format of a drawn image, by its number of channels (None: a 2-D array)
_IMAGE_FORMATS = {None: "gray", 3: "rgb24", 4: "rgba"}


def _tick(seconds, clock: Fraction) -> int:
    """The tick of ``clock`` (seconds a tick) that :func:`write_frames` stamps a frame at ``seconds`` with."""
    return round(Fraction(seconds) / clock) if isinstance(seconds, float) else Fraction(seconds) // clock


#: x264 options that make an encode repeatable: its macroblock tree (on in every preset but
#: ultrafast and at a constant qp) reads memory it has not written at some frame sizes (64x48, 96x64,
#: 160x120 and 320x180 seen), so the same frames encoded twice in one process came out different (by
#: up to 40 levels at crf 18, one thread or several), and a test's input depended on what the tests
#: run before it in that process had left in memory. B-frames and the rest of the preset stay.
X264_REPEATABLE = {"x264-params": "mbtree=0"}


def write_frames(path: str | Path, images, fps: int | Fraction = 24, codec: str = "libx264", pix_fmt: str = "yuv420p",
                 options: dict | None = None, times=None, time_base: Fraction | None = None) -> Path:
    """``images`` (uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA) encoded into ``path``, the
    container as its suffix says: a video of frames a test draws itself. Each is shown for
    1/``fps`` s, or from its own time in ``times`` (seconds: a variable frame rate), stamped with the
    last tick of ``time_base`` at or before it (the stream's and the encoder's clock; default 1/``fps``);
    a float time with the tick nearest to it (the float 0.3 is a hair under 3/10). x264 encodes are
    repeatable (:data:`X264_REPEATABLE`, unless ``options`` set x264-params)."""
    clock = time_base or 1 / Fraction(fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = images[0].shape[1], images[0].shape[0], pix_fmt
        stream.options = {**(X264_REPEATABLE if codec == "libx264" else {}), **(options or {})}
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        for i, image in enumerate(images):
            channels = image.shape[2] if image.ndim == 3 else None
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=_IMAGE_FORMATS[channels])
            frame.pts = i if times is None else _tick(times[i], clock)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def make_sample_in_bars(path: str | Path, frames: int, picture: tuple[int, int, int, int],
                        pix_fmt: str = "yuv444p", options: dict | None = None,
                        filled_from: int | None = None) -> Path:
    """The project's sample clip (camera motion) scaled into ``picture`` = (top, bottom, left,
    right), the first row and column and the ends past the last, of a black 320x180 frame; H.264
    at 24 frames/s in ``pix_fmt`` with ``options`` (default lossless, qp 0). From frame
    ``filled_from`` on a grey ramp fills the whole frame (60 on the top row, one level lighter each
    row down: no two rows alike, so that a row copied over another shows)."""
    import cv2

    top, bottom, left, right = picture
    sample = Path(__file__).parents[1] / "samples" / "sample.mp4"
    images = []
    with av.open(str(sample)) as clip:
        for k, frame in zip(range(frames), clip.decode(video=0)):
            image = np.zeros((180, 320, 3), np.uint8)
            image[top:bottom, left:right] = cv2.resize(frame.to_ndarray(format="rgb24"), (right - left, bottom - top),
                                                       interpolation=cv2.INTER_AREA)
            if filled_from is not None and k >= filled_from:
                image[:] = (60 + np.arange(180, dtype=np.uint8))[:, None, None]
            images.append(image)
    return write_frames(path, images, pix_fmt=pix_fmt, options={"qp": "0"} if options is None else options)


def make_letterboxed_sample(path: str | Path, frames: int, bar: int = 30, filled_from: int | None = None) -> Path:
    """:func:`make_sample_in_bars` inside black bars ``bar`` rows thick, lossless 4:4:4."""
    return make_sample_in_bars(path, frames, (bar, 180 - bar, 0, 320), filled_from=filled_from)


#: the bars of :func:`make_odd_bars_420`'s clip
ODD_BARS_420 = "top 23, bottom 21, left 61, right 61"


def make_odd_bars_420(path: str | Path, frames: int = 8) -> Path:
    """The project's sample clip inside black bars of odd widths (:data:`ODD_BARS_420`: the
    picture in columns 61-258, rows 23-158 of 320x180), 4:2:0 H.264: each bar's last line, paired
    with the picture's first, carries the picture's colour (vidstyle.letterbox._black_runs)."""
    return make_sample_in_bars(path, frames, (23, 159, 61, 259), "yuv420p", {"crf": "10"})


def vfr_times(frames: int, fps: Fraction) -> list[Fraction]:
    """Presentation times (seconds) of a variable-frame-rate clip: intervals cycle 0.5, 1.5, 1 frame."""
    step = 1 / Fraction(fps)
    t, times = Fraction(0), []
    for i in range(frames):
        times.append(t)
        t += step * (Fraction(1, 2) if i % 3 == 0 else Fraction(3, 2) if i % 3 == 1 else 1)
    return times


def _default_codec(path: Path) -> str:
    return "libvpx-vp9" if path.suffix.lower() == ".webm" else "libx264"


def _default_audio_codec(path: Path) -> str:
    return "libopus" if path.suffix.lower() in (".webm", ".ogg") else "aac"


def make_video(path: str | Path, frames: int = 12, size: tuple[int, int] = (96, 64), fps: int | Fraction = 24,
               codec: str | None = None, pix_fmt: str | None = None, audio: bool | str = False, vfr: bool = False,
               rotation: int | None = None, pattern: str = "moving", crf: int = 10, mirror: bool = False,
               audio_seconds: float | None = None, audio_rate: int | None = None, audio_layout: str = "stereo",
               gop: int | None = None, container_options: dict | None = None, sar: Fraction | None = None,
               bt709: bool = False) -> Path:
    """Write a real encoded video and return its path.

    Args:
        path: output file; the container follows the extension (.mp4, .mkv, .mov, .webm).
        frames: number of video frames.
        size: (width, height) of the stored frames (before any rotation tag).
        fps: nominal frame rate; with ``vfr`` the frame intervals vary around it (:func:`vfr_times`).
        codec / pix_fmt: video encoder and pixel format (default libx264 or libvpx-vp9 for .webm;
            yuv420p, or yuv444p when a dimension is odd, since H.264 4:2:0 needs even sizes).
        audio: ``True`` for a 440 Hz stereo tone (AAC, Opus for .webm) lasting as long as the
            video; or an audio encoder name (``"aac"``, ``"libopus"``, ``"mp3"``...).
        rotation: display-rotation tag in degrees counter-clockwise (as PyAV's ``frame.rotation``).
        pattern: frame content, see :func:`pattern_frame`.
        crf: quality of the test encoding (low = near-lossless, so content checks stay tight).
        mirror: a display matrix that mirrors left to right (after ``rotation``).
        audio_seconds / audio_rate / audio_layout: the tone's length (default: the video's), sample
            rate and channel layout.
        gop: keyframe interval in frames; container_options: muxer options (e.g. output_ts_offset);
        sar: pixel aspect ratio; bt709: frames converted with the BT.709 matrix and tagged so.
    """
    path = Path(path)
    codec = codec or _default_codec(path)
    w, h = size
    if pix_fmt is None:
        pix_fmt = "yuv420p" if (w % 2 == 0 and h % 2 == 0) or codec in ("libvpx-vp9", "libsvtav1") else "yuv444p"
    fps = Fraction(fps)
    times = vfr_times(frames, fps) if vfr else [i / fps for i in range(frames)]
    time_base = Fraction(1, 90000) if vfr else 1 / fps
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        options = {"crf": str(crf)}
        if codec in ("libx264", "libx265"):
            options["preset"] = "ultrafast"
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
        if codec == "libvpx-vp9":
            options.update({"b": "0", "deadline": "realtime", "cpu-used": "8"})
        if codec == "libsvtav1":
            options["preset"] = "12"
        if gop:
            options["g"] = str(gop)
        stream.options = options
        if sar:
            stream.codec_context.sample_aspect_ratio = sar
        if bt709:
            ctx = stream.codec_context
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1
            ctx.color_range = av.video.reformatter.ColorRange.MPEG
        if rotation or mirror:
            stream.set_display_rotation(rotation or 0, hflip=mirror)
        astream = None
        if audio:
            acodec = audio if isinstance(audio, str) else _default_audio_codec(path)
            rate = audio_rate or (48000 if acodec in ("libopus", "opus") else 44100)
            astream = container.add_stream(acodec, rate=rate, layout=audio_layout)
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, size, pattern, frames), format="rgb24")
            if bt709:
                frame = frame.reformat(format=pix_fmt, dst_colorspace=av.video.reformatter.Colorspace.ITU709,
                                       dst_color_range=av.video.reformatter.ColorRange.MPEG)
            frame.pts = int(t / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if astream is not None:
            length = float(times[-1] + (times[-1] - times[-2] if frames > 1 else 1 / fps))
            _write_tone(container, astream, length if audio_seconds is None else audio_seconds)
    return path


def _write_tone(container, stream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    total = int(round(seconds * rate))
    chunk = 1024
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        layout = stream.codec_context.layout
        channels = len(layout.channels)
        if channels >= 8:  # PyAV gives a planar frame of 8 or more channels one plane too many: packed samples
            pcm = (np.repeat(tone[:, None], channels, 1) * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(np.stack([tone] * channels), format="fltp", layout=layout.name)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def sound_signal(samples: int) -> np.ndarray:
    """A float32 mono signal in [-0.3, 0.3] no stretch of which looks like another (seeded noise,
    smoothed so lossy codecs keep it): where a piece of it lands in an output is found to the
    sample by cross-correlation (:func:`sound_position`), as a tone's period would not allow."""
    noise = np.random.default_rng(7).standard_normal(samples + 32)
    smooth = np.convolve(noise, np.hanning(17) / np.hanning(17).sum(), "same")[16:16 + samples]
    return (0.3 * smooth / np.abs(smooth).max()).astype(np.float32)


def make_sound_video(path: str | Path, codec: str = "aac", seconds: float = 2.0, rate: int = 48000,
                     layout: str = "mono", gap: tuple[float, float] | None = None, fps: int = 24,
                     gop: int | None = None, delay: float = 0.0) -> Path:
    """A 64x48 clip of ``seconds`` at ``fps`` whose sound (``codec``) is :func:`sound_signal` of
    ``seconds`` at ``rate``, written in frames of 1024 samples timed by their first sample; with
    ``gap`` = (from, to) seconds, the frames that begin inside it are left out (a dropout);
    ``gop``: a keyframe every that many frames (default: the encoder's, only the first); ``delay``:
    seconds the sound starts after the picture (negative: the picture after the sound, in whole
    frames)."""
    signal = sound_signal(int(seconds * rate))
    with av.open(str(path), "w") as container:
        webm = Path(path).suffix.lower() == ".webm"
        video = container.add_stream("libvpx-vp9" if webm else "libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"deadline": "realtime", "cpu-used": "8"} if webm else {"preset": "ultrafast"}
        if gop:
            video.options = {**video.options, "g": str(gop), "keyint_min": str(gop)}
        audio = container.add_stream(codec, rate=rate, layout=layout)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts, frame.time_base = i + round(max(0.0, -delay) * fps), Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        channels = len(av.AudioLayout(layout).channels)
        for start in range(0, len(signal), 1024):
            if gap and gap[0] * rate <= start < gap[1] * rate:
                continue
            chunk = np.repeat(signal[start:start + 1024][None], channels, 0).T.reshape(1, -1)  # packed
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, start + round(max(0.0, delay) * rate), Fraction(1, rate)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return Path(path)


def cut_after_keyframe(src: str | Path, path: str | Path, dropped: int = 5) -> Path:
    """``src`` remuxed into ``path`` (MPEG-TS for .ts) without its first ``dropped`` video packets,
    every other stream whole: a stream cut from a longer one after a keyframe, whose first packets
    (up to its next keyframe) decode to nothing, as a .ts cut with a byte editor or a capture
    joined late starts."""
    with av.open(str(src)) as source, av.open(str(path), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        video, seen = source.streams.video[0].index, 0
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            if packet.stream.index == video:
                seen += 1
                if seen <= dropped:
                    continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return Path(path)


#: the chunks that hold the frames of :func:`make_avi_with_dropped_frames`: 24 frames over 41
DROPPED_FRAME_CHUNKS = (0, 1, 2, 6, 7, 8, 9, 15, 16, 17, 18, 19, 20, *range(30, 41))


def make_avi_with_dropped_frames(path: str | Path, size: tuple[int, int] = (64, 48),
                                 pattern: str = "moving") -> Path:
    """An MPEG-4 AVI at 24 frames/s whose capture dropped frames: its 24 frames (``pattern``) in
    the chunks :data:`DROPPED_FRAME_CHUNKS` of 41, as their times (gaps) put them. FFmpeg's muxer
    writes an empty chunk for each dropped one, which the header counts (41) and the index leaves
    out."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"qscale": "2"}
        for n, chunk in enumerate(DROPPED_FRAME_CHUNKS):
            frame = av.VideoFrame.from_ndarray(pattern_frame(n, size, pattern), format="rgb24")
            frame.pts, frame.time_base = chunk, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def make_rate_change_video(path: str | Path, rates: tuple[int, ...] = (48000, 44100, 48000),
                           frames: int = 40, fps: int = 24) -> tuple[Path, np.ndarray]:
    """A 64x48 MPEG-TS clip whose MP2 sound changes sample rate from segment to segment, as a
    broadcast recording's does at an ad break: each segment ``frames`` MP2 frames (1152 samples)
    at its rate in ``rates``, one after another. Returns (path, the sound at 48 kHz): every segment
    samples the same continuous :func:`sound_signal`, so the sound of a 48 kHz output is found in
    it to the sample (:func:`sound_position`) whatever rate the segment had."""
    lengths = [Fraction(frames * 1152, rate) for rate in rates]
    signal = sound_signal(int(sum(lengths) * 48000) + 1152)
    with av.open(str(path), "w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("mp2", rate=rates[0], layout="mono")
        for i in range(int(sum(lengths) * fps)):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, (64, 48)), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        begin = Fraction(0)
        for rate, length in zip(rates, lengths):  # one encoder a rate, its packets into the one stream
            encoder = av.CodecContext.create("mp2", "w")
            encoder.sample_rate, encoder.layout, encoder.format = rate, "mono", "s16"
            encoder.time_base = Fraction(1, rate)
            encoder.open()
            at = float(begin) + np.arange(frames * 1152) / rate
            pcm = (np.interp(at, np.arange(len(signal)) / 48000, signal) * 32767).astype(np.int16)
            packets = []
            for start in range(0, len(pcm), 1152):
                frame = av.AudioFrame.from_ndarray(pcm[None, start:start + 1152], format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
                packets += encoder.encode(frame)
            packets += encoder.encode(None)
            for i, packet in enumerate(packets):  # timed one after another from the segment's start
                packet.pts = packet.dts = round((begin + Fraction(i * 1152, rate)) * 90000)
                packet.time_base, packet.stream = Fraction(1, 90000), audio
                container.mux(packet)
            begin += length
    return Path(path), signal


def decoded_sound(path: str | Path, index: int = 0) -> tuple[Fraction, np.ndarray, int]:
    """(time of the first sample in seconds, the first channel's float samples, sample rate) of
    audio stream ``index`` as a player gives it: decoded (edit lists, codec delays applied) and
    laid out by each frame's time, a gap of over a millisecond (Matroska's rounding) kept as zeros."""
    with av.open(str(path)) as container:
        pieces, start, count, rate = [], None, 0, 0
        for frame in container.decode(container.streams.audio[index]):
            rate, t = frame.sample_rate, frame.pts * frame.time_base
            start = t if start is None else start
            gap = round((t - start) * rate) - count
            if gap > rate // 1000:
                pieces.append(np.zeros(gap))
                count += gap
            # as packed floats: PyAV 18's to_ndarray crashes on planar frames of 8 channels or more
            packed = av.AudioResampler(format="flt").resample(frame)[0].to_ndarray()
            pieces.append(packed.reshape(-1, len(frame.layout.channels))[:, 0].astype(np.float64))
            count += frame.samples
    return start, np.concatenate(pieces), rate


def sound_position(samples: np.ndarray, signal: np.ndarray, at: int, length: int = 2400) -> int:
    """Where in ``samples`` the piece of ``signal`` beginning at its sample ``at`` is found."""
    return int(np.argmax(np.correlate(samples, signal[at:at + length], "valid")))


# --- reading back -----------------------------------------------------------------------------

def read_frames(path: str | Path, rotate: bool = False) -> np.ndarray:
    """All frames of the first video stream as uint8 (N, H, W, 3) RGB, as stored (or display-rotated)."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            if rotate and frame.rotation:
                img = np.ascontiguousarray(np.rot90(img, k=(frame.rotation // 90) % 4))
            out.append(img)
    return np.stack(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def frame_times(path: str | Path) -> list[Fraction]:
    """Presentation time (seconds, exact fractions) of every frame of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


def audio_packets(path: str | Path, index: int = 0) -> list[bytes]:
    """The payload bytes of every packet of audio stream ``index`` (to compare stream copies)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        return [bytes(p) for p in container.demux(stream) if p.size]


@dataclass
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds, from the packets
    packets: int


@dataclass
class VideoInfo:
    """What :func:`probe` finds in a file (a small ffprobe)."""

    width: int
    height: int
    frames: int  # counted by decoding
    codec: str
    pix_fmt: str
    time_base: Fraction
    average_rate: Fraction | None
    duration: float  # seconds: last frame time + its duration (from the packets)
    rotation: int
    audio: list[AudioInfo] = field(default_factory=list)


def probe(path: str | Path) -> VideoInfo:
    """Inspect a file: video size/codec/frame count/rotation and every audio stream."""
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        frames, rotation = 0, 0
        for frame in container.decode(v):
            frames += 1
            rotation = frame.rotation or 0
        info = VideoInfo(width=v.codec_context.width, height=v.codec_context.height, frames=frames,
                         codec=v.codec_context.name, pix_fmt=v.codec_context.pix_fmt, time_base=v.time_base,
                         average_rate=v.average_rate, duration=0.0, rotation=rotation)
    info.duration = _stream_end(path, "video")
    with av.open(str(path)) as container:
        for a in container.streams.audio:
            info.audio.append(AudioInfo(codec=a.codec_context.name, sample_rate=a.codec_context.sample_rate,
                                        channels=a.codec_context.channels, duration=0.0, packets=0))
    for i, a in enumerate(info.audio):
        a.duration, a.packets = _audio_extent(path, i)
    return info


def _stream_end(path, kind: str, index: int = 0) -> float:
    with av.open(str(path)) as container:
        stream = (container.streams.video if kind == "video" else container.streams.audio)[index]
        end = None
        for p in container.demux(stream):
            if p.pts is None:
                continue
            e = (p.pts + (p.duration or 0)) * stream.time_base
            end = e if end is None else max(end, e)
        return float(end or 0)


def _audio_extent(path, index: int) -> tuple[float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        first, end, n = None, None, 0
        for p in container.demux(stream):
            if p.pts is None:
                continue
            n += 1
            s = p.pts * stream.time_base
            e = (p.pts + (p.duration or 0)) * stream.time_base
            first = s if first is None else min(first, s)
            end = e if end is None else max(end, e)
        return (float(end - max(first, 0)) if n else 0.0), n


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 arrays of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, in levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def decoded_frames(path: str | Path) -> list[np.ndarray]:
    """The frames as vidstyle decodes them (its colour conversion), for exact comparisons."""
    from vidstyle.io import VideoDecoder

    with VideoDecoder(path) as decoder:
        return [f.image for f in decoder.read()]


def stylized_frames(src: str | Path, folder: Path, style, **options) -> list[np.ndarray]:
    """``src`` stylized (fp32 eager PyTorch on the CPU) into lossless PNG frames in ``folder``,
    read back as uint8 RGB: exact outputs to compare."""
    import cv2

    from vidstyle.pipeline import stylize_video

    stylize_video(src, Path(folder) / "f_%04d.png", style=style, device="cpu", precision="fp32", backend="torch",
                  progress=False, **options)
    return [cv2.imread(str(p))[..., ::-1] for p in sorted(Path(folder).glob("*.png"))]
