"""Image sequences (a folder of numbered frames) read as one video: order, frame rate, segments,
damaged frames, odd folder names, and the errors for folders that are not one sequence."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from videos import frame_times, make_video, probe, psnr, read_frames
from vidstyle.errors import OutputExistsError, VidstyleError
from vidstyle.io import VideoDecoder
from vidstyle.io.sequence import find_sequence, ntsc_rate, sequence_fps
from vidstyle.pipeline import stylize_files, stylize_video


class Invert:
    """A stylizer object that inverts its frames: the output says which input frame it was."""

    def stylize_batch(self, images):
        return [255 - i for i in images]


def marked(i: int, size=(64, 48)) -> np.ndarray:
    """RGB frame whose brightness encodes ``i`` (survives JPEG and H.264) over a texture."""
    w, h = size
    img = np.full((h, w, 3), 10 + 20 * i, np.uint8)
    img[::8, :, 1] = 0
    return img


def write_sequence(folder: Path, count: int, name: str = "frame_{:04d}.png", first: int = 1, skip=(),
                   size=(64, 48)) -> list[int]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        if i in skip:
            continue
        path = folder / name.format(first + i)
        assert cv2.imwrite(str(path), cv2.cvtColor(marked(i, size), cv2.COLOR_RGB2BGR))
        written.append(i)
    return written


def marks(frames: np.ndarray, count: int = 12) -> list[int]:
    """The index of the inverted :func:`marked` frame each output frame is nearest to."""
    refs = [255.0 - marked(i, (frames.shape[2], frames.shape[1])) for i in range(count)]
    return [int(np.argmin([np.abs(f - r).mean() for r in refs])) for f in frames.astype(np.float64)]


def test_a_folder_of_frames_is_a_video_in_name_order_at_its_frame_rate(tmp_path):
    write_sequence(tmp_path / "shot", 9, first=1001)  # a render's numbering need not start at 0 or 1
    (tmp_path / "shot" / "notes.txt").write_text("not a frame")  # other files are left out
    (tmp_path / "shot" / ".DS_Store").write_bytes(b"\0")
    out = tmp_path / "out.mp4"
    result = stylize_video(tmp_path / "shot", out, Invert(), temporal="off", sequence_fps=30, crf=4,
                           pix_fmt="yuv444p", progress=False)
    assert result.frames == 9 and "9 .png frames at 30 fps" in result.summary()
    info = probe(out)
    assert info.frames == 9 and not info.audio
    assert frame_times(out) == [Fraction(i, 30) for i in range(9)]
    assert marks(read_frames(out)) == list(range(9))
    from vidstyle.eval import evaluate_videos  # `vidstyle eval` takes the folder as the input too

    report = evaluate_videos(tmp_path / "shot", out)
    assert report["frames"] == 9 and report["notes"] == []
    # NTSC rates as users write them, and the default of 24
    stylize_video(tmp_path / "shot", tmp_path / "ntsc.mp4", Invert(), temporal="off", sequence_fps=29.97,
                  progress=False)
    assert frame_times(tmp_path / "ntsc.mp4")[1] == Fraction(1001, 30000)
    result = stylize_video(tmp_path / "shot", tmp_path / "default.mp4", Invert(), temporal="off", progress=False)
    assert frame_times(tmp_path / "default.mp4")[1] == Fraction(1, 24) and "at 24 fps" in result.summary()


def test_hidden_images_beside_the_frames_are_no_frames(tmp_path):
    """A folder copied from a Mac onto a FAT or exFAT drive holds an AppleDouble file beside each
    frame (``._frame_0001.png``, its resource fork: no PNG). FFmpeg's glob leaves hidden files
    out, so the listing must too: counted, they made "several names" of one sequence."""
    write_sequence(tmp_path / "shot", 4)
    for i in range(1, 5):
        (tmp_path / "shot" / f"._frame_{i:04d}.png").write_bytes(b"\0\x05\x16\x07" + b"\0" * 80)
    assert find_sequence(tmp_path / "shot").names == tuple(f"frame_{i:04d}.png" for i in range(1, 5))
    out = tmp_path / "out.mp4"
    result = stylize_video(tmp_path / "shot", out, Invert(), temporal="off", sequence_fps=24, crf=4,
                           pix_fmt="yuv444p", progress=False)
    assert result.frames == 4 and marks(read_frames(out), 4) == list(range(4))


def test_gaps_segments_and_a_damaged_frame(tmp_path, caplog):
    folder = tmp_path / "shot"
    kept = write_sequence(folder, 12, skip=(3,))  # frame 4 missing: the sequence goes on
    (folder / "frame_0008.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # index 7: damaged
    out = tmp_path / "out.mp4"
    result = stylize_video(folder, out, Invert(), temporal="off", progress=False)
    expected = [i for i in kept if i != 7]
    assert result.frames == len(expected) and marks(read_frames(out)) == expected
    # named by its file: frame threads report a damaged PNG a few packets late, so the name comes
    # from the frame that never came, not from the packet the error surfaced with
    assert "skipped 1 damaged frame(s) of shot (frame_0008.png) that would not decode" in caplog.text
    caplog.clear()
    (folder / "frame_0012.png").write_bytes(b"\x89PNG\r\n\x1a\n broken too")  # index 10, the last
    stylize_video(folder, out, Invert(), temporal="off", progress=False, overwrite=True)
    assert "skipped 2 damaged frame(s) of shot (frame_0008.png, frame_0012.png)" in caplog.text
    caplog.clear()
    stylize_video(folder, tmp_path / "after.mp4", Invert(), temporal="off", start=8 / 24, progress=False)
    assert "frame_0008.png" not in caplog.text and "(frame_0012.png)" in caplog.text  # the segment's only
    # --start/--duration count in the sequence's own time (24 frames a second), in files present:
    # the 8th file is frame_0009 (frame_0004 is missing), i.e. marked 8
    stylize_video(folder, tmp_path / "seg.mp4", Invert(), temporal="off", start=7 / 24, duration=3 / 24,
                  progress=False)
    assert marks(read_frames(tmp_path / "seg.mp4")) == [8, 9, 10]


def test_a_damaged_file_next_to_the_last_loses_only_itself(tmp_path, caplog):
    """Frame threads report a damaged PNG at the decoder's flush when it is among the last files;
    the good frames after it were lost with the error."""
    folder = tmp_path / "shot"
    kept = write_sequence(folder, 12)
    (folder / "frame_0011.png").write_bytes((folder / "frame_0011.png").read_bytes()[:60])  # cut off
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(folder, out, Invert(), temporal="off", progress=False)
    assert result.frames == 11 and marks(read_frames(out)) == [i for i in kept if i != 10]
    assert "skipped 1 damaged frame(s) of shot (frame_0011.png)" in caplog.text
    # an earlier file the sequence's decoder refused (JPEG bytes named .png) is not decoded again
    # at the flush, where it would have come out after the frames that follow it
    assert cv2.imwrite(str(folder / "x.jpg"), cv2.cvtColor(marked(4), cv2.COLOR_RGB2BGR))
    (folder / "x.jpg").replace(folder / "frame_0005.png")
    result = stylize_video(folder, out, Invert(), temporal="off", progress=False, overwrite=True)
    assert marks(read_frames(out)) == [i for i in kept if i not in (4, 10)]


def test_a_frame_whose_compressed_data_is_garbled_is_skipped_not_fatal(tmp_path, caplog):
    """zlib's refusal, which FFmpeg's PNG decoder says as an "external library" error, is damage."""
    folder = tmp_path / "shot"
    kept = write_sequence(folder, 8)
    data = bytearray((folder / "frame_0005.png").read_bytes())
    start = data.index(b"IDAT") + 8  # inside the compressed pixels, past the chunk's header
    data[start:start + 200] = bytes(200)
    (folder / "frame_0005.png").write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(folder, out, Invert(), temporal="off", progress=False)
    assert result.frames == 7 and marks(read_frames(out)) == [i for i in kept if i != 4]
    assert "skipped 1 damaged frame(s) of shot (frame_0005.png)" in caplog.text


def test_jpeg_frames_of_changing_size_and_an_awkward_folder_name(tmp_path, caplog):
    folder = tmp_path / "take [2]: final * 100%"
    write_sequence(folder, 4, name="f{:03d}.jpg")
    write_sequence(folder, 2, name="f{:03d}.jpg", first=5, size=(80, 60))  # a frame of another size
    with VideoDecoder(folder, fps=25) as dec:
        frames = [f.image for f in dec.read()]
        assert (dec.info.width, dec.info.height, dec.info.frame_rate) == (64, 48, 25)
    assert len(frames) == 6 and all(f.shape == (48, 64, 3) for f in frames)  # scaled to the first
    assert psnr(frames[0], marked(0)) > 30
    out = tmp_path / "o.mkv"
    stylize_video(folder, out, Invert(), temporal="off", progress=False)
    assert probe(out).frames == 6


@pytest.mark.parametrize("names, message", [
    ((), "is a folder with no image sequence in it"),
    (("a.mp4:empty", "b.MOV:empty", "notes.txt:empty"),  # a folder of clips: said how to stylize each
     r"holds videos \(a.mp4, b.MOV\), not numbered frames: to stylize each of them, give them as .*frames/\*$"),
    (("a1.png", "a2.jpg"), r"holds images of several kinds \(1 .png, 1 .jpg\)"),
    (("f1.png", "f2.png", "f10.png"), r"sort differently as text than by number \(f10.png comes before f2.png\): "
                                      r"pad the numbers"),
    (("f1.png", "f2.PNG"), "mixes .PNG and .png names"),
    (("a_0001.png", "a_0002.png", "b_0001.png", "b_0002.png"),
     r"holds frames of several names: a_#.png \(2\), b_#.png \(2\); keep one sequence per folder"),
    (("cover.png", "f_0001.png", "f_0002.png"), r"several names: f_#.png \(2\), cover.png \(1\)"),
    (("f_1.png", "f_01.png"), r"frame number 1 appears twice in .* \(f_01.png, f_1.png\)"),
    (("f_0001.png", "f_0002.png:empty"), r"1 frame\(s\) of .* are empty files \(f_0002.png\): placeholders"),
    (("f_0001.png", "f_0002.png:folder"), "f_0002.png in .* is a folder, not a frame"),
    (("f_0001.png", "f_0002.png:dangling"), "f_0002.png in .* is a broken link, not a frame"),
])
def test_folders_that_are_not_one_sequence_are_refused_with_the_reason(tmp_path, names, message):
    folder = tmp_path / "frames"
    folder.mkdir()
    for entry in names:
        n, _, kind = entry.partition(":")
        if kind == "empty":
            (folder / n).touch()
        elif kind == "folder":
            (folder / n).mkdir()
        elif kind == "dangling":
            (folder / n).symlink_to(tmp_path / "gone.png")
        else:
            cv2.imwrite(str(folder / n), marked(0))
    with pytest.raises(VidstyleError, match=message):
        find_sequence(folder)
    with pytest.raises(VidstyleError, match=message):
        stylize_video(folder, tmp_path / "o.mp4", Invert(), progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_an_ffmpeg_without_glob_patterns_reads_frames_numbered_without_gaps(tmp_path, monkeypatch):
    """FFmpeg's Windows builds have no glob patterns (image2 then fails with ENOSYS): a folder of
    frames was "not a readable video file (Function not implemented)". Numbered without gaps, in one
    pattern, it is read through FFmpeg's own numbered pattern (padded or not, from any first
    number, a % in the folder's or the frames' names kept; one frame named without a number as it
    is, where it raised IndexError); otherwise said, with what to do."""
    import errno

    import av

    import vidstyle.io.sequence as sequence

    real_open = av.open

    def without_glob(*args, **kwargs):
        if (kwargs.get("options") or {}).get("pattern_type") == "glob":
            av.error.err_check(-errno.ENOSYS, args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(sequence.av, "open", without_glob)
    # (s01_01.png: the frame's digits appear earlier in its name too; its number is the last group)
    for folder, name, first in (("shot", "frame_{:d}.png", 1001), ("take 100%", "f%_{:04d}.png", 1),
                                ("s01", "s01_{:02d}.png", 1)):
        write_sequence(tmp_path / folder, 6, name=name, first=first)
        result = stylize_video(tmp_path / folder, tmp_path / "o.mp4", Invert(), temporal="off", progress=False,
                               overwrite=True)
        assert result.frames == 6 and marks(read_frames(tmp_path / "o.mp4"), 6) == list(range(6))
    write_sequence(tmp_path / "one", 1, name="cover.png")  # one frame, its name without a number
    result = stylize_video(tmp_path / "one", tmp_path / "o.mp4", Invert(), temporal="off", progress=False,
                           overwrite=True)
    assert result.frames == 1 and marks(read_frames(tmp_path / "o.mp4"), 1) == [0]
    write_sequence(tmp_path / "gap", 4, skip=(2,))  # frame_0003.png missing: FFmpeg would stop there
    with pytest.raises(VidstyleError, match=r"gap: this FFmpeg build reads no folder of frames with gaps in their "
                                            r"numbers .*-framerate 30000/1001 -start_number 1 -i "
                                            r".*frame_%04d\.png\" -c:v ffv1 frames\.mkv"):
        stylize_video(tmp_path / "gap", tmp_path / "g.mp4", Invert(), sequence_fps=29.97, progress=False)
    assert not (tmp_path / "g.mp4").exists()


def test_frame_rates_are_checked():
    assert sequence_fps("30000/1001") == Fraction(30000, 1001) and sequence_fps(23.976) == Fraction(24000, 1001)
    assert sequence_fps(12.5) == Fraction(25, 2) and sequence_fps("119.88") == Fraction(120000, 1001)
    # as editors write them, rounded to two places: 23.98 is 4 thousandths from 23.976
    assert sequence_fps("23.98") == Fraction(24000, 1001) and sequence_fps(59.94) == Fraction(60000, 1001)
    assert sequence_fps("1/86400") == sequence_fps(1 / 86400) == Fraction(1, 86400)  # a frame a day
    # any whole rate slowed by 1000/1001 is NTSC, never a whole or half rate itself (1 is 1.001 *
    # 0.999; 960 is within a ten-thousandth of 961000/1001, 499.5 of 500000/1001)
    assert sequence_fps("47.952") == Fraction(48000, 1001) and sequence_fps(14.985) == Fraction(15000, 1001)
    assert all(sequence_fps(n / 2) == Fraction(n, 2) for n in range(1, 2001))
    assert ntsc_rate(Fraction(960), Fraction(960, 10000)) == 960  # as a video's rate is taken
    # nearer than 1/200 to 10000/1001 but not within a ten-thousandth of itself: as written
    assert sequence_fps("9.995") == Fraction(1999, 200)
    for bad in (0, -24, "fast", 10 ** 6, 1e-300, "1/86401"):  # 1e-300 failed when the folder was opened
        with pytest.raises(VidstyleError, match="fps must be"):
            sequence_fps(bad)


def test_several_inputs_may_be_sequences_and_the_cli_takes_fps(tmp_path, style, cli):
    write_sequence(tmp_path / "shot_a", 3)
    clip = make_video(tmp_path / "b.mp4", frames=3)
    results = dict(stylize_files([tmp_path / "shot_a", clip], tmp_path / "out", Invert(), temporal="off",
                                 progress=False))
    assert probe(tmp_path / "out" / "shot_a.mp4").frames == 3 and probe(tmp_path / "out" / "b.mp4").frames == 3
    assert not any(isinstance(r, Exception) for r in results.values())
    done = cli("stylize", tmp_path / "shot_a", "-o", tmp_path / "cli.mp4", "--style", style, "--fps", "12")
    assert done.returncode == 0, done.stderr
    assert "3 .png frames at 12 fps" in done.stderr
    assert frame_times(tmp_path / "cli.mp4") == [Fraction(i, 12) for i in range(3)]
    done = cli("stylize", clip, "-o", tmp_path / "cli2.mp4", "--style", style, "--fps", "12")
    assert done.returncode == 0 and "--fps applies to image sequences" in done.stderr



def test_a_folder_named_like_an_image_is_a_sequence(tmp_path, style, cli):
    """A folder of frames can be named render.png/, as one can be named shot.mov/: the command
    line took it for a still ("input is a folder, not a video file")."""
    write_sequence(tmp_path / "render.png", 3)
    done = cli("stylize", tmp_path / "render.png", "-o", tmp_path / "cli.mp4", "--style", style, "--fps", "12")
    assert done.returncode == 0, done.stderr
    assert "3 .png frames at 12 fps" in done.stderr and probe(tmp_path / "cli.mp4").frames == 3
    results = dict(stylize_files([tmp_path / "render.png"], tmp_path / "out", Invert(), temporal="off",
                                 progress=False))
    assert not any(isinstance(r, Exception) for r in results.values())
    assert probe(tmp_path / "out" / "render.png.mp4").frames == 3  # named after the folder, as a video

# --- writing frames ----------------------------------------------------------------------------

def read_png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_a_video_becomes_numbered_lossless_frames(tmp_path, caplog):
    src = make_video(tmp_path / "in.mp4", frames=5, audio=True)
    out = tmp_path / "new" / "frames" / "styled_%04d.png"  # folders made
    result = stylize_video(src, out, Invert(), temporal="off", progress=False)
    assert result.frames == 5 and result.output == out
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == [f"styled_{i:04d}.png" for i in range(1, 6)]  # no hidden leftovers either
    with VideoDecoder(src) as dec:
        expected = [255 - f.image for f in dec.read()]
    assert all(np.array_equal(read_png(out.parent / n), e) for n, e in zip(names, expected))  # PNG: exact
    assert "an image sequence holds no sound: the audio of in.mp4 is not written" in caplog.text
    # an existing frame of the pattern is refused, and --overwrite replaces them
    with pytest.raises(VidstyleError, match=r"already holds frames of styled_%04d.png \(styled_0001.png, 5 in all\)"):
        stylize_video(src, out, Invert(), temporal="off", progress=False)
    stylize_video(src, out, Invert(), temporal="off", progress=False, overwrite=True)
    assert len(list(out.parent.iterdir())) == 5


def test_a_long_name_that_fits_as_frames_is_written(tmp_path):
    # the hidden working folder added 26 bytes to the name: OSError "File name too long", and the
    # folder made for the frames was left behind (review, 36th session)
    src = make_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "new" / ("a" * 240 + "_%04d.png")
    stylize_video(src, out, Invert(), temporal="off", progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == ["a" * 240 + f"_{i:04d}.png" for i in (1, 2)]


def test_an_input_sequence_keeps_its_numbers(tmp_path):
    write_sequence(tmp_path / "shot", 6, first=1001, skip=(2,))  # 1001, 1002, 1004, 1005, 1006
    out = tmp_path / "out" / "s.%d.png"
    stylize_video(tmp_path / "shot", out, Invert(), temporal="off", progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == [f"s.{n}.png" for n in (1001, 1002, 1004, 1005, 1006)]
    assert marks(np.stack([read_png(out.parent / "s.1004.png")])) == [3]
    # a segment: the frames it holds keep their numbers too
    seg = tmp_path / "seg" / "s_%04d.png"
    stylize_video(tmp_path / "shot", seg, Invert(), temporal="off", start=2 / 24, duration=2 / 24, progress=False)
    assert sorted(p.name for p in seg.parent.iterdir()) == ["s_1004.png", "s_1005.png"]


def test_the_frame_number_is_the_last_number_in_a_name(tmp_path):
    """A render of take 2 of shot 10 (shot10_take2_0101.png, ...): its frames are numbered by the
    last group of digits; the first would give every frame the number 10 (refused as twice)."""
    write_sequence(tmp_path / "shot", 3, name="shot10_take2_{:04d}.png", first=101)
    sequence = find_sequence(tmp_path / "shot")
    assert [sequence.number(i) for i in range(sequence.count)] == [101, 102, 103]
    out = tmp_path / "out" / "s_%04d.png"
    stylize_video(tmp_path / "shot", out, Invert(), temporal="off", progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == ["s_0101.png", "s_0102.png", "s_0103.png"]


def test_a_failed_run_leaves_no_frames_and_no_folder_it_made(tmp_path):
    class FailsLate(Invert):
        calls = 0

        def stylize_batch(self, images):
            self.calls += 1
            if self.calls > 2:
                raise VidstyleError("stylizer gave up")
            return super().stylize_batch(images)

    src = make_video(tmp_path / "in.mp4", frames=12)
    out = tmp_path / "made" / "f_%03d.png"
    with pytest.raises(VidstyleError, match="stylizer gave up"):
        stylize_video(src, out, FailsLate(), temporal="off", batch=1, progress=False)
    assert not (tmp_path / "made").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "other.txt").write_text("mine")
    with pytest.raises(VidstyleError, match="stylizer gave up"):
        stylize_video(src, tmp_path / "kept" / "f_%03d.png", FailsLate(), temporal="off", batch=1, progress=False)
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["other.txt"]


def test_frame_output_mistakes_are_refused_before_any_work(tmp_path):
    from vidstyle.pipeline import stylize_image

    write_sequence(tmp_path / "shot", 2)
    with pytest.raises(VidstyleError, match="would go into the input sequence's folder"):
        stylize_video(tmp_path / "shot", tmp_path / "shot" / "out_%04d.png", Invert(), progress=False)
    cv2.imwrite(str(tmp_path / "still.png"), marked(0))
    with pytest.raises(VidstyleError, match="still image, one frame: give the output a name without"):
        stylize_image(tmp_path / "still.png", tmp_path / "o_%04d.png", Invert())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot", "still.png"]


def test_a_frame_number_field_in_a_video_name_is_refused_not_written_as_typed(tmp_path, style, cli):
    """`-o out_%d.mp4` wrote one file named out_%d.mp4 without a word, where FFmpeg's users read
    %d as numbered frames (review, 53rd session)."""
    clip = make_video(tmp_path / "in.mp4", frames=2)
    for name in ("out_%d.mp4", "out_%04d.webm", "out_%d.gif"):
        done = cli("stylize", clip, "-o", tmp_path / name, "--style", style)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"vidstyle: error: {name}: {name[4:-len(Path(name).suffix)]} numbers the frames of an image sequence "
            f"({Path(name).with_suffix('.png')}); a video is one file: name it without {name[4:-len(Path(name).suffix)]}"]
    done = cli("live", "--source", clip, "--no-window", "--record", tmp_path / "rec_%d.mp4", "--style", style)
    # (a recording is never numbered frames, whatever its extension: said as live says it)
    assert done.stderr == ("vidstyle: error: rec_%d.mp4: a recording is one file, not numbered frames: "
                           "name it without %d\n")
    assert done.returncode == 1, done.stderr
    # into a folder, an input whose name reads so is said before any work, as a still's is
    os.link(clip, tmp_path / "clip_%03d.mp4")
    done = cli("stylize", clip, tmp_path / "clip_%03d.mp4", "-o", tmp_path / "styled", "--style", style)
    assert done.returncode == 1 and "clip_%03d.mp4 reads as numbered frames" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_%03d.mp4", "in.mp4"]
    # a %d inside a word is a name, not a field: written as typed
    done = cli("stylize", clip, "-o", tmp_path / "50%done.mp4", "--style", style)
    assert done.returncode == 0 and (tmp_path / "50%done.mp4").is_file(), done.stderr


@pytest.mark.parametrize("name,field", [("shot_%04dv2.mp4", "%04d"), ("take%03dB.mkv", "%03d"), ("out_%d.mp4", "%d"),
                                        ("50%done.mp4", None), ("a_%dB.webm", None)])
def test_only_a_bare_d_before_a_letter_is_part_of_a_video_name(tmp_path, name, field):
    """A %d followed by a letter may be a word's start (50%done.mp4); a zero-padded %04d starts
    none, and shot_%04dv2.mp4 was written as one file under the name as typed (review, 54th session)."""
    from vidstyle.io.files import check_output

    if field is None:
        assert check_output(tmp_path / name) == tmp_path / name
    else:
        with pytest.raises(VidstyleError, match=f"{name}: {field} numbers the frames of an image sequence"):
            check_output(tmp_path / name)


def test_frames_with_exif_or_an_icc_profile_read_like_any_other(tmp_path):
    """FFmpeg 8 gives such frames side data (EXIF; ICC profiles) that PyAV 18 cannot open: EXIF
    raised "31 is not a valid Type", and a PNG's ICC profile crashed the process when collected
    (hence a child process here: a crash fails this test, not the suite)."""
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "vidstyle test camera"  # Make
    folders = {"tif": tmp_path / "tif", "jpg": tmp_path / "jpg", "png": tmp_path / "png"}
    for kind, folder in folders.items():
        folder.mkdir()
        for i in range(3):
            img = Image.fromarray(marked(i))
            if kind == "png":
                img.save(folder / f"f_{i:04d}.png", icc_profile=icc)
            else:
                img.save(folder / f"f_{i:04d}.{kind}", exif=exif.tobytes(), **({"quality": 95} if kind == "jpg" else {}))
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from test_sequence import Invert\n"
              "from vidstyle.pipeline import stylize_video\n"
              "for folder in sys.argv[1:]:\n"
              "    print(stylize_video(folder, folder + '.mp4', Invert(), temporal='off', progress=False).frames)\n")
    done = subprocess.run([sys.executable, "-c", script, *map(str, folders.values())], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "3", "3"]
    for folder in folders.values():
        assert marks(read_frames(f"{folder}.mp4")) == [0, 1, 2]


def test_folder_names_with_a_colon_dots_and_transparent_frames(tmp_path, monkeypatch, caplog):
    """A relative name with a colon is no protocol ("take:2"); "." names its folder; RGBA frames
    keep their alpha in PNG frames, and lose it with a warning in JPEG ones."""
    monkeypatch.chdir(tmp_path)
    write_sequence(Path("take:2"), 3)
    assert stylize_video("take:2", "a.mp4", Invert(), temporal="off", progress=False).frames == 3
    monkeypatch.chdir(tmp_path / "take:2")
    results = dict(stylize_files(["."], tmp_path / "styled", Invert(), temporal="off", progress=False))
    assert (tmp_path / "styled" / "take:2.mp4").is_file() and len(results) == 1
    rgba = tmp_path / "rgba"
    rgba.mkdir()
    for i in range(2):
        cv2.imwrite(str(rgba / f"f_{i}.png"), np.dstack([marked(i), np.full((48, 64), 128, np.uint8)]))
    stylize_video(rgba, tmp_path / "r" / "f_%d.png", Invert(), temporal="off", progress=False)
    assert "transparency" not in caplog.text
    kept = cv2.imread(str(tmp_path / "r" / "f_0.png"), cv2.IMREAD_UNCHANGED)
    assert kept.shape == (48, 64, 4) and np.array_equal(kept[..., 3], np.full((48, 64), 128, np.uint8))
    stylize_video(rgba, tmp_path / "j" / "f_%d.jpg", Invert(), temporal="off", progress=False)
    assert "rgba has an alpha channel (transparency), which .jpg images cannot hold" in caplog.text



@pytest.mark.parametrize("kind", ["opaque RGBA PNG", "CMYK JPEG", "RGBA, opaque first"])
def test_frames_with_an_alpha_plane_but_no_transparency_are_opaque(tmp_path, caplog, kind):
    """Renderers write RGBA PNGs that are opaque throughout, and FFmpeg decodes CMYK JPEGs with an
    opaque alpha plane: such a sequence has no transparency to keep or lose (it was said to have
    an alpha channel an MP4 cannot hold, and its PNG frames were written RGBA)."""
    from PIL import Image

    folder = tmp_path / "shot"
    folder.mkdir()
    for i in range(3):
        rgb = marked(i)
        if kind == "CMYK JPEG":
            Image.fromarray(rgb).convert("CMYK").save(folder / f"f_{i}.jpg", quality=95)
        else:
            alpha = np.full((48, 64), 255, np.uint8)
            if kind == "RGBA, opaque first" and i > 0:
                alpha[:8, :8] = 0  # transparency from the second frame on
            Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / f"f_{i}.png")
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        with VideoDecoder(folder) as decoder:
            assert decoder.info.alpha is False
        stylize_video(folder, tmp_path / "out.mp4", Invert(), temporal="off", progress=False)
        stylize_video(folder, tmp_path / "frames" / "f_%d.png", Invert(), temporal="off", progress=False)
    assert "has an alpha channel" not in caplog.text
    assert cv2.imread(str(tmp_path / "frames" / "f_0.png"), cv2.IMREAD_UNCHANGED).shape == (48, 64, 3)
    assert marks(read_frames(tmp_path / "out.mp4"), 3) == [0, 1, 2]
    # transparency that comes later is said, as it was (the first frame decides)
    assert ("has transparency from 0.04 s on, which its first frame has not" in caplog.text) == \
        (kind == "RGBA, opaque first")


def test_palette_frames_keep_their_transparent_colour(tmp_path, caplog):
    """A palette PNG's transparency lives in its palette (tRNS); FFmpeg decodes it as pal8, which
    has no alpha component: it was dropped without a word, though a still of the same file kept it."""
    from PIL import Image

    folder = tmp_path / "pal"
    folder.mkdir()
    for i in range(3):
        rgb = marked(i)
        rgb[:8, :8] = (0, 255, 0)  # one colour made transparent below
        frame = Image.fromarray(rgb).quantize(16)
        frame.save(folder / f"f_{i}.png", transparency=frame.getpixel((0, 0)))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(folder, tmp_path / "out" / "f_%d.png", Invert(), temporal="off", progress=False)
    assert "alpha kept" in result.summary()
    alpha = np.asarray(Image.open(tmp_path / "out" / "f_1.png"))[..., 3]
    assert (alpha[:8, :8] == 0).all() and (alpha[8:] == 255).all() and (alpha[:, 8:] == 255).all()
    # a palette made transparent only from the second frame on is said, as RGBA frames are
    (folder / "f_0.png").unlink()
    Image.fromarray(marked(0)).quantize(16).save(folder / "f_0.png")
    stylize_video(folder, tmp_path / "later.mp4", Invert(), temporal="off", progress=False)
    assert "pal has transparency from 0.04 s on, which its first frame has not" in caplog.text


def test_sixteen_bit_alpha_is_rounded_to_the_nearest_level(tmp_path):
    """A 16-bit RGBA render's alpha is written back as 8 bits rounded to the nearest level, as
    Pillow reads the same file (swscale made 32896, exactly 128, into 129)."""
    folder = tmp_path / "deep"
    folder.mkdir()
    levels = np.array([0, 1000, 32896, 40000, 65535], np.uint16)
    for i in range(2):
        frame = np.zeros((48, 64, 4), np.uint16)
        frame[..., :3] = 20000 + 5000 * i
        frame[..., 3] = np.repeat(levels, 13)[:64]
        assert cv2.imwrite(str(folder / f"f_{i}.png"), frame)
    stylize_video(folder, tmp_path / "out" / "f_%d.png", Invert(), temporal="off", progress=False)
    alpha = cv2.imread(str(tmp_path / "out" / "f_1.png"), cv2.IMREAD_UNCHANGED)[..., 3]
    expected = np.round(np.repeat(levels, 13)[:64].astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(alpha, np.broadcast_to(expected, alpha.shape)), np.unique(alpha)

def test_sixteen_bit_colour_is_rounded_to_the_nearest_level(tmp_path):
    """A 16-bit render's colours (RGB, grey) come to 8 bits rounded to the nearest level: swscale
    made them about half a level bright on average, up to 1.4 levels (grey 51400, exactly 200, was 201)."""
    levels = np.array([25600, 257, 1000, 32896, 33024, 51400, 51528, 30000], np.uint16)  # (no dark edge: a bar)
    row = np.repeat(levels, 8)
    expected = 255 - np.round(row.astype(np.float64) * 255 / 65535).astype(np.uint8)  # (Invert)
    for name, frame in (("rgb", np.dstack([np.tile(row, (48, 1))] * 3)), ("grey", np.tile(row, (48, 1)))):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(2):
            assert cv2.imwrite(str(folder / f"f_{i}.png"), frame)
        stylize_video(folder, tmp_path / f"{name}_out" / "f_%d.png", Invert(), temporal="off", progress=False)
        out = cv2.imread(str(tmp_path / f"{name}_out" / "f_1.png"))
        assert np.array_equal(out, np.broadcast_to(expected[None, :, None], out.shape)), (name, np.unique(out))


def test_frame_pattern_mistakes_and_leftovers_are_said(tmp_path, caplog):
    src = make_video(tmp_path / "in.mp4", frames=4, audio=True)
    for bad in ("f_%5d.png", "f_%d_%d.png", "f_%%04d.png"):
        with pytest.raises(VidstyleError, match="numbered frames take one frame-number field, %d or %0Nd"):
            stylize_video(src, tmp_path / "o" / bad, Invert(), progress=False)
    with pytest.raises(VidstyleError, match=r"or as numbered frames \(still_%04d.png\)"):
        stylize_video(src, tmp_path / "still.png", Invert(), progress=False)
    # a render's frame_####.png (Nuke's, After Effects' spelling) is pointed at frame_%04d.png
    with pytest.raises(VidstyleError, match=r"or as numbered frames \(frame_%04d.png\)"):
        stylize_video(src, tmp_path / "frame_####.png", Invert(), progress=False)
    with pytest.raises(VidstyleError, match=r"or as numbered frames \(f_%02d.jpg\)"):
        stylize_video(src, tmp_path / "f_##.jpg", Invert(), progress=False)
    assert not (tmp_path / "o").exists()
    out = tmp_path / "f" / "x_%03d.png"
    stylize_video(src, out, Invert(), temporal="off", progress=False, no_audio=True)
    assert "holds no sound" not in caplog.text  # --no-audio: nothing to warn of
    stylize_video(src, out, Invert(), temporal="off", progress=False, overwrite=True, duration=2 / 24)
    assert "2 frame(s) of x_%03d.png from an earlier run remain in" in caplog.text
    assert "(x_003.png, ...), beside this run's 2" in caplog.text
    # files of the pattern's name without a frame number are none of its frames: not refused, not said left over
    for old in out.parent.glob("x_*.png"):
        old.unlink()
    for name in ("x_.png", "x_final.png"):
        (out.parent / name).write_bytes(b"mine")
    caplog.clear()
    stylize_video(src, out, Invert(), temporal="off", progress=False, no_audio=True, duration=1 / 24)
    stylize_video(src, out, Invert(), temporal="off", progress=False, no_audio=True, overwrite=True, duration=1 / 24)
    assert "from an earlier run remain" not in caplog.text
    assert sorted(p.name for p in out.parent.iterdir()) == ["x_.png", "x_001.png", "x_final.png"]


def test_the_writer_names_a_full_disk_and_refuses_a_number_twice(tmp_path, monkeypatch):
    import errno

    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=3)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sequence, "write_image", full)
    with pytest.raises(VidstyleError, match=r"writing .*out/f_0001.png failed: No space left on device"):
        stylize_video(src, tmp_path / "out" / "f_%04d.png", Invert(), temporal="off", progress=False)
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    with VideoDecoder(src) as dec:
        writer = sequence.SequenceWriter(tmp_path / "w" / "f_%d.png", dec.info, number_of=lambda pts: 7)
    writer.write(marked(0), 0)
    with pytest.raises(VidstyleError, match="two frames would both be written as f_7.png"):
        writer.write(marked(1), 1)
    writer.abort()
    assert not (tmp_path / "w").exists()


def test_frames_that_appear_while_the_writer_works_stay_without_overwrite(tmp_path, monkeypatch):
    """Frames of the same numbers written by another program while this run worked, found by
    the check before the renames or appearing between the check and a rename: they are kept as
    written, and none of this run's frames is left behind."""
    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out"
    out.mkdir()

    def writer_of_three():
        with VideoDecoder(src) as dec:
            writer = sequence.SequenceWriter(out / "f_%d.png", dec.info)
        for i in range(3):
            writer.write(marked(i), i)
        return writer

    writer = writer_of_three()
    (out / "f_3.png").write_bytes(b"theirs")
    # an OutputExistsError (a FileExistsError too), as a video output that appears meanwhile is: it was
    # a plain VidstyleError (review, 56th session)
    with pytest.raises(OutputExistsError, match=r"frames of f_%d.png appeared in .*out while processing \(f_3.png\); "
                                                r"pass --overwrite"):
        writer.finish()
    writer.abort()
    assert sorted(p.name for p in out.iterdir()) == ["f_3.png"]
    (out / "f_3.png").unlink()
    real_link = os.link

    def other_program_first(src_path, dst, *args, **kw):
        if Path(dst).name == "f_2.png":
            Path(dst).write_bytes(b"theirs")
        return real_link(src_path, dst, *args, **kw)

    monkeypatch.setattr(os, "link", other_program_first)
    writer = writer_of_three()
    with pytest.raises(OutputExistsError, match=r"appeared in .*out while processing \(f_2.png\)"):
        writer.finish()
    assert sorted(p.name for p in out.iterdir()) == ["f_2.png"] and (out / "f_2.png").read_bytes() == b"theirs"


def test_a_frames_folder_renamed_mid_run_is_left_without_the_run_s_frames_or_folders(tmp_path, monkeypatch):
    """The output's folder moved aside while the frames were written: the run failed, but left
    the hidden folder with every frame written so far, and the empty folder it had made for them,
    in the folder under its new name (review, 54th session). They are found where they went and
    removed; the renamed folder itself, now someone else's, stays."""
    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=4)
    real = sequence.write_image

    def renamed_at_the_third(path, *args, **kwargs):
        if Path(path).name == "f_0003.png":
            (tmp_path / "p").rename(tmp_path / "moved")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sequence, "write_image", renamed_at_the_third)
    with pytest.raises(VidstyleError, match=r"writing .*p/frames/f_0003.png failed: its folder .*p/frames was "
                                            r"removed or renamed meanwhile"):
        stylize_video(src, tmp_path / "p" / "frames" / "f_%04d.png", Invert(), temporal="off", progress=False)
    assert list((tmp_path / "moved").iterdir()) == []
    monkeypatch.undo()
    # renamed once all are written, another folder made under the name: none goes into it
    out = tmp_path / "out"
    out.mkdir()
    with VideoDecoder(src) as dec:
        writer = sequence.SequenceWriter(out / "f_%d.png", dec.info)
    for i in range(3):
        writer.write(marked(i), i)
    out.rename(tmp_path / "moved_out")
    out.mkdir()
    with pytest.raises(VidstyleError, match=r"writing .*out/f_%d.png failed: its folder .*out was removed or "
                                            r"renamed meanwhile"):
        writer.finish()
    writer.abort()
    assert list((tmp_path / "moved_out").iterdir()) == [] and list(out.iterdir()) == []


def test_a_folder_the_run_made_renamed_mid_run_and_made_again_by_someone_is_theirs(tmp_path, monkeypatch):
    """The folders a run made are removed where they went when it fails; one made again under the
    name meanwhile (a new empty ``renders`` for the next try) is someone else's, and stays."""
    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=4)
    real = sequence.write_image

    def renamed_and_made_again_at_the_third(path, *args, **kwargs):
        if Path(path).name == "f_0003.png":
            (tmp_path / "renders").rename(tmp_path / "moved")
            (tmp_path / "renders").mkdir()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sequence, "write_image", renamed_and_made_again_at_the_third)
    with pytest.raises(VidstyleError, match=r"its folder .*renders/frames was removed or renamed meanwhile"):
        stylize_video(src, tmp_path / "renders" / "frames" / "f_%04d.png", Invert(), temporal="off", progress=False)
    assert (tmp_path / "renders").is_dir() and list((tmp_path / "renders").iterdir()) == []
    assert list((tmp_path / "moved").iterdir()) == []


@pytest.mark.parametrize("overwrite, aside", [(False, False), (True, False), (True, True)])
def test_a_frames_folder_renamed_while_the_frames_are_moved_in_gets_nothing_of_the_run(tmp_path, monkeypatch,
                                                                                          overwrite, aside):
    """The folder renamed while the finished frames were moved into it: those moved before stayed
    in it where it went (and with --overwrite the earlier frames they replaced stayed hidden,
    aside). This run's frames go again, the earlier ones come back, wherever the folder is. ``aside``:
    renamed while the earlier frames were put aside, before any of this run's was moved in."""
    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out"
    out.mkdir()
    if overwrite:
        for n in (1, 2, 3):
            (out / f"f_{n}.png").write_bytes(b"earlier %d" % n)
    with VideoDecoder(src) as dec:
        writer = sequence.SequenceWriter(out / "f_%d.png", dec.info, overwrite=overwrite)
    for i in range(3):
        writer.write(marked(i), i)
    real_link, real_replace = os.link, os.replace

    def renamed_at_the_third(src_path, dst, *args, **kw):
        if Path(dst).name == "f_3.png" and (Path(dst).parent.name.startswith(".") if aside else Path(dst).parent == out):
            out.rename(tmp_path / "moved")
        return (real_replace if overwrite else real_link)(src_path, dst, *args, **kw)

    monkeypatch.setattr(os, "replace" if overwrite else "link", renamed_at_the_third)
    with pytest.raises(VidstyleError, match=r"writing .*out/f_%d.png failed: its folder .*out was removed or renamed "
                                            r"meanwhile\Z"):
        writer.finish()
    monkeypatch.undo()
    writer.abort()
    left = {p.name: p.read_bytes() for p in (tmp_path / "moved").iterdir()}
    assert left == ({f"f_{n}.png": b"earlier %d" % n for n in (1, 2, 3)} if overwrite else {})


def test_a_hidden_frames_folder_removed_mid_run_is_said_as_that(tmp_path, monkeypatch):
    """The hidden folder removed from under the run (``rm -rf`` of the output folder caught before
    it reached the folder itself, a cleaner of hidden files): the run failed with a bare "No such
    file or directory" naming a frame of the output folder, which was there."""
    import shutil

    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=4)
    real = sequence.write_image

    def removed_at_the_third(path, *args, **kwargs):
        if Path(path).name == "f_0003.png":
            shutil.rmtree(Path(path).parent)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sequence, "write_image", removed_at_the_third)
    with pytest.raises(VidstyleError, match=r"writing .*out/f_0003.png failed: the hidden folder .*out/\.f_04d\."
                                            r"vidstyle-.*\.partial the frames are first written in was removed "
                                            r"meanwhile"):
        stylize_video(src, tmp_path / "out" / "f_%04d.png", Invert(), temporal="off", progress=False)
    assert not (tmp_path / "out").exists()


def test_frames_stopped_while_the_bars_are_sought_leave_no_hidden_folder(tmp_path, monkeypatch):
    """Ctrl-C (or an error) while the input's black bars were sought, after the frames' hidden
    folder was made but before the part of the run that aborts the writer: the hidden folder, and
    the folders made for it, stayed."""
    from vidstyle import pipeline

    src = make_video(tmp_path / "in.mp4", frames=3)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "video_picture_area", stopped)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, tmp_path / "p" / "frames" / "f_%04d.png", Invert(), temporal="off", progress=False)
    assert list(tmp_path.iterdir()) == [src]


def test_a_sequence_renamed_while_it_is_read_is_not_called_corrupt(tmp_path):
    # the input folder moved aside mid-run: "shot is corrupt or truncated: decoding failed (No
    # such file or directory)" sent the user looking for a damaged frame
    import shutil

    write_sequence(tmp_path / "shot", 1)
    for i in range(2, 301):  # (a few frames are all read as the folder is opened)
        shutil.copyfile(tmp_path / "shot" / "frame_0001.png", tmp_path / "shot" / f"frame_{i:04d}.png")
    with pytest.raises(VidstyleError, match=r"frames of .*shot were removed or renamed while they were read \(or "
                                            r"the folder was\): run again once they are in place"):
        with VideoDecoder(tmp_path / "shot") as dec:
            (tmp_path / "shot").rename(tmp_path / "moved")
            list(dec.read())


def test_frames_written_over_while_they_are_read_fail_the_run(tmp_path):
    """A frame written over (a render done again while it is stylized), or another renamed into its
    place, after it was read: the frames read are two renders', and the run went on to write them,
    while a video written over mid-run fails (changed_while_read). Said so, naming the frames, and
    nothing is written; one removed after it was read was read whole, as a video removed is."""
    import shutil

    def changed(after_reading) -> str | None:
        shutil.rmtree(tmp_path / "shot", ignore_errors=True)
        write_sequence(tmp_path / "shot", 6)
        with VideoDecoder(tmp_path / "shot") as dec:
            assert len(list(dec.read())) == 6
            after_reading(tmp_path / "shot")
            return dec.changed_while_read()

    def written_over_as(folder, n):
        assert cv2.imwrite(str(folder / f"frame_{n:04d}.png"), marked(9))

    def written_over(folder):
        written_over_as(folder, 2)

    def replaced(folder):
        assert cv2.imwrite(str(folder / "new.png"), marked(9))
        os.replace(folder / "new.png", folder / "frame_0005.png")

    assert changed(lambda folder: None) is None
    assert changed(lambda folder: (folder / "frame_0003.png").unlink()) is None
    assert changed(written_over) == (f"frames of {tmp_path / 'shot'} were written over while they were read "
                                     "(frame_0002.png): run again once they are complete")
    assert "(frame_0005.png)" in changed(replaced)
    # more than three named as a count; one written over in place with its time kept (cp -p) by its size
    assert changed(lambda folder: [written_over_as(folder, n) for n in range(1, 6)]).endswith(
        "(frame_0001.png, frame_0002.png, frame_0003.png and 2 more): run again once they are complete")

    def written_over_keeping_its_time(folder):
        then = os.stat(folder / "frame_0004.png")
        with open(folder / "frame_0004.png", "ab") as f:  # (the same file: only its size tells)
            f.write(b"\0" * 16)
        os.utime(folder / "frame_0004.png", ns=(then.st_atime_ns, then.st_mtime_ns))

    assert "(frame_0004.png)" in changed(written_over_keeping_its_time)
    # a whole run, the frame written over while later ones are still to be read: fails, writing nothing
    write_sequence(tmp_path / "shot", 6)
    for i in range(7, 61):  # more than the run holds in flight (its queues, the decoder's threads)
        shutil.copyfile(tmp_path / "shot" / "frame_0006.png", tmp_path / "shot" / f"frame_{i:04d}.png")

    def overwrite_at_the_third(done, total):
        if done == 3:
            written_over(tmp_path / "shot")

    for out in (tmp_path / "out.mp4", tmp_path / "frames" / "f_%04d.png"):
        with pytest.raises(VidstyleError, match=r"frames of .*shot were written over while they were read "
                                                r"\(frame_0002.png\): run again once they are complete"):
            stylize_video(tmp_path / "shot", out, Invert(), temporal="off", queue_size=1,
                          progress=overwrite_at_the_third)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_exif_orientation_turns_the_sequence_as_it_turns_a_still(tmp_path, orientation):
    from PIL import Image, ImageOps

    img = np.zeros((48, 64, 3), np.uint8)
    img[:16, :16] = 255
    img[30:, 40:, 1] = 200
    exif = Image.Exif()
    exif[0x0112] = orientation
    for i in range(2):
        Image.fromarray(img).save(tmp_path / f"f_{i:04d}.jpg", exif=exif.tobytes(), quality=98)
    with Image.open(tmp_path / "f_0000.jpg") as still:
        want = np.asarray(ImageOps.exif_transpose(still).convert("RGB")).astype(float)
    with VideoDecoder(tmp_path) as dec:
        got = next(dec.read()).image.astype(float)
    assert got.shape == want.shape and np.abs(got - want).mean() < 4


def test_a_folder_that_is_no_sequence_fails_before_the_network_loads(tmp_path, monkeypatch):
    from vidstyle import pipeline

    bad = tmp_path / "bad"
    write_sequence(bad, 2)
    (bad / "cover.png").write_bytes((bad / "frame_0001.png").read_bytes())
    clip = make_video(tmp_path / "a.mp4", frames=2)
    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a: pytest.fail("the network was loaded"))
    with pytest.raises(VidstyleError, match="several names"):
        stylize_video(bad, tmp_path / "o.mp4", "light_mondrian", progress=False)
    with pytest.raises(VidstyleError, match="several names"):
        stylize_files([clip, bad], tmp_path / "out", "light_mondrian", progress=False)
    assert not (tmp_path / "out").exists()


def test_frames_that_fail_to_move_into_place_are_all_taken_back(tmp_path, monkeypatch):
    from vidstyle.io import sequence

    src = make_video(tmp_path / "in.mp4", frames=5)
    (tmp_path / "out").mkdir()
    calls = []

    def fails_at_the_third(real):  # a rename, or the link that puts a frame in place without replacing
        def move(a, b, *args, **kw):
            calls.append(b)
            if len(calls) == 3:
                raise OSError(5, "Input/output error")
            return real(a, b, *args, **kw)
        return move

    monkeypatch.setattr(sequence.os, "replace", fails_at_the_third(sequence.os.replace))
    monkeypatch.setattr(sequence.os, "link", fails_at_the_third(sequence.os.link))
    with pytest.raises(VidstyleError, match="moving the frames into .*out failed: Input/output error"):
        stylize_video(src, tmp_path / "out" / "f_%d.png", Invert(), temporal="off", progress=False)
    assert list((tmp_path / "out").iterdir()) == []  # not the two moved before, nor the hidden folder


def test_frames_say_what_images_cannot_hold(tmp_path, caplog):
    from fractions import Fraction as F

    src = make_video(tmp_path / "in.mp4", frames=3, sar=F(4, 3))
    stylize_video(src, tmp_path / "f" / "x_%d.png", Invert(), temporal="off", progress=False)
    assert "pixels that are not square (aspect 4/3), which images cannot record" in caplog.text


def test_a_folder_is_listed_again_once_it_changes(tmp_path):
    write_sequence(tmp_path / "shot", 2)
    assert find_sequence(tmp_path / "shot").count == 2
    assert find_sequence(tmp_path / "shot") is find_sequence(tmp_path / "shot")  # listed once
    write_sequence(tmp_path / "shot", 1, first=3)  # frame_0003.png arrives
    assert find_sequence(tmp_path / "shot").count == 3


def _old_frames(tmp_path: Path, name: str) -> tuple[Path, Path, dict[str, bytes]]:
    """A 4-frame input video, and a folder ``out`` holding an earlier run's frames 1-5 named by
    ``name`` ("f_{:04d}.png"): (the video, the folder, each old frame's name and bytes)."""
    src = make_video(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "out"
    out.mkdir()
    old = {name.format(i): f"old {i}".encode() for i in range(1, 6)}
    for frame, data in old.items():
        (out / frame).write_bytes(data)
    return src, out, old


def test_a_folder_named_like_a_frame_is_not_replaced_with_overwrite(tmp_path):
    """--overwrite replaces earlier frames, not a folder that has a frame's name: the run fails,
    and the folder with what it holds, and the earlier frames, stay as they were (moved aside with
    the frames, the folder went with them when the run removed what it had replaced)."""
    src = make_video(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "f_1.png").write_bytes(b"old frame")
    (out / "f_2.png").mkdir()
    (out / "f_2.png" / "notes.txt").write_text("mine")
    with pytest.raises(VidstyleError, match=r"moving the frames into .*out failed"):
        stylize_video(src, out / "f_%d.png", Invert(), temporal="off", progress=False, overwrite=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["f_1.png", "f_2.png", "f_2.png/notes.txt"]
    assert (out / "f_1.png").read_bytes() == b"old frame" and (out / "f_2.png" / "notes.txt").read_text() == "mine"


def test_frames_that_cannot_replace_an_old_one_leave_the_old_frames_and_are_kept(tmp_path, held_open):
    """--overwrite over an earlier run's frames, one of which Windows will not let go of (open in a
    viewer): the frames moved into place before it were deleted again, so the old frames they had
    replaced were lost as well, and this run's frames with them. The old frames all stay, and this
    run's are kept in a folder beside them that the error names."""
    src, out, old = _old_frames(tmp_path, "f_{:04d}.png")
    (out / "f-2").mkdir()  # a folder of that name is there: the next free one
    held_open(out / "f_0003.png")
    with pytest.raises(VidstyleError, match=r"cannot replace .*out/f_0003\.png \(Permission denied: is it open in "
                                            r"another program\?\); the earlier frames are left as they were, and "
                                            r"this run's 4 frames are kept in .*out/f-3$"):
        stylize_video(src, out / "f_%04d.png", Invert(), temporal="off", progress=False, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == old
    assert sorted(p.name for p in out.iterdir() if not p.is_file()) == ["f-2", "f-3"]  # nothing hidden left
    kept = sorted((out / "f-3").iterdir())
    assert [p.name for p in kept] == [f"f_{i:04d}.png" for i in range(1, 5)]
    with VideoDecoder(src) as dec:
        assert all(np.array_equal(read_png(p), 255 - f.image) for p, f in zip(kept, dec.read()))


def test_frames_that_fail_to_move_in_over_old_ones_leave_the_old_frames(tmp_path, monkeypatch, caplog):
    """A rename that fails midway (an I/O error) with --overwrite: the frames moved in before it
    were deleted, and the old frames they had replaced were lost with them. The old frames stay,
    and are replaced, nothing else left, by a run that moves its frames in."""
    src, out, old = _old_frames(tmp_path, "f_{}.png")
    real_replace, failed = os.replace, []

    def fails_once_onto_the_third(a, b, *args, **kw):
        if Path(b) == out / "f_3.png" and not failed:
            failed.append(b)
            raise OSError(5, "Input/output error")
        return real_replace(a, b, *args, **kw)

    monkeypatch.setattr(os, "replace", fails_once_onto_the_third)
    with pytest.raises(VidstyleError, match=r"moving the frames into .*out failed: Input/output error$"):
        stylize_video(src, out / "f_%d.png", Invert(), temporal="off", progress=False, overwrite=True)
    assert failed and {p.name: p.read_bytes() for p in out.iterdir()} == old  # no hidden folder left either
    # run again, the rename working: this run's frames replace the old ones, and the hidden folder
    # the old ones were moved into on the way goes with them, without a word
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize_video(src, out / "f_%d.png", Invert(), temporal="off", progress=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [f"f_{i}.png" for i in range(1, 6)]
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert now["f_5.png"] == old["f_5.png"]
    assert all(now[f"f_{i}.png"] != old[f"f_{i}.png"] for i in range(1, 5)) and "hidden folder" not in caplog.text


def test_numbered_frames_too_long_for_windows_in_their_hidden_folder_are_refused_up_front(tmp_path, monkeypatch):
    """Frames are first written inside a hidden folder beside them (.STEM.vidstyle-RANDOM.partial),
    whose path Windows counts whole: frames whose final names fit, but not there, passed the check
    and failed at the first frame written, after the work of starting."""
    from vidstyle.io import files
    from vidstyle.io.sequence import check_sequence_output

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: False)
    pattern = tmp_path / ("d" * (files.WINDOWS_MAX_PATH - len(str(tmp_path)) - 40)) / "f_%04d.png"
    assert len(str(pattern.parent / "f_0001.png")) < files.WINDOWS_MAX_PATH  # the frames themselves fit
    with pytest.raises(VidstyleError, match=r"^output: the path is too long for Windows \(\d+ characters with its "
                                            "folder and the temporary name it is first written under"):
        check_sequence_output(pattern)
    fits = tmp_path / ("d" * 60) / "f_%04d.png"
    assert check_sequence_output(fits) == fits
