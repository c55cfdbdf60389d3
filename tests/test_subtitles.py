"""Subtitle tracks and attached files: copied where the output container holds them, text
subtitles converted to its own text format where it does not (MP4's timed text, WebM's WebVTT),
cut to a segment, lines shown together merged for MP4, pictures dropped with a warning. Each
input is a real file written here (video by PyAV's encoder, subtitles read by FFmpeg's SRT and
ASS demuxers); the stylizer is the identity, so only the I/O path is checked."""
from __future__ import annotations

import logging
from fractions import Fraction

import av
import pytest

from vidstyle import stylize_video
from vidstyle.io.encode import TimedTextMerger, dialogue_line, dialogue_row
from videos import Identity, make_video

SRT = ("1\n00:00:00,100 --> 00:00:00,900\n<i>hello</i> there\n\n"
       "2\n00:00:01,500 --> 00:00:02,500\nsecond line\n\n")
ASS_HEADER = """[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""
#: a sign shown over two lines of dialogue, the second starting while the sign is still up
ASS_EVENTS = ("Dialogue: 0,0:00:00.20,0:00:01.20,Default,,0,0,0,,{\\pos(10,10)}SIGN\n"
              "Dialogue: 0,0:00:00.20,0:00:00.60,Default,,0,0,0,,{\\i1}first{\\i0} words\n"
              "Dialogue: 0,0:00:00.80,0:00:01.60,Default,,0,0,0,,later words\n")
FONT = b"\x00\x01\x00\x00 not really a font" * 8


def stylize(src, out, **options):
    return stylize_video(src, out, style=Identity(), temporal="off", progress=False, **options)


def with_subtitles(tmp_path, name="subs.mkv", srt=True, ass=True, font=True, ass_events=ASS_EVENTS):
    """A 2-second 12 frames/s video in Matroska with the tracks asked for: SRT (language fra),
    ASS (``ass_events``), an attached font."""
    video = make_video(tmp_path / "video.mkv", frames=24, size=(64, 48), fps=12)
    inputs = [av.open(str(video))]
    if srt:
        (tmp_path / "in.srt").write_text(SRT)
        inputs.append(av.open(str(tmp_path / "in.srt")))
    if ass:
        (tmp_path / "in.ass").write_text(ASS_HEADER + ass_events)
        inputs.append(av.open(str(tmp_path / "in.ass")))
    path = tmp_path / name
    with av.open(str(path), "w") as out:
        streams = {}
        for container in inputs:
            template = container.streams[0]
            streams[template] = out.add_stream_from_template(template)
            if template.type == "subtitle" and template.codec_context.name == "srt":
                streams[template].metadata["language"] = "fra"
        if font:
            out.add_attachment("Title Font.ttf", "font/ttf", FONT)
        for container in inputs:
            for packet in container.demux():
                if packet.size:
                    packet.stream = streams[packet.stream]
                    out.mux(packet)
    for container in inputs:
        container.close()
    return path


def events(path) -> list[list[tuple[float, float, str]]]:
    """Each subtitle track's events as (start s, length s, text), the text as FFmpeg's decoder
    gives it (ASS markup: {\\i1} for italics, \\N between rows); empty events (MP4's gaps) left out."""
    tracks = []
    with av.open(str(path)) as container:
        for stream in container.streams.subtitles:
            container.seek(0)
            found = []
            for packet in container.demux(stream):
                if not packet.size or packet.pts is None:
                    continue
                decoded = stream.codec_context.decode2(packet)
                texts = [r.ass.split(b",", 8)[8].decode() for r in (decoded.rects if decoded else ()) if r.ass]
                if texts:
                    found.append((round(float(packet.pts * packet.time_base), 3),
                                  round(float(packet.duration * packet.time_base), 3), "|".join(texts)))
            tracks.append(found)
    return tracks


def codecs(path) -> list[str]:
    with av.open(str(path)) as container:
        return [s.codec_context.name if s.codec_context else s.type for s in container.streams.subtitles]


def test_matroska_keeps_every_track_packet_for_packet_with_its_fonts(tmp_path, caplog):
    src = with_subtitles(tmp_path)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "out.mkv")
    assert caplog.text == ""
    assert result.frames == 24 and result.subtitles == {0: "copy", 1: "copy"}
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mkv")) as b:
        for before, after in zip(a.streams.subtitles, b.streams.subtitles, strict=True):
            assert after.codec_context.name == before.codec_context.name
            assert after.metadata.get("language") == before.metadata.get("language")
        attached = b.streams.attachments
        assert [(x.name, x.mimetype, bytes(x.data)) for x in attached] == [("Title Font.ttf", "font/ttf", FONT)]
        for stream_in, stream_out in zip(a.streams.subtitles, b.streams.subtitles):
            a.seek(0)
            b.seek(0)
            packets_in = [(p.pts * p.time_base, p.duration * p.time_base, bytes(p))
                          for p in a.demux(stream_in) if p.size]
            packets_out = [(p.pts * p.time_base, p.duration * p.time_base, bytes(p))
                           for p in b.demux(stream_out) if p.size]
            assert packets_out == packets_in and packets_in
    assert events(tmp_path / "out.mkv")[0] == [(0.1, 0.8, "{\\i1}hello{\\i0} there"), (1.5, 1.0, "second line")]


def test_mp4_gets_timed_text_with_lines_shown_together_merged(tmp_path, caplog):
    src = with_subtitles(tmp_path)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "out.mp4")
    assert result.subtitles == {0: "convert", 1: "convert"}
    assert codecs(tmp_path / "out.mp4") == ["mov_text", "mov_text"]
    # SubRip loses nothing as timed text: said only at info level; ASS loses its positions, said
    assert "subtitle track 0" not in caplog.text
    assert "subtitle track 1 (ssa) cannot be copied into .mp4 (mp4 does not hold ssa); converting it to " \
           "mov_text (its fonts, positions and effects are lost; .mkv keeps them)" in caplog.text
    assert "1 attached file(s)" in caplog.text and ".mp4 does not hold them" in caplog.text
    srt, ass = events(tmp_path / "out.mp4")
    # timed text's decoder ends a style run with a reset ({\\r}), not {\\i0}
    assert srt == [(0.1, 0.8, "{\\i1}hello{\\r} there"), (1.5, 1.0, "second line")]
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.subtitles[0].metadata["language"] == "fra"
    # one sample at a time, each with every line on screen: the sign never cut short by dialogue;
    # a newer line goes above, so the line already shown (bottom-anchored) stays where it is
    assert [(start, length) for start, length, _ in ass] == [(0.2, 0.4), (0.6, 0.2), (0.8, 0.4), (1.2, 0.4)]
    texts = [text.replace("{\\r}", "|") for _, _, text in ass]
    assert texts == ["{\\i1}first| words\\NSIGN", "SIGN", "later words\\NSIGN", "later words"]


def test_webm_gets_webvtt(tmp_path):
    src = with_subtitles(tmp_path, ass=False, font=False)
    stylize(src, tmp_path / "out.webm")
    assert codecs(tmp_path / "out.webm") == ["webvtt"]
    assert events(tmp_path / "out.webm")[0] == [(0.1, 0.8, "{\\i1}hello{\\i0} there"), (1.5, 1.0, "second line")]


def test_timed_text_back_into_matroska_becomes_subrip(tmp_path):
    src = with_subtitles(tmp_path, ass=False, font=False)
    stylize(src, tmp_path / "mid.mp4")
    result = stylize(tmp_path / "mid.mp4", tmp_path / "back.mkv")
    assert result.subtitles == {0: "convert"} and codecs(tmp_path / "back.mkv") == ["srt"]  # SubRip's decoder
    assert events(tmp_path / "back.mkv")[0] == [(0.1, 0.8, "{\\i1}hello{\\i0} there"), (1.5, 1.0, "second line")]


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_segment_keeps_the_events_inside_it_timed_from_its_start(tmp_path, suffix):
    """--start 0.5 --duration 1.5 (0.5-2.0 s): the first line (0.1-0.9) is shown from the start for
    its last 0.4 s, the second (1.5-2.5) until the end; an event wholly before the start is gone."""
    src = with_subtitles(tmp_path, ass=False, font=False)
    result = stylize(src, tmp_path / f"part{suffix}", start=0.5, duration=1.5)
    assert result.frames == 18
    italic_end = "{\\r}" if suffix == ".mp4" else "{\\i0}"
    assert events(tmp_path / f"part{suffix}")[0] == [(0.0, 0.4, "{\\i1}hello" + italic_end + " there"),
                                                      (1.0, 0.5, "second line")]
    stylize(src, tmp_path / f"late{suffix}", start=1.0)
    assert events(tmp_path / f"late{suffix}")[0] == [(0.5, 1.0, "second line")]


def test_a_track_that_cannot_be_converted_is_dropped_with_the_reason(tmp_path, caplog, monkeypatch):
    """Picture subtitles (Blu-ray's PGS, DVD's VobSub) cannot become text. PyAV cannot write such a
    track for the test, so SubRip stands in for one, taken off the list of text formats."""
    import vidstyle.io.encode as encode_module

    monkeypatch.setattr(encode_module, "_TEXT_SUBTITLES", encode_module._TEXT_SUBTITLES - {"srt", "subrip"})
    src = with_subtitles(tmp_path, ass=False, font=False)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "out.mp4")
    assert result.frames == 24 and result.subtitles == {} and codecs(tmp_path / "out.mp4") == []
    assert "dropping subtitle track 0 (srt) of subs.mkv: mp4 does not hold srt, and its events are pictures, " \
           "not text, which vidstyle cannot convert; .mkv holds it" in caplog.text
    stylize(src, tmp_path / "out.mkv")  # where it can be copied, it is
    assert codecs(tmp_path / "out.mkv") == ["srt"]


def test_no_subtitles_and_image_sequences(tmp_path, caplog):
    src = with_subtitles(tmp_path)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize(src, tmp_path / "quiet.mkv", no_subtitles=True)
    assert caplog.text == "" and result.subtitles == {}
    with av.open(str(tmp_path / "quiet.mkv")) as container:
        assert not container.streams.subtitles and not container.streams.attachments
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(src, tmp_path / "frames" / "f_%03d.png")
    assert "an image sequence holds no subtitles: the 2 subtitle stream(s) of subs.mkv are not written" in caplog.text
    assert len(list((tmp_path / "frames").glob("f_*.png"))) == 24


def test_the_command_line_flag(tmp_path, cli):
    src = with_subtitles(tmp_path, ass=False, font=False)
    for flag, expected in (([], ["srt"]), (["--no-subtitles"], [])):
        out = tmp_path / f"out{len(flag)}.mkv"
        done = cli("stylize", src, "-o", out, "--style", "light_starry_night", "--quiet", "--temporal", "off", *flag)
        assert done.returncode == 0, done.stderr
        assert codecs(out) == expected


def test_timed_text_merger_splits_overlaps_into_samples():
    def row(text: bytes, style: bytes = b"Default"):
        return dialogue_row(b"0,0," + style + b",,0,0,0,," + text)

    merger = TimedTextMerger()
    assert merger.add(0, 10, [row(b"A")]) == []
    assert merger.add(5, 10, [row(b"B", b"Sign")]) == [(0, 5, b"0,0,Default,,0,0,0,,A")]
    # C starts after both ended: A alone was cut at 5; B (newer, above, in its own style) and A
    # until 10, B alone until 15, then a gap
    assert merger.add(20, 0, [row(b"C")]) == [(5, 5, b"0,0,Sign,,0,0,0,,B\\N{\\rDefault}A"),
                                              (10, 5, b"0,0,Sign,,0,0,0,,B")]
    # C's length is unknown: it lasts until D begins
    assert merger.add(26, 4, [row(b"D"), row(b"E")]) == [(20, 6, b"0,0,Default,,0,0,0,,C")]
    assert merger.finish() == [(26, 4, b"0,0,Default,,0,0,0,,D\\N{\\rDefault}E")]
    assert merger.finish() == []


def test_drawings_and_repeated_layers_are_not_shown_as_text():
    """Typeset ASS: a sign drawn as stacked layers of the same words (border, fill), vector
    drawings whose commands a text format would show as words."""
    assert dialogue_row(b"0,0,Sign,,0,0,0,,{\\an7\\pos(0,0)\\p1}m 0 0 l 100 0 100 100{\\p0}") is None
    assert dialogue_row(b"0,0,Default,,0,0,0,,{\\pos(10,10)\\k20}ka{\\p2}m 0 0{\\p0}ra") == \
        (b"Default", b"{\\pos(10,10)\\k20}ka{\\p2}{\\p0}ra", b"kara")
    layers = [dialogue_row(b"0,%d,Sign,,0,0,0,,{\\bord4}EXIT" % layer) for layer in range(3)]
    assert dialogue_line([*layers, dialogue_row(b"0,0,Default,,0,0,0,,go")]) == \
        b"0,0,Sign,,0,0,0,,{\\bord4}EXIT\\N{\\rDefault}go"


def test_stacked_layers_and_drawings_into_mp4_and_webm(tmp_path):
    events_text = ("Dialogue: 0,0:00:00.20,0:00:01.20,Default,,0,0,0,,{\\bord3}EXIT\n"
                   "Dialogue: 1,0:00:00.20,0:00:01.20,Default,,0,0,0,,{\\bord0}EXIT\n"
                   "Dialogue: 0,0:00:00.20,0:00:01.20,Default,,0,0,0,,{\\p1}m 0 0 l 10 0 10 10{\\p0}\n"
                   "Dialogue: 0,0:00:00.20,0:00:01.20,Default,,0,0,0,,the dialogue\n")
    src = with_subtitles(tmp_path, name="signs.mkv", srt=False, font=False, ass_events=events_text)
    stylize(src, tmp_path / "out.mp4")
    assert [text for _, _, text in events(tmp_path / "out.mp4")[0]] == ["the dialogue\\NEXIT"]
    stylize(src, tmp_path / "out.webm")
    assert sorted(text for _, _, text in events(tmp_path / "out.webm")[0]) == ["EXIT", "the dialogue"]


def test_a_codec_ffmpeg_cannot_read_is_dropped_not_a_crash(tmp_path, caplog):
    """ARIB captions, teletext, Kate: PyAV gives the stream no codec context. Made by renaming
    an SRT track's Matroska codec ID (S_TEXT/UTF8, 11 bytes) to Kate's."""
    src = with_subtitles(tmp_path, ass=False, font=False)
    data = src.read_bytes()
    assert data.count(b"S_TEXT/UTF8") == 1
    kate = tmp_path / "kate.mkv"
    kate.write_bytes(data.replace(b"S_TEXT/UTF8", b"S_KATE\0\0\0\0\0"))
    for suffix in (".mkv", ".mp4"):
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            result = stylize(kate, tmp_path / f"out{suffix}")
        assert result.frames == 24 and result.subtitles == {}
        assert "dropping subtitle track 0 (unknown codec) of kate.mkv: this FFmpeg has no decoder for it" in caplog.text
        caplog.clear()


def test_text_that_is_not_utf8_is_copied_into_mkv_and_said_when_it_cannot_be_converted(tmp_path, caplog):
    src = with_subtitles(tmp_path, ass=False, font=False)
    data = src.read_bytes()
    assert data.count("second line".encode()) == 1
    latin = tmp_path / "latin.mkv"
    latin.write_bytes(data.replace("second line".encode(), "caf\u00e9 d\u00e9j\u00e0".encode("latin-1") + b"xx"))
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(latin, tmp_path / "out.mkv")
    assert caplog.text == ""
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert "caf\u00e9 d\u00e9j\u00e0".encode("latin-1") + b"xx" in [bytes(p) for p in container.demux(
            container.streams.subtitles[0]) if p.size]
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        stylize(latin, tmp_path / "out.mp4")
    assert "skipped 1 subtitle event(s) of latin.mkv that could not be read to convert them (text that is not " \
           "UTF-8, or damaged); .mkv copies them as they are" in caplog.text
    assert [text for _, _, text in events(tmp_path / "out.mp4")[0]] == ["{\\i1}hello{\\r} there"]


def test_a_line_on_screen_before_the_keyframe_the_segment_starts_from_is_kept(tmp_path):
    """A keyframe every 0.5 s: --start 1.25 decodes from the one at 1.0, after the line that is on
    screen at 1.25 began (0.1-1.4)."""
    video = make_video(tmp_path / "video.mkv", frames=24, size=(64, 48), fps=12, gop=6)
    (tmp_path / "long.srt").write_text("1\n00:00:00,100 --> 00:00:01,400\nlong line\n\n"
                                       "2\n00:00:01,500 --> 00:00:01,700\nlast\n\n")
    src = tmp_path / "long.mkv"
    with av.open(str(video)) as v, av.open(str(tmp_path / "long.srt")) as t, av.open(str(src), "w") as out:
        streams = {v.streams[0]: out.add_stream_from_template(v.streams[0]),
                   t.streams[0]: out.add_stream_from_template(t.streams[0])}
        for container in (v, t):
            for packet in container.demux():
                if packet.size:
                    packet.stream = streams[packet.stream]
                    out.mux(packet)
    for suffix in (".mkv", ".mp4"):
        result = stylize(src, tmp_path / f"part{suffix}", start=1.25)
        assert result.frames == 9
        assert events(tmp_path / f"part{suffix}")[0] == [(0.0, 0.15, "long line"), (0.25, 0.2, "last")]


def with_timed_text(tmp_path, lines=((0.2, 0.6, "one"), (0.8, 1.2, "two"), (1.4, 1.9, "three"))):
    """A 2-second MP4 with a timed text (mov_text) track of ``lines`` (start s, end s, text),
    written by FFmpeg's muxer, which fills each gap between lines with an empty sample."""
    path = make_video(tmp_path / "timed.mp4", frames=24, size=(64, 48), fps=12)
    with av.open(str(path)) as video, av.open(str(tmp_path / "texts.mp4"), "w") as out:
        picture = out.add_stream_from_template(video.streams.video[0])
        text = out.add_stream("mov_text")
        text.codec_context.subtitle_header = ASS_HEADER.encode()
        text.time_base = text.codec_context.time_base = Fraction(1, 1000)
        for packet in video.demux(video.streams.video[0]):
            if packet.size:
                packet.stream = picture
                out.mux(packet)
        for start, end, words in lines:
            length = round((end - start) * 1000)
            event = av.subtitles.subtitle.SubtitleSet.create(f"0,0,Default,,0,0,0,,{words}".encode(), 0, length,
                                                             round(start * 1000))
            packet = text.codec_context.encode_subtitle(event)
            packet.pts = packet.dts = round(start * 1000)
            packet.duration, packet.time_base, packet.stream = length, Fraction(1, 1000), text
            out.mux(packet)
    return tmp_path / "texts.mp4"


def samples(path) -> list[tuple[int, int, int]]:
    """(start ms, length ms, size) of every sample of the first subtitle track, empty ones too."""
    with av.open(str(path)) as container:
        return [(p.pts, p.duration, p.size) for p in container.demux(container.streams.subtitles[0]) if p.size]


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_timed_text_copied_into_mp4_keeps_its_samples_without_empty_ones_of_no_length(tmp_path, suffix):
    # the input's empty gap samples, copied, met the muxer's own gap filling: an extra empty
    # sample of no length before every line and every gap
    src = with_timed_text(tmp_path)
    stylize(src, tmp_path / f"out{suffix}")
    assert codecs(tmp_path / f"out{suffix}") == ["mov_text"]
    assert samples(tmp_path / f"out{suffix}") == samples(src) == [
        (0, 200, 2), (200, 400, 5), (600, 200, 2), (800, 400, 5), (1200, 200, 2), (1400, 500, 7)]
    stylize(src, tmp_path / f"part{suffix}", start=0.5, duration=1)
    assert samples(tmp_path / f"part{suffix}") == [(0, 100, 5), (100, 200, 2), (300, 400, 5), (700, 200, 2),
                                                   (900, 100, 7)]
