"""Several inputs into a folder: `vidstyle stylize a.mp4 b.mov c.jpg -o out/` and stylize_files()."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from processes import os_threads
from videos import make_video, probe, read_frames
from vidstyle import pipeline
from vidstyle.errors import VidstyleError
from vidstyle.io.images import read_image, write_image
from vidstyle.pipeline import folder_output, stylize_files


class Grey:
    """A stylizer that paints every pixel 90."""

    def stylize_batch(self, images):
        return np.full((len(images), *images[0].shape), 90, np.uint8)


@pytest.fixture
def inputs(tmp_path) -> list[Path]:
    clips = tmp_path / "clips"
    clips.mkdir()
    a = make_video(clips / "a.mp4", frames=5, audio=True)
    b = make_video(clips / "b.mkv", frames=4)
    photo = clips / "c.jpg"
    write_image(photo, np.full((40, 56, 3), 200, np.uint8))
    return [a, b, photo]


def test_every_input_lands_in_the_folder_under_its_own_name(tmp_path, inputs):
    out = tmp_path / "new" / "styled"  # made, parents too
    results = list(stylize_files(inputs, out, Grey(), temporal="off", progress=False))
    assert [source for source, _ in results] == inputs
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv", "c.jpg"]
    assert [r.frames for _, r in results] == [5, 4, 1] and results[2][1].still_image
    assert len(probe(out / "a.mp4").audio) == 1  # each video as stylize_video writes it
    assert abs(read_frames(out / "b.mkv")[0].astype(int) - 90).max() <= 3
    assert abs(read_image(out / "c.jpg").astype(int) - 90).max() <= 3


def test_a_failed_input_is_reported_and_the_others_still_run(tmp_path, inputs):
    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(inputs[0].read_bytes()[:3000])
    results = list(stylize_files([inputs[0], broken, inputs[2]], tmp_path / "out", Grey(), temporal="off",
                                 progress=False))
    assert isinstance(results[1][1], VidstyleError) and "broken.mp4" in str(results[1][1])
    assert results[0][1].frames == 5 and results[2][1].frames == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "c.jpg"]  # nothing half-written


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc (Linux)")
def test_errors_kept_by_the_caller_do_not_keep_their_runs_ffmpeg_threads(tmp_path, monkeypatch):
    """Found by a review of resources over many runs in one process: each error handed out kept
    its run (the traceback's frames, and the stage threads' closures that those frames keep, held
    the decoder and the encoder), with FFmpeg's decoding and encoding threads (invisible to
    threading.enumerate): a batch that kept its errors for a summary had 4 more threads a failed
    input, 8 failed inputs 33 threads more."""
    import gc
    import traceback

    import av

    from vidstyle.io import VideoEncoder, decode


    def runs() -> set[int]:  # (those an earlier test in this process may have left: not counted)
        return {id(o) for o in gc.get_objects() if type(o) in (decode.VideoDecoder, VideoEncoder)}

    clips = [make_video(tmp_path / f"{name}.mp4", frames=24, size=(160, 96), audio=True)
             for name in ("good", "bad1", "bad2", "bad3")]
    reading = decode.VideoDecoder._demux_decode

    def damaged_midway(self):  # as FFmpeg fails on corrupt data, in the decoding stage
        for n, item in enumerate(reading(self)):
            if n == 30 and self.path.name.startswith("bad"):
                raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield item

    monkeypatch.setattr(decode.VideoDecoder, "_demux_decode", damaged_midway)
    list(stylize_files(clips[:1], tmp_path / "warm", Grey(), temporal="off", progress=False))  # what stays
    gc.collect()
    before, held = len(os_threads()), runs()
    kept = list(stylize_files(clips[1:], tmp_path / "out", Grey(), temporal="off", progress=False))
    gc.collect()
    assert len(os_threads()) <= before
    # nor the runs themselves: the traceback's frames held each run's decoder and encoder (and its
    # frames), whose threads their close() lets go of, but not their memory
    assert not runs() - held
    assert [type(outcome) for _, outcome in kept] == [VidstyleError] * 3
    assert "bad1.mp4 is corrupt or truncated" in str(kept[0][1])
    # the traceback still says where it came from (--debug prints it)
    assert "in _stylize_video" in "".join(traceback.format_exception(kept[0][1]))


def test_an_output_folder_renamed_mid_run_stops_the_run_with_one_line(tmp_path, inputs):
    """The output folder moved aside after the first input: every input left failed in turn,
    each with its own "output folder does not exist" line (a line per input of a long batch). The
    run stops, naming them; what was finished stays in the folder where it went."""
    out = tmp_path / "out"
    run = stylize_files(inputs, out, Grey(), temporal="off", progress=False)
    source, result = next(run)
    assert source == inputs[0] and result.frames == 5
    out.rename(tmp_path / "moved")
    with pytest.raises(VidstyleError, match=r"the output folder .*out was removed or renamed meanwhile: 2 inputs "
                                            r"not stylized \(b.mkv, c.jpg\)"):
        next(run)
    assert sorted(p.name for p in (tmp_path / "moved").iterdir()) == ["a.mp4"] and not out.exists()


def test_progress_lines_in_a_log_name_the_input_they_count(tmp_path, inputs):
    log = io.StringIO()  # what `vidstyle stylize a.mp4 b.mkv -o out/ 2>log` gets: ProgressLines without a label
    list(stylize_files(inputs, tmp_path / "out", Grey(), temporal="off",
                       progress=pipeline.ProgressLines(interval=0, stream=log, clock=lambda: 0.0)))
    lines = log.getvalue().splitlines()
    assert lines and {line.split(":")[0] for line in lines} == {"a.mp4", "b.mkv"}
    assert "a.mp4: 5/5 frames" in lines and "b.mkv: 4/4 frames" in lines
    # the caller's object is left as it was given: reused for another run, its lines named c.jpg
    progress = pipeline.ProgressLines(interval=0, stream=log, clock=lambda: 0.0)
    list(stylize_files(inputs, tmp_path / "out2", Grey(), temporal="off", progress=progress))
    assert progress.label == ""


def test_one_path_is_one_input_not_its_characters(tmp_path, inputs):
    results = list(stylize_files(str(inputs[0]), tmp_path / "out", Grey(), temporal="off", progress=False))
    assert len(results) == 1 and results[0][1].frames == 5


class _PathObject:
    """A path object that is not a pathlib.Path (as other path libraries make): only __fspath__."""

    def __init__(self, path):
        self.path = str(path)

    def __fspath__(self):
        return self.path


def test_one_path_of_any_kind_is_one_input_and_a_non_path_is_refused_as_such(tmp_path, inputs):
    from vidstyle.errors import BadTypeError

    # was "TypeError: '_PathObject' object is not iterable"
    results = list(stylize_files(_PathObject(inputs[0]), tmp_path / "out", Grey(), temporal="off", progress=False))
    assert len(results) == 1 and results[0][1].frames == 5
    with pytest.raises(BadTypeError, match="a list of paths, or one path, got None"):
        stylize_files(None, tmp_path / "out2", Grey(), temporal="off", progress=False)
    assert not (tmp_path / "out2").exists()


def test_the_network_is_built_once(tmp_path, inputs, monkeypatch):
    built = []
    make = pipeline._make_stylizer

    def counting(style, config):  # stylize_video and stylize_image pass a ready stylizer through it too
        if isinstance(style, str):
            built.append(style)
            return Grey()
        return make(style, config)

    monkeypatch.setattr(pipeline, "_make_stylizer", counting)
    assert len(list(stylize_files(inputs, tmp_path / "out", "starry_night", progress=False))) == 3
    assert built == ["starry_night"]


def test_names_video_formats_vidstyle_does_not_write_become_mp4(tmp_path):
    assert folder_output("x/clip.avi", tmp_path) == tmp_path / "clip.mp4"
    assert folder_output("x/clip.ts", tmp_path) == tmp_path / "clip.mp4"
    assert folder_output("x/clip.MOV", tmp_path) == tmp_path / "clip.MOV"
    assert folder_output("x/photo.jpeg", tmp_path) == tmp_path / "photo.jpeg"
    assert folder_output("x/anim.gif", tmp_path) == tmp_path / "anim.gif"  # an animation stays one
    assert folder_output("x/photo.tiff", tmp_path) == tmp_path / "photo.tiff"


def test_everything_is_checked_before_anything_is_written(tmp_path, inputs):
    out = tmp_path / "out"
    with pytest.raises(VidstyleError, match="input file not found"):
        stylize_files([*inputs, tmp_path / "missing.mp4"], out, Grey())
    other = tmp_path / "other"
    other.mkdir()
    twin = make_video(other / "a.mp4", frames=2)
    with pytest.raises(VidstyleError, match=f"several inputs would be written to {out / 'a.mp4'}"):
        stylize_files([inputs[0], twin], out, Grey())
    with pytest.raises(VidstyleError, match="is the input file"):
        stylize_files(inputs, inputs[0].parent, Grey())  # into the inputs' own folder: their own names
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(VidstyleError, match="is a file, not a folder"):
        stylize_files(inputs, tmp_path / "file", Grey())
    # into an input sequence's own folder: a still's output would be read back as one more frame
    shot = tmp_path / "shot"
    shot.mkdir()
    for i in range(3):
        write_image(shot / f"frame_{i + 1:04d}.png", np.full((16, 16, 3), 40 * i, np.uint8), "png")
    for also_a_still in ([], [inputs[2]]):
        with pytest.raises(VidstyleError, match=r"the output folder .*shot is also given as an input"):
            stylize_files([*also_a_still, shot], f"{shot}/", Grey())
    assert sorted(p.name for p in shot.iterdir()) == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    assert not out.exists()
    out.mkdir()
    (out / "b.mkv").write_bytes(b"older")
    with pytest.raises(VidstyleError, match="already exists; pass --overwrite"):
        stylize_files(inputs, out, Grey())
    assert sorted(p.name for p in out.iterdir()) == ["b.mkv"]
    assert len(list(stylize_files(inputs, out, Grey(), overwrite=True, progress=False))) == 3


def test_an_input_given_twice_is_said_as_such(tmp_path, inputs):
    # overlapping globs (clips/*.mp4 clips/a*.mp4) name one file twice: not "several inputs would be
    # written to out/a.mp4 ... into separate folders", which no folder fixes
    with pytest.raises(VidstyleError, match=r"a\.mp4 is given twice: give each input once"):
        stylize_files([*inputs, inputs[0]], tmp_path / "out", Grey())
    other_path = inputs[0].parent / ".." / "clips" / "a.mp4"
    with pytest.raises(VidstyleError, match=r"is given twice \(also as " + re.escape(str(inputs[0])) + r"\)"):
        stylize_files([inputs[0], other_path], tmp_path / "out", Grey())
    assert not (tmp_path / "out").exists()


def test_a_file_linked_under_another_name_is_stylized_under_each(tmp_path, inputs):
    # clips/* where latest.mp4 links to a.mp4: two outputs, as before the given-twice check,
    # which took the link for the file given twice and refused the whole run
    link = inputs[0].parent / "latest.mp4"
    link.symlink_to(inputs[0].name)
    out = tmp_path / "out"
    results = list(stylize_files([inputs[0], link], out, Grey(), temporal="off", progress=False))
    assert [r.frames for _, r in results] == [5, 5]
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "latest.mp4"]
    # under one name in two folders (other/ links to clips/): one file, given twice
    (tmp_path / "other").symlink_to(inputs[0].parent)
    with pytest.raises(VidstyleError, match=r"other/a\.mp4 is given twice \(also as "):
        stylize_files([inputs[0], tmp_path / "other" / "a.mp4"], tmp_path / "out2", Grey())


def test_a_folder_made_for_nothing_is_removed(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    results = list(stylize_files([broken], tmp_path / "new" / "out", Grey(), progress=False))
    assert isinstance(results[0][1], VidstyleError) and not (tmp_path / "new").exists()  # its parent too


def test_a_file_name_or_names_that_differ_in_case_only_are_refused(tmp_path, inputs):
    with pytest.raises(VidstyleError, match=r"names a file; give a folder such as .*/out/"):
        stylize_files(inputs, tmp_path / "out.mp4", Grey())
    with pytest.raises(VidstyleError, match=r"names a file; give a folder such as .*/styled/$"):  # not multi_%03d/
        stylize_files(inputs, tmp_path / "multi_%03d.png", Grey())
    # a name that ends in "/" is a folder, whatever its extension (it was refused as a file's)
    done = list(stylize_files(inputs[:1], f"{tmp_path}/out.v2.mp4/", Grey(), progress=False))
    assert not isinstance(done[0][1], VidstyleError) and (tmp_path / "out.v2.mp4").is_dir()
    other = tmp_path / "other"
    other.mkdir()
    upper = make_video(other / "A.mp4", frames=2)
    with pytest.raises(VidstyleError, match="several inputs would be written to"):
        stylize_files([inputs[0], upper], tmp_path / "out", Grey())
    with pytest.raises(VidstyleError, match="unknown style"):
        stylize_files(inputs, tmp_path / "new" / "out", "no_such_style")
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "new").exists()


@pytest.mark.skipif(os.name == "nt", reason="flock: Windows keeps the earlier behaviour")
def test_a_failed_run_leaves_the_new_folder_to_another_run_writing_into_it(tmp_path, monkeypatch):
    # two runs into one new folder at once (xargs -P, make -j): the one whose input failed removed
    # the empty folder it had made while the other, started meanwhile, was about to write its output
    # there, which then failed too ("output folder does not exist")
    import contextlib

    from vidstyle.io.files import folder_in_use

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    out = tmp_path / "new" / "out"
    other = contextlib.ExitStack()
    loaded = pipeline._make_stylizer

    def load(*args):  # the other run starts while this one loads its network, the folder made
        assert out.is_dir()
        other.enter_context(folder_in_use(out))
        return loaded(*args)

    monkeypatch.setattr(pipeline, "_make_stylizer", load)
    (_, failed), = stylize_files([broken], out, Grey(), progress=False)
    assert isinstance(failed, VidstyleError)
    assert out.is_dir()  # the other run's to write its output in
    other.close()  # which, having made none of it, leaves it
    assert out.is_dir()
    monkeypatch.setattr(pipeline, "_make_stylizer", loaded)
    alone = tmp_path / "alone" / "out"
    (_, failed), = stylize_files([broken], alone, Grey(), progress=False)
    assert isinstance(failed, VidstyleError) and not (tmp_path / "alone").exists()  # alone, it takes back what it made


@pytest.mark.skipif(os.name == "nt", reason="flock: Windows keeps the earlier behaviour")
def test_a_folder_removed_by_another_run_before_it_was_held_is_made_again_and_taken_back(tmp_path, monkeypatch):
    # the other run's end removed the empty folder between this run's finding it and its lock: this
    # run makes it again, writes there, and (having made it) takes it back when left empty
    import fcntl

    from vidstyle.io.files import folder_in_use

    out = tmp_path / "out"
    out.mkdir()  # there when this run began: not its own
    real, removed = fcntl.flock, []

    def flock(fd, operation):
        if operation == fcntl.LOCK_SH and not removed:  # the other run removes it as this one waits for the lock
            out.rmdir()
            removed.append(out)
        return real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    with folder_in_use(out):
        assert removed and out.is_dir()
        (out / "frame.png").write_bytes(b"")  # where this run writes
        (out / "frame.png").unlink()  # (a failed run's output is removed)
    assert not out.exists()


@pytest.mark.skipif(os.name == "nt", reason="flock")
def test_a_folder_on_a_file_system_without_locks_is_made_and_taken_back(tmp_path, monkeypatch):
    import errno
    import fcntl

    from vidstyle.io.files import folder_in_use

    def no_locks(fd, operation):  # an NFS mount without a lock daemon
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "new" / "out"
    with folder_in_use(out):
        assert out.is_dir()
    assert not (tmp_path / "new").exists()


def test_cli_several_inputs(tmp_path, inputs, style, capsys):
    from vidstyle.cli import main

    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    code = main(["stylize", *map(str, [*inputs, broken]), "-o", str(tmp_path / "out"), "--style", str(style),
                 "--device", "cpu", "--temporal", "off"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert [line.split(" -> ")[-1] for line in err if line.startswith("stylized")] == \
        [str(tmp_path / "out" / n) for n in ("a.mp4", "b.mkv", "c.jpg")]
    assert any(line.startswith("vidstyle: error: ") and "broken.mp4" in line for line in err)
    assert err[-1] == f"vidstyle: 1 of 4 inputs failed: {broken}"


def test_cli_summary_names_the_inputs_that_failed(tmp_path, inputs, style, capsys):
    # a batch of hundreds logs as many lines: the last one says which inputs to look at again
    from vidstyle.cli import main

    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    empty = tmp_path / "clips" / "empty clip.mkv"
    empty.write_bytes(b"")
    code = main(["stylize", str(broken), *map(str, inputs), str(empty), "-o", str(tmp_path / "out"),
                 "--style", str(style), "--device", "cpu", "--temporal", "off", "--quiet"])
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"vidstyle: 2 of 5 inputs failed: {broken}, {empty}"


def test_cli_skip_existing_resumes_a_batch_stopped_half_way(tmp_path, inputs, style, capsys):
    # a batch killed after its first outputs, run again: the finished ones are kept as they are and
    # the rest stylized (an output is renamed into place only once complete, so one there is whole)
    from vidstyle.cli import main

    out = tmp_path / "out"
    argv = ["stylize", *map(str, inputs), "-o", str(out), "--style", str(style), "--device", "cpu",
            "--temporal", "off"]
    assert main(argv) == 0
    (out / "b.mkv").unlink()  # not reached before the stop
    done = {name: (out / name).stat().st_mtime_ns for name in ("a.mp4", "c.jpg")}
    capsys.readouterr()
    assert main(argv) == 1  # without it, refused before any input, as before
    assert "out/a.mp4 already exists" in capsys.readouterr().err and not (out / "b.mkv").exists()
    assert main([*argv, "--skip-existing"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"vidstyle: skipped 2 of 3 inputs, whose outputs exist: {inputs[0]}, {inputs[2]}"
    assert [line.split(" -> ")[-1] for line in err if line.startswith("stylized")] == [str(out / "b.mkv")]
    assert {name: (out / name).stat().st_mtime_ns for name in done} == done  # not written again
    assert main([*argv, "--skip-existing", "--quiet"]) == 0  # nothing left to do: no error, nothing said
    assert capsys.readouterr().err == ""
    with pytest.raises(SystemExit) as stop:  # which of the two is meant cannot be told
        main([*argv, "--skip-existing", "--overwrite"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_cli_skip_existing_with_one_output(tmp_path, inputs, style, capsys):
    from vidstyle.cli import main

    target = tmp_path / "a_styled.mp4"
    target.write_bytes(b"made by an earlier run")
    argv = ["stylize", str(inputs[0]), "-o", str(target), "--style", str(style), "--device", "cpu", "--skip-existing"]
    assert main(argv) == 0
    assert target.read_bytes() == b"made by an earlier run"
    assert capsys.readouterr().err.splitlines() == [f"vidstyle: skipped {inputs[0]}, whose output exists: {target}"]
    frames = tmp_path / "frames" / "f_%03d.png"  # numbered frames: any of them there is an output there
    assert main(["stylize", str(inputs[1]), "-o", str(frames), "--style", str(style), "--device", "cpu"]) == 0
    capsys.readouterr()
    (tmp_path / "frames" / "f_002.png").unlink()
    assert main(["stylize", str(inputs[1]), "-o", str(frames), "--style", str(style), "--device", "cpu",
                 "--skip-existing", "--quiet"]) == 0
    assert not (tmp_path / "frames" / "f_002.png").exists() and capsys.readouterr().err == ""


def test_cli_skip_existing_does_not_take_the_input_for_its_output(tmp_path, inputs, style, capsys):
    # the input named as its own output is there, but no output of a run: refused as without
    # --skip-existing, not skipped with exit status 0 as if it were done
    from vidstyle.cli import main

    before = inputs[0].read_bytes()
    argv = ["stylize", str(inputs[0]), "-o", str(inputs[0]), "--style", str(style), "--device", "cpu"]
    assert main(argv) == 1
    refused = capsys.readouterr().err
    assert main([*argv, "--skip-existing"]) == 1
    assert capsys.readouterr().err == refused and "skipped" not in refused, refused
    assert inputs[0].read_bytes() == before


def test_cli_skip_existing_leaves_an_output_two_inputs_would_share_to_the_runs_check(tmp_path, inputs, style,
                                                                                    capsys):
    # clips/a.mp4 and more/A.mp4 would both be written to out/a.mp4: which of them made the one
    # there cannot be told, so neither is skipped and the run refuses them as it does without it
    from vidstyle.cli import main

    other = tmp_path / "more"
    other.mkdir()
    upper = make_video(other / "A.mp4", frames=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp4").write_bytes(b"made by an earlier run")
    assert main(["stylize", str(inputs[0]), str(upper), "-o", str(out), "--style", str(style), "--device", "cpu",
                 "--skip-existing"]) == 1
    err = capsys.readouterr().err
    assert "several inputs would be written to" in err and "skipped" not in err, err
    assert (out / "a.mp4").read_bytes() == b"made by an earlier run"


def test_cli_debug_shows_a_failed_inputs_traceback_and_runs_on(tmp_path, inputs, style, capsys):
    from vidstyle.cli import main

    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    argv = ["stylize", str(broken), str(inputs[2]), "-o", str(tmp_path / "out"), "--style", str(style),
            "--device", "cpu"]
    assert main(argv) == 1
    assert "Traceback" not in capsys.readouterr().err  # one line without --debug
    assert main(["--debug", *argv, "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "vidstyle.errors.VidstyleError" in err
    assert "vidstyle: 1 of 2 inputs failed" in err and (tmp_path / "out" / "c.jpg").is_file()


@pytest.mark.parametrize("target", ["existing", "slash"])
def test_cli_one_input_into_a_folder(tmp_path, inputs, style, target, capsys):
    from vidstyle.cli import main

    out = tmp_path / "out"
    if target == "existing":
        out.mkdir()
    arg = str(out) + ("/" if target == "slash" else "")
    assert main(["stylize", str(inputs[2]), "-o", arg, "--style", str(style), "--device", "cpu"]) == 0
    assert (out / "c.jpg").is_file() and "-> " + str(out / "c.jpg") in capsys.readouterr().err


def test_one_input_into_a_folder_is_said_as_one_input(tmp_path, inputs, style, capsys):
    # the batch's summary lines counted "1 of 1 inputs failed" under the input's own error line,
    # and "skipped 1 of 1 input" where a run of one file says "skipped X, whose output exists: Y"
    from vidstyle.cli import main

    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    argv = ["stylize", "-o", str(tmp_path / "out") + "/", "--style", str(style), "--device", "cpu"]
    assert main([*argv[:1], str(broken), *argv[1:]]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("vidstyle: error: ") and "broken.mp4" in err[0], err
    assert main([*argv[:1], str(inputs[2]), *argv[1:], "--quiet"]) == 0
    assert main([*argv[:1], str(inputs[2]), *argv[1:], "--skip-existing"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"vidstyle: skipped {inputs[2]}, whose output exists: {tmp_path / 'out' / 'c.jpg'}"]
    assert main([*argv[:1], *map(str, inputs[1:]), *argv[1:], "--skip-existing", "--quiet"]) == 0
    assert main([*argv[:1], str(broken), *map(str, inputs[1:]), *argv[1:], "--skip-existing"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"vidstyle: skipped 2 of 3 inputs, whose outputs exist: {inputs[1]}, {inputs[2]}"
    assert err[-1] == f"vidstyle: 1 of 3 inputs failed: {broken}"  # of the inputs given

def test_an_output_takes_the_container_its_codec_needs(tmp_path):
    assert folder_output("a/clip.mp4", "out", "prores_ks") == Path("out/clip.mov")
    assert folder_output("a/clip.mov", "out", "prores_ks") == Path("out/clip.mov")
    assert folder_output("a/clip.webm", "out", "libx264") == Path("out/clip.mp4")
    assert folder_output("a/clip.mkv", "out", "prores_ks") == Path("out/clip.mkv")  # Matroska takes it
    assert folder_output("a/clip.avi", "out", "prores_ks") == Path("out/clip.mov")
    assert folder_output("a/clip.webm", "out") == Path("out/clip.webm")
    assert folder_output("a/still.png", "out", "prores_ks") == Path("out/still.png")


def test_an_unknown_codec_fails_before_the_folder_or_the_network(tmp_path, inputs, monkeypatch):
    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a: pytest.fail("the network was loaded"))
    with pytest.raises(VidstyleError, match="unknown codec 'divx'; available: libx264"):
        stylize_files(inputs, tmp_path / "out", "light_mondrian", codec="divx")
    assert not (tmp_path / "out").exists()


class _Unused:
    """A stylizer that must not be reached: the run was to be refused before any input."""

    def stylize_batch(self, images):
        pytest.fail("an input was stylized before a refusal that the file names and headers tell")


def test_stills_refused_anyway_and_the_output_folder_as_an_input_are_said_before_any_input(tmp_path, inputs, cli):
    """An animated PNG or WebP, a multi-page TIFF, a still whose name reads as numbered frames:
    said at once, not at their turn after the videos before them were stylized."""
    from PIL import Image

    clips = inputs[0].parent
    pictures = [Image.fromarray(np.full((16, 24, 3), 40 * i, np.uint8)) for i in range(2)]
    pictures[0].save(clips / "anim.png", save_all=True, append_images=pictures[1:])
    pictures[0].save(clips / "anim.webp", save_all=True, append_images=pictures[1:])
    pictures[0].save(clips / "scan.tif", save_all=True, append_images=pictures[1:])
    write_image(clips / "shot_%03d.png", np.full((16, 24, 3), 90, np.uint8))
    out = tmp_path / "out"
    for still, said in (("anim.png", r"anim\.png is an animation \(2 frames\), not a still image"),
                        ("anim.webp", r"anim\.webp is an animation \(2 frames\)"),
                        ("scan.tif", r"scan\.tif is a multi-page TIFF \(2 pages\), not one still image: save the "
                                     r"page to stylize as an image of its own"),
                        ("shot_%03d.png", r"shot_%03d\.png: a still image is written into .*out under its own name, "
                                          r"and shot_%03d\.png reads as numbered frames .*: rename it, or stylize "
                                          r"it on its own with -o NAME\.png")):
        with pytest.raises(VidstyleError, match=said):
            stylize_files([inputs[0], clips / still], out, _Unused(), temporal="off", progress=False)
        assert not out.exists()
    # clips/* -o clips/styled/ run a second time: the glob catches the output folder
    styled = clips / "styled"
    list(stylize_files(inputs, styled, Grey(), temporal="off", progress=False))
    done = cli("stylize", *inputs, styled, "-o", f"{styled}/", "--style", "light_mondrian", "--overwrite")
    assert done.returncode == 1
    assert done.stderr == (f"vidstyle: error: the output folder {styled} is also given as an input (a pattern such "
                           "as * catches it), which would be read as a folder of numbered frames: leave it out of the "
                           "inputs, or write the outputs to another folder\n")


def test_without_locals_clears_every_error_of_a_chain_and_ends_on_a_cycle():
    """What an error handed out keeps: the locals of its traceback's frames, and of the errors it
    was raised from (``from``) or during (an ``except`` block), each cleared; a chain that loops
    back on itself is walked once."""
    import gc
    import traceback
    import weakref

    from vidstyle.errors import without_locals

    class Held:  # what a run's frames hold (a decoder, frames)
        pass

    def failing(message, held):  # noqa: ARG001 - held is the local that the frame keeps
        raise VidstyleError(message)

    refs = []

    def raised(message, **link):
        held = Held()
        refs.append(weakref.ref(held))
        try:
            failing(message, held)
        except VidstyleError as exc:
            for name, value in link.items():
                setattr(exc, name, value)
            return exc

    cause, context = raised("cause"), raised("context")
    error = raised("error", __cause__=cause, __context__=context)
    looped = raised("looped")
    looped.__cause__ = looped  # (a program's own chain may loop)
    assert without_locals(error) is error and without_locals(looped) is looped
    gc.collect()
    assert [ref() for ref in refs] == [None] * 4
    assert "in failing" in "".join(traceback.format_exception(error))  # still says where it came from


def test_a_mask_that_fits_not_every_input_is_refused_before_the_first_is_stylized(tmp_path):
    """A --mask of another shape than one of the inputs was refused only at that input's turn,
    after those before it were stylized (review, 62nd session): the inputs' sizes are known from
    their first frames, so it is said before any input runs, naming the input. Checked as the run
    checks it: a still turned upright by its EXIF tag, and --downscale (which keeps the shape)."""
    from PIL import Image

    clips = tmp_path / "clips"
    clips.mkdir()
    wide = make_video(clips / "wide.mp4", frames=3, size=(96, 64))
    square = make_video(clips / "square.mkv", frames=3, size=(64, 64))
    mask = tmp_path / "mask.png"
    write_image(mask, np.full((32, 48, 3), 255, np.uint8))
    out = tmp_path / "styled"
    with pytest.raises(VidstyleError, match=r"^.*square\.mkv: the mask mask\.png is 48x32 and the input 64x64"):
        stylize_files([wide, square], out, Grey(), temporal="off", progress=False, mask=str(mask))
    assert not out.exists()  # nothing stylized, no folder made
    # a photo stored 64x96 with an EXIF turn is shown 96x64: it fits, as do the downscaled clips
    upright = Image.fromarray(np.full((96, 64, 3), 120, np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown a quarter turn round
    upright.save(clips / "turned.jpg", exif=exif)
    # (an input that cannot be read fails at its turn, as without a mask: the others still run)
    broken = clips / "broken.mp4"
    broken.write_bytes(b"not a video")
    results = list(stylize_files([wide, broken, clips / "turned.jpg"], out, Grey(), temporal="off", progress=False,
                                 mask=str(mask), downscale=48))
    assert [type(r).__name__ for _, r in results] == ["StylizeResult", "VidstyleError", "StylizeResult"], results


def _stats(path: Path) -> dict:
    import json

    from vidstyle.config import STYLIZE_STATS_SCHEMA

    record = json.loads(path.read_text())
    assert record["schema"] == STYLIZE_STATS_SCHEMA
    return record


def test_stats_json_holds_a_runs_result(tmp_path, inputs, style, capsys):
    # a script's record of the run: what the summary line says, as JSON (vidstyle live's --stats-json)
    from vidstyle.cli import main

    out, stats = tmp_path / "a_styled.mp4", tmp_path / "stats.json"
    assert main(["stylize", str(inputs[0]), "-o", str(out), "--style", str(style), "--device", "cpu",
                 "--invert-mask", "--stats-json", str(stats)]) == 0
    summary = capsys.readouterr().err.splitlines()[-1]
    record = _stats(stats)
    assert record["warnings"] == ["--invert-mask inverts a --mask; there is none"]
    (run,) = record["inputs"]
    assert (run["input"], run["status"], run["output"]) == (str(inputs[0]), "ok", str(out))
    assert run["frames"] == probe(out).frames == 5 and f"stylized 5 frames in {run['seconds']:.1f} s" in summary
    assert run["fps"] == pytest.approx(run["frames"] / run["seconds"]) and run["network"] in summary
    assert {"decode", "stylize", "encode", "flow", "stabilize"} <= set(run["stage_seconds"])
    assert run["audio"] == {"0": "copy"} and run["still_image"] is False and run["temporal_strength"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_styled.mp4", "clips", "stats.json"]  # no temp left
    photo = tmp_path / "c_styled.png"
    assert main(["stylize", str(inputs[2]), "-o", str(photo), "--style", str(style), "--device", "cpu", "--quiet",
                 "--stats-json", str(stats), "--overwrite"]) == 0
    (run,) = _stats(stats)["inputs"]
    assert (run["frames"], run["still_image"], run["output"], run["warnings"] if "warnings" in run else None) == \
        (1, True, str(photo), None)
    assert main(["stylize", str(inputs[2]), "-o", str(photo), "--style", str(style), "--device", "cpu", "--quiet",
                 "--stats-json", str(stats), "--skip-existing"]) == 0  # (replaced: the report of this run)
    assert _stats(stats)["inputs"] == [{"input": str(inputs[2]), "status": "skipped", "output": str(photo)}]


def test_stats_json_of_a_batch_has_each_input(tmp_path, inputs, style, capsys):
    from vidstyle.cli import main

    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    out, stats = tmp_path / "out", tmp_path / "stats.json"
    argv = ["stylize", str(inputs[0]), str(broken), *map(str, inputs[1:]), "-o", str(out), "--style", str(style),
            "--device", "cpu", "--temporal", "off", "--quiet", "--stats-json", str(stats)]
    assert main(argv) == 1  # an input failed: the record is written all the same
    error = capsys.readouterr().err.splitlines()[0].removeprefix("vidstyle: error: ")
    runs = _stats(stats)["inputs"]
    assert [(r["input"], r["status"], r["output"]) for r in runs] == [
        (str(inputs[0]), "ok", str(out / "a.mp4")), (str(broken), "failed", None),
        (str(inputs[1]), "ok", str(out / "b.mkv")), (str(inputs[2]), "ok", str(out / "c.jpg"))]
    assert runs[1] == {"input": str(broken), "status": "failed", "output": None, "error": error}
    assert [r["frames"] for r in runs if r["status"] == "ok"] == [5, 4, 1]
    assert all(r["temporal_strength"] is None for r in runs if r["status"] == "ok")
    (out / "b.mkv").unlink()
    assert main([*argv, "--skip-existing"]) == 1
    runs = _stats(stats)["inputs"]
    assert [(r["input"], r["status"]) for r in runs] == [
        (str(inputs[0]), "skipped"), (str(broken), "failed"), (str(inputs[1]), "ok"), (str(inputs[2]), "skipped")]
    assert (runs[0]["output"], runs[3]["output"]) == (str(out / "a.mp4"), str(out / "c.jpg"))  # each its own


def test_stats_json_is_checked_before_the_run_and_left_out_of_a_failed_one(tmp_path, inputs, style, capsys,
                                                                           monkeypatch):
    from vidstyle.cli import main

    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a: pytest.fail("the network was loaded"))
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    base = ["stylize", str(inputs[0]), "-o", str(out), "--style", str(style), "--device", "cpu"]
    for given, said in ((out, "is the output"), (inputs[0], "is the input file"),
                        (tmp_path / "out" / "a.mp4", "is the output"), (tmp_path / "clips", "is a folder")):
        argv = [*base, "--stats-json", str(given)]
        if "out/" in str(given):  # a batch's: the output of one of its inputs
            (tmp_path / "out").mkdir(exist_ok=True)
            argv = ["stylize", *map(str, inputs), "-o", str(tmp_path / "out"), *base[4:], "--stats-json", str(given)]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("vidstyle: error: --stats-json") and said in err, err
    stats.write_text("an earlier run's")
    assert main([*base, "--stats-json", str(stats)]) == 1
    assert "already exists" in capsys.readouterr().err and stats.read_text() == "an earlier run's"
    monkeypatch.undo()
    broken = tmp_path / "clips" / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    stats.unlink()
    assert main(["stylize", str(broken), *base[2:], "--stats-json", str(stats)]) == 1
    assert not stats.exists() and not out.exists()  # a run an error ended has no record


def test_stats_json_to_standard_output_is_refused(tmp_path, inputs, style, capsys, monkeypatch):
    """--stats-json - reads as the record on standard output, as tools take "-"; it was written to a
    file named "-" in the current folder, the run said nothing of it, and stdout stayed empty."""
    from vidstyle.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "_make_stylizer", lambda *a: pytest.fail("the network was loaded"))
    argv = ["stylize", str(inputs[0]), "-o", str(tmp_path / "out.mp4"), "--style", str(style), "--device", "cpu",
            "--stats-json", "-"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("vidstyle: error: --stats-json: cannot write to standard output") and "./-" in err, err
    assert not (tmp_path / "-").exists() and not (tmp_path / "out.mp4").exists()


def test_a_file_named_dash_is_read_as_dot_slash_dash(tmp_path, style, monkeypatch):
    """'-' is standard input, refused; the error says "./- names a file called -", and ./- passed the
    command line's check, but the pipeline's Path('./-') is Path('-'), which was refused too: a
    file named - could not be stylized at all. (Only the text "-" is standard input: a Path is a file.)"""
    from vidstyle.cli import main

    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48)).rename(tmp_path / "-")
    assert main(["stylize", "./-", "-o", "out.mp4", "--style", str(style), "--device", "cpu", "--temporal", "off",
                 "--quiet"]) == 0
    assert probe(tmp_path / "out.mp4").frames == 4
    assert main(["stylize", "./-", "-o", "masked.mp4", "--style", str(style), "--device",
                 "cpu", "--temporal", "off", "--quiet", "--mask", "./-"]) == 0  # (its own matte)
    assert probe(tmp_path / "masked.mp4").frames == 4
