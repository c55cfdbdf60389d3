"""Letterbox and pillarbox bars: found on sampled frames, kept as they were, only the picture stylized."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from videos import (ODD_BARS_420, letterbox_bars, make_letterboxed_sample, make_odd_bars_420, make_sample_in_bars,
                    make_video, pattern_frame, read_frames)
from vidstyle.io.samples import keyframe_samples, spread_samples, spread_samples_and_chroma
from vidstyle.letterbox import PictureArea, find_picture_area
from vidstyle.pipeline import calibrate_for, stylize_image, stylize_video

W, H = 96, 72


def boxed(picture: np.ndarray, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0) -> np.ndarray:
    """``picture`` inside black bars of the given thickness."""
    h, w = picture.shape[:2]
    out = np.zeros((h + top + bottom, w + left + right, 3), np.uint8)
    out[top:top + h, left:left + w] = picture
    return out


def picture(index: int = 0, size=(W, H)) -> np.ndarray:
    return pattern_frame(index, size, "moving")


# --- finding the picture --------------------------------------------------------------------

@pytest.mark.parametrize("bars", [dict(top=12, bottom=12), dict(left=20, right=20), dict(top=8, bottom=8, left=10, right=10),
                                  dict(top=5), dict(right=7), dict(top=2, bottom=2, left=2)])  # MIN_BAR thick
def test_bars_are_found_exactly(bars):
    frames = [boxed(picture(i), **bars) for i in range(3)]
    area = find_picture_area(frames)
    h, w = frames[0].shape[:2]
    assert area == PictureArea(bars.get("top", 0), h - bars.get("bottom", 0), bars.get("left", 0),
                               w - bars.get("right", 0), (h, w))
    assert area.shape == (H, W)
    assert np.array_equal(area.crop(frames[1]), picture(1))


def test_a_small_picture_boxed_on_all_four_sides_is_found():
    """Wide pillarbox bars must not hide the letterbox edge (its row is mostly bar), nor the
    reverse: a 64x28 picture inside 240x135, and an upright 40x96 one with thin top and bottom bars."""
    wide = boxed(picture(size=(64, 28)), top=53, bottom=54, left=88, right=88)
    assert find_picture_area([wide]) == PictureArea(53, 81, 88, 152, (135, 240))
    tall = boxed(picture(size=(40, 96)), top=6, bottom=6, left=100, right=100)
    assert find_picture_area([tall]) == PictureArea(6, 102, 100, 140, (108, 240))


def test_no_bars_means_no_area():
    assert find_picture_area([picture(i) for i in range(3)]) is None
    assert find_picture_area([boxed(picture(), top=1, left=1)]) is None  # a dark edge line is no bar


def test_one_frame_instead_of_a_list_says_so():
    with pytest.raises(ValueError, match=r"takes a sequence of frames, got one \(\d+, \d+, 3\) array"):
        find_picture_area(picture())


def test_black_frames_alone_find_nothing():
    black = np.zeros((H, W, 3), np.uint8)
    assert find_picture_area([black, black]) is None
    assert find_picture_area([boxed(np.full((H, 8, 3), 4, np.uint8), left=40, right=48)]) is None  # too dark to tell


def test_a_row_is_bar_only_when_dark_in_every_frame():
    """A film's first frame is black and its opening shot dark at the top: the frames spread over it
    decide, and a row lit in any one of them is picture."""
    letterboxed = boxed(picture(), top=12, bottom=12)
    dark_top = letterboxed.copy()
    dark_top[12:30] = 0  # a night sky in this shot
    black = np.zeros_like(letterboxed)
    assert find_picture_area([black, dark_top, letterboxed]).top == 12
    assert find_picture_area([black, dark_top]).top == 30  # only these frames: the sky looks like bar


def test_a_dark_background_is_no_bar():
    """A studio portrait's black background reaches the frame's edge, but the picture next to it
    is dark too: no sharp edge where a bar would end, so nothing is cut."""
    portrait = picture()
    portrait[:, :30] = 0  # the background: black at the edge...
    portrait[:, 30:40] = 6  # ...then dark
    portrait[50:, 30:40] = 160  # the shirt, low in the frame
    assert find_picture_area([portrait]) is None
    assert find_picture_area([boxed(portrait, top=10, bottom=10)]).shape == (H, W)  # real bars still count
    # the dark band only 3 columns wide: the picture rises right after it, but the column that ends
    # the black run is itself mostly dark, so no bar ends there either
    near = portrait.copy()
    near[:, 33:40] = picture()[:, 33:40]
    assert find_picture_area([near]) is None


@pytest.mark.parametrize("width", [96, 320, 1920])
def test_a_smooth_ramp_from_black_is_no_bar(width):
    """A gradient background from black (a studio backdrop, a sky into night) is dark for a few
    columns at its edge and then lit, but with no edge there: cropping it would leave a strip
    unpainted with a hard seam beside the painted picture. With light grain (as left after encoding) and a
    moving object, over three frames; the wide one rises by only 0.13 levels a column, the narrow one
    by 2.7: past the dark level within a few columns, and still rising as fast after it."""
    rng = np.random.default_rng(1)
    frames = []
    for i in range(3):
        ramp = np.linspace(0, 255, width)[None, :, None].repeat(90, 0).repeat(3, 2)
        ramp[30:60, width // 3 + 8 * i:width // 3 + 8 * i + 40] = (200, 60, 40)
        frames.append(np.clip(np.rint(ramp + rng.normal(0, 0.6, ramp.shape)), 0, 255).astype(np.uint8))
    assert find_picture_area(frames) is None
    tall = [np.ascontiguousarray(f.transpose(1, 0, 2)) for f in frames]  # top to bottom: no letterbox either
    assert find_picture_area(tall) is None
    boxed_ramp = [boxed(f, top=10, bottom=10) for f in frames]  # real bars around the ramp still count...
    area = find_picture_area(boxed_ramp)
    assert (area.top, area.bottom, area.left, area.right) == (10, 100, 0, width)  # ...and the ramp's end is no bar


@pytest.mark.parametrize("soften", ["blur 1.5", "blur 3", "linear x4", "lanczos x6", "pillarbox blur 1.5"])
def test_bars_with_soft_edges_are_found(soften):
    """An SD picture scaled up 4-6 times (into 4K), or a soft telecine, spreads the edge between
    bar and picture over several lines; the picture's first lines then still rise, and the rise
    was taken for the picture's own gradient (review, 33rd session). The bars found may stop a
    line or two short of the edge (those lines are stylized with the picture), never beyond it."""
    import cv2

    frames = [picture(i, (160, 68)) for i in range(3)]
    if soften.startswith("pillarbox"):
        frames = [np.ascontiguousarray(f.transpose(1, 0, 2)) for f in frames]  # 68x160 upright
    bars = dict(left=46, right=46) if soften.startswith("pillarbox") else dict(top=46, bottom=46)
    boxed_frames = [boxed(f, **bars) for f in frames]
    kind, _, amount = soften.rpartition(" ")
    if amount.startswith("x"):  # the whole boxed frame, made small then scaled up
        factor = int(amount[1:])
        interpolation = cv2.INTER_LANCZOS4 if kind == "lanczos" else cv2.INTER_LINEAR
        small = [f[::factor, ::factor] for f in boxed_frames]
        black = ~small[0].any(axis=2).any(axis=1)  # the small frame's bar rows
        bars = dict(top=int(np.argmin(black)) * factor, bottom=int(np.argmin(black[::-1])) * factor)
        boxed_frames = [cv2.resize(f, None, fx=factor, fy=factor, interpolation=interpolation) for f in small]
    else:
        boxed_frames = [cv2.GaussianBlur(f, (0, 0), float(amount)) for f in boxed_frames]
    area = find_picture_area(boxed_frames)
    assert area is not None, soften
    h, w = boxed_frames[0].shape[:2]
    found = dict(top=area.top, bottom=h - area.bottom, left=area.left, right=w - area.right)
    for side, thickness in found.items():
        assert bars.get(side, 0) - 4 <= thickness <= bars.get(side, 0), (soften, found)


def test_an_edge_of_dim_lines_or_of_bright_lines_then_dark_still_ends_the_bar():
    """A film scan's frame line three lines deep (25, 25, 25, then the picture), and a still whose
    picture opens with three bright rows and then goes dark: the rise and the flat after it are
    further in than the picture's first lines, and there is no other frame to look at."""
    frame_line = boxed(np.full((H, W, 3), 150, np.uint8), top=12, bottom=12)
    frame_line[12:15] = 25
    frame_line[H + 9:H + 12] = 25
    assert find_picture_area([frame_line]) == PictureArea(12, H + 12, 0, W, (H + 24, W))
    bright_then_dark = boxed(np.full((H, W, 3), 30, np.uint8), top=12, bottom=12)
    bright_then_dark[12:15] = 220
    bright_then_dark[H + 9:H + 12] = 220
    assert find_picture_area([bright_then_dark]) == PictureArea(12, H + 12, 0, W, (H + 24, W))


def test_subtitles_break_a_bar_only_in_the_frames_they_are_in():
    subtitled = boxed(picture(), top=12, bottom=20)
    subtitled[H + 12 + 6:H + 12 + 14, 30:66] = 255  # a line of white text, 36 of 96 px wide, in the bottom bar
    plain = boxed(picture(1), top=12, bottom=20)
    area = find_picture_area([subtitled, plain])
    assert (area.top, area.size[0] - area.bottom) == (12, 0)  # the bottom bar is stylized with the picture
    area = find_picture_area([plain, plain])
    assert (area.top, area.size[0] - area.bottom) == (12, 20)
    assert not area.bars_show_picture(subtitled)  # so a subtitle later on leaves the bars as found


def test_bars_of_an_odd_width_in_4_2_0_video_are_found_whole(tmp_path):
    """4:2:0 video stores one colour for two columns (rows): a bar 61 columns wide has the
    picture's colour on its last one, stored black, which decodes to a lit pixel (0, 25, 0) where
    the colour cannot be shown on black. The bars were found 60 wide, and that black column was
    stylized with the picture."""
    path = make_odd_bars_420(tmp_path / "pillarboxed.mp4")
    frames, chroma = spread_samples_and_chroma(path, 8)
    assert chroma == (2, 2)
    area = find_picture_area(frames, chroma=chroma)
    assert area.bars_text() == ODD_BARS_420, area.describe()
    # as stylize finds them, which gives find_picture_area the decoder's chroma (eval's and live's: in their tests)
    assert stylize_video(path, tmp_path / "out.mp4", style=PaintWhite(), temporal="off", progress=False).bars == \
        ODD_BARS_420


def test_downscaled_bars_are_the_lines_wholly_in_the_bars_found_at_the_stored_size(tmp_path):
    """A downscaled line mixes stored ones, and 4:2:0 video's chroma spreads the picture's colour
    into the bar's last scaled lines, on no pair of lines any more: a bar 59 columns wide at
    --downscale 288 (53.1 columns) was found 52, its 53rd column, black in the luma, read lit by
    the colour and stylized. The bars are found at the stored size and scaled instead."""
    from vidstyle.letterbox import video_picture_area

    # the picture in columns 59-260, rows 23-158; lossless 4:2:0
    path = make_sample_in_bars(tmp_path / "pillarboxed.mp4", 8, (23, 159, 59, 261), "yuv420p")
    small, chroma = spread_samples_and_chroma(path, 8, downscale=288)
    assert small[0].shape == (162, 288, 3) and chroma is None
    assert find_picture_area(small).bars_text() == "top 20, bottom 18, left 52, right 53"  # as it was found
    area = video_picture_area(path, (162, 288))
    assert area.bars_text() == "top 20, bottom 18, left 53, right 53", area.describe()
    assert video_picture_area(path, (180, 320)).bars_text() == "top 23, bottom 21, left 59, right 59"

    class Bright:
        def stylize_batch(self, images):
            return [np.full_like(i, 230) for i in images]

    result = stylize_video(path, tmp_path / "small.mp4", style=Bright(), temporal="off", progress=False,
                           downscale=288)
    assert result.bars == "top 20, bottom 18, left 53, right 53"


def test_an_area_scaled_keeps_the_lines_wholly_in_its_bars():
    area = PictureArea(23, 159, 59, 261, (180, 320))
    assert area.scaled((162, 288)) == PictureArea(20, 144, 53, 235, (162, 288))  # 53.1 of 59 columns: 53
    assert area.scaled((180, 320)) == area
    assert PictureArea(1, 72, 0, 96, (72, 96)).scaled((36, 48)) is None  # half a line of bar: no bar left
    # each side by its own axis' scale (a downscale keeps the aspect only to a pixel)
    assert PictureArea(0, 72, 10, 86, (72, 96)).scaled((36, 96)) == PictureArea(0, 36, 10, 86, (36, 96))


def test_a_picture_found_between_bars_that_downscales_under_the_minimum_is_no_area(tmp_path):
    """find_picture_area leaves less than MIN_PICTURE pixels of picture unfound (nothing to stylize
    between the bars): so does video_picture_area at the size the frames are shown, though its
    bars are found at the stored size, where the picture is twice as tall."""
    from vidstyle.letterbox import MIN_PICTURE, video_picture_area

    path = make_sample_in_bars(tmp_path / "strip.mp4", 4, (80, 100, 40, 280))  # 20 rows of picture, 240 columns
    assert video_picture_area(path, (180, 320)).shape == (20, 240)
    assert 20 // 2 < MIN_PICTURE <= 20  # found at 320x180, under the minimum at 160x90
    assert video_picture_area(path, (90, 160)) is None
    assert video_picture_area(path, (144, 256)).shape == (16, 192)  # 16 rows at 256x144: still an area


def test_a_lit_line_of_another_colour_than_the_picture_beside_it_is_no_bar():
    frame = boxed(np.full((H, W, 3), (40, 160, 40), np.uint8), left=10, right=10)
    frame[:, 10] = (70, 0, 0)  # the picture's first column, dark red (luma 21): not the green's colour on black
    assert find_picture_area([frame], chroma=(2, 2)).bars_text() == "left 10, right 10"
    # lit over a third of it only, the rest the green's colour on black: picture all the same
    # (BAR_NOISE of a line may be lit, not a third: a dark red object along the picture's edge)
    part = boxed(np.full((H, W, 3), (40, 160, 40), np.uint8), left=21, right=20)
    part[:, 20] = (0, 49, 0)
    assert find_picture_area([part], chroma=(2, 2)).bars_text() == "left 21, right 20"
    part[:H // 3, 20] = (70, 0, 0)
    assert find_picture_area([part], chroma=(2, 2)).bars_text() == "left 20, right 20"


@pytest.mark.parametrize("chroma", [None, (1, 1)])
def test_a_dark_picture_line_of_the_next_ones_hue_is_no_bar_where_lines_have_their_own_colour(chroma):
    """Only where two lines share one colour sample (4:2:0) is a bar's last line black but for the
    picture's colour. In RGB or 4:4:4 frames (or a still, whose chroma is not known) a picture's
    dark edge column of its next one's hue, (140, 0, 0) beside (200, 0, 0), was taken into the bar
    and left unstylized: left 21, not 20."""
    frame = np.zeros((72, 136, 3), np.uint8)
    frame[:, 20:116] = (200, 0, 0)
    frame[:, 20] = (140, 0, 0)
    assert find_picture_area([frame], chroma=chroma).bars_text() == "left 20, right 20"
    assert find_picture_area([frame]).bars_text() == "left 20, right 20"  # the API's default: not known
    turned = np.ascontiguousarray(frame.transpose(1, 0, 2))  # 4:2:2 shares colour across, not down
    assert find_picture_area([turned], chroma=(2, 1)).bars_text() == "top 20, bottom 20"
    assert find_picture_area([frame], chroma=(2, 1)).bars_text() == "left 21, right 20"  # (as 4:2:0 pairs them)


def test_the_chroma_shown_is_turned_with_the_frames_and_none_once_they_are_scaled():
    from vidstyle.io.display import DisplayConversion

    assert DisplayConversion(0, False, 1, (320, 180)).shown_chroma("yuv422p") == (2, 1)
    assert DisplayConversion(90, False, 1, (320, 180)).shown_chroma("yuv422p") == (1, 2)
    assert DisplayConversion(0, False, 1, (320, 180), scaled_size=(160, 90)).shown_chroma("yuv420p") is None
    assert DisplayConversion(0, False, 1, (320, 180)).shown_chroma("rgb24") is None
    with pytest.raises(ValueError, match="chroma must be None or"):
        find_picture_area([np.zeros((8, 8, 3), np.uint8)], chroma=2)
    with pytest.raises(ValueError, match="chroma must be None or"):  # a flag is no count of pixels
        find_picture_area([np.zeros((8, 8, 3), np.uint8)], chroma=(True, True))


def test_only_the_line_that_shares_the_pictures_colour_is_taken_into_a_bar():
    """4:2:0 pairs lines 0-1, 2-3, ...: only a bar's line paired with the picture's first carries
    its colour. A dark picture line elsewhere, green on black as the paired line reads, was taken
    into the bar: one after a bar of 21 (paired with the bar's black) made a bar of 22, and one
    after a single black edge line, no bar at all, made a bar of 2 that was kept unstylized."""
    green = np.full((H, W, 3), (40, 160, 40), np.uint8)
    frame = boxed(green, left=21, right=20)
    frame[:, 21] = (0, 49, 0)  # the picture's first column: dark, the green's colour on black (luma 29)
    assert find_picture_area([frame], chroma=(2, 2)).bars_text() == "left 21, right 20"
    edged = green.copy()
    edged[:, -1] = 0  # one black column at the edge, no bar; before it a dark line of the green's colour
    edged[:, -2] = (0, 49, 0)
    assert find_picture_area([edged], chroma=(2, 2)) is None


def test_specks_in_a_bar_leave_it_a_bar():
    """Noise or a logo's corner lights a few pixels of some bar rows: up to BAR_NOISE (2%) of a
    row, it is still bar."""
    frame = boxed(picture(size=(192, H)), top=12, bottom=12)
    frame[H + 14:H + 20, 40] = 255  # one pixel of 192 in six rows of the bottom bar
    frame[H + 16:H + 18, 150:152] = 200  # and two more in two of them: 3 of 192 (1.6%)
    frame[3, 100] = 90  # a speck in the top bar
    assert find_picture_area([frame]) == PictureArea(12, H + 12, 0, 192, (H + 24, 192))


def test_a_dim_first_line_of_the_picture_still_ends_the_bar():
    """The picture's outermost row is often dim (a film scan's frame line, scaling's ringing):
    mostly dark, yet not bar. The row after it is looked at too, at both edges."""
    frame = boxed(picture(), top=12, bottom=12)
    for row in (12, H + 11):  # the picture's first and last rows: 30% lit
        frame[row] = 0
        frame[row, :W * 3 // 10] = 200
    assert find_picture_area([frame]) == PictureArea(12, H + 12, 0, W, (H + 24, W))
    tall = np.ascontiguousarray(frame.transpose(1, 0, 2))  # the same, as pillarbox bars
    assert find_picture_area([tall]) == PictureArea(0, W, 12, H + 12, (W, H + 24))


def test_the_bars_show_picture_when_more_than_half_of_a_bar_is_lit():
    """A later frame whose bar is under half lit (a subtitle, a logo) keeps the bars; over half
    lit, the picture has reached into them."""
    frame = boxed(picture(), top=12, bottom=12)
    area = find_picture_area([frame])
    for share, shows in ((0.4, False), (0.6, True)):
        lit = frame.copy()
        lit[H + 12:, :round(W * share)] = 180  # the left part of the bottom bar
        assert area.bars_show_picture(lit) is shows, share


def test_a_picture_too_small_to_stylize_is_not_cropped_to():
    assert find_picture_area([boxed(picture(size=(W, 10)), top=30, bottom=32)]) is None
    # min_picture (16) rows are enough
    assert find_picture_area([boxed(picture(size=(W, 16)), top=30, bottom=32)]) == PictureArea(30, 46, 0, W, (78, W))
    assert find_picture_area([boxed(picture(size=(W, 10)), top=30, bottom=32)], min_picture=8) is not None


def test_bars_at_the_dark_level_are_bars_and_above_it_are_not():
    """A row is bar when its pixels' luma is *at most* DARK_LEVEL (12): a grey-12 bar (a
    lifted black) is one, a grey-13 bar is not."""
    for grey, found in ((12, True), (13, False)):
        frame = boxed(picture(), top=12, bottom=12)
        frame[:12] = frame[H + 12:] = grey
        area = find_picture_area([frame])
        assert (area == PictureArea(12, H + 12, 0, W, (H + 24, W))) if found else area is None, grey


def test_bad_input():
    with pytest.raises(ValueError, match="at least one frame"):
        find_picture_area([])
    with pytest.raises(ValueError, match="at least one frame"):
        find_picture_area(f for f in [])
    with pytest.raises(TypeError, match="iterable of uint8"):
        find_picture_area(None)
    with pytest.raises(ValueError, match="one size"):
        find_picture_area([picture(), picture(size=(W, H + 2))])
    with pytest.raises(ValueError, match="uint8"):
        find_picture_area([picture().astype(np.float32)])
    with pytest.raises(ValueError, match="do not fit"):
        PictureArea(10, 5, 0, 10, (20, 20))


def test_crop_paste_and_the_bars_check():
    frame = boxed(picture(), top=12, bottom=12)
    area = find_picture_area([frame])
    assert area.describe() == f"{W}x{H} picture inside {W}x{H + 24} (bars: top 12, bottom 12)"
    painted = area.paste(frame, np.full((H, W, 3), 200, np.uint8))
    assert (painted[12:-12] == 200).all() and (painted[:12] == 0).all() and (painted[-12:] == 0).all()
    assert (frame[12:-12] != 200).any()  # paste copies: the input frame is untouched
    with pytest.raises(ValueError, match="picture"):
        area.paste(frame, picture(size=(W, H + 2)))
    assert not area.bars_show_picture(frame)
    assert area.bars_show_picture(picture(size=(W, H + 24)))  # a full frame: the picture is in the bars
    pillarboxed = boxed(picture(), left=10, right=6)  # bars on every side: each put back, the picture kept
    sides = find_picture_area([pillarboxed])
    smeared = np.full_like(pillarboxed, 90)
    restored = sides.restore_bars(smeared, pillarboxed)
    assert restored is smeared and (restored[:, :10] == 0).all() and (restored[:, -6:] == 0).all()
    assert (restored[:, 10:-6] == 90).all()
    both = boxed(picture(), top=4, bottom=8, left=10, right=6)
    area = find_picture_area([both])
    assert np.array_equal(area.restore_bars(np.full_like(both, 90), both),
                          area.paste(both, np.full((H, W, 3), 90, np.uint8)))
    # the bars filled from the picture's edges (what the stabilizer blends), corners from its corners
    extended = area.extend_edges(both.copy())
    assert np.array_equal(area.crop(extended), area.crop(both))
    expected = np.pad(area.crop(both), ((4, 8), (10, 6), (0, 0)), mode="edge")
    assert np.array_equal(extended, expected)


def test_crop_and_paste_refuse_frames_of_another_size_and_float_pictures():
    # slicing a frame of another size takes another region without a word, and a float picture
    # in [0, 1] cast into the uint8 frame paints the picture black
    frames = [boxed(picture(i), top=12, bottom=12) for i in range(3)]
    area = find_picture_area(f for f in frames)  # any iterable of frames, read once
    assert area == find_picture_area(frames) and area.shape == (H, W)
    other = boxed(picture(size=(W + 20, H)), top=12, bottom=12)
    with pytest.raises(ValueError, match=rf"image must be {W}x{H + 24} .*got {W + 20}x{H + 24}"):
        area.crop(other)
    with pytest.raises(ValueError, match=rf"frame must be {W}x{H + 24} .*got {W + 20}x{H + 24}"):
        area.paste(other, area.crop(frames[0]))
    # bars put back from, or edges continued into, a frame of another size: refused as well, not
    # another region's rows copied
    with pytest.raises(ValueError, match=rf"frame must be {W}x{H + 24} .*got {W + 20}x{H + 24}"):
        area.restore_bars(frames[0].copy(), other)
    with pytest.raises(ValueError, match=rf"image must be {W}x{H + 24} .*got {W + 20}x{H + 24}"):
        area.extend_edges(other)
    with pytest.raises(ValueError, match="uint8.*scale float images"):
        area.paste(frames[0], area.crop(frames[0]) / 255.0)
    with pytest.raises(ValueError, match="RGB"):
        area.crop(frames[0][..., 0])


# --- the pipeline ---------------------------------------------------------------------------

class PaintWhite:
    """A stylizer that paints every pixel 200 and remembers the sizes it was given."""

    def __init__(self):
        self.sizes: set[tuple[int, int]] = set()

    def stylize_batch(self, images):
        self.sizes.update(i.shape[:2] for i in images)
        return np.full((len(images), *images[0].shape), 200, np.uint8)


def test_video_bars_are_kept_and_only_the_picture_is_stylized(tmp_path):
    src = make_video(tmp_path / "boxed.mp4", frames=10, size=(96, 72), pattern="letterbox", crf=0)
    bar = letterbox_bars(72)
    stylizer = PaintWhite()
    result = stylize_video(src, tmp_path / "out.mp4", style=stylizer, temporal="off", crf=0, progress=False)
    assert stylizer.sizes == {(72 - 2 * bar, 96)}
    assert result.bars == f"top {bar}, bottom {bar}" and f"bars kept: top {bar}, bottom {bar}" in result.summary()
    frames = read_frames(tmp_path / "out.mp4")
    assert len(frames) == 10
    for f in frames:  # lossless x264; 2 rows of margin at the edges for the 4:2:0 chroma's upsampling
        assert f[:bar - 2].max() <= 3 and f[74 - bar:].max() <= 3  # the bars as they came in
        assert abs(f[bar + 2:70 - bar].astype(int) - 200).max() <= 3

    whole = PaintWhite()
    result = stylize_video(src, tmp_path / "whole.mp4", style=whole, temporal="off", bars="stylize", progress=False)
    assert whole.sizes == {(72, 96)} and result.bars == "" and "bars kept" not in result.summary()
    assert abs(read_frames(tmp_path / "whole.mp4")[0].astype(int) - 200).max() <= 3


def test_a_film_opening_on_black_with_one_long_gop_keeps_its_bars(tmp_path):
    """Its only keyframe is black: the frames spread over it are then decoded at exact times."""
    src = make_video(tmp_path / "film.mp4", frames=24, size=(96, 72), pattern="letterbox-after-black", crf=0, gop=100)
    bar = letterbox_bars(72)
    result = stylize_video(src, tmp_path / "out.mp4", style=PaintWhite(), temporal="off", crf=0, progress=False)
    assert result.bars == f"top {bar}, bottom {bar}"
    assert read_frames(tmp_path / "out.mp4")[12][:bar - 2].max() <= 3


def test_when_the_picture_reaches_into_the_bars_the_rest_is_stylized_whole(tmp_path, caplog):
    """The bars are found on frames spread over the clip; the last two frames, which none of those
    is, fill the whole frame: from there on, whole frames are stylized, and a warning says so."""
    src = make_video(tmp_path / "opens.mp4", frames=24, size=(96, 72), pattern="letterbox-opens", crf=0)
    stylizer = PaintWhite()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(src, tmp_path / "out.mp4", style=stylizer, temporal="off", batch=4, crf=0,
                               progress=False)  # frame 22 is the third of a batch: the switch is frame-exact
    assert result.bars  # found on the sampled frames
    assert "from 0.92 s on, the picture reaches into the black bars" in caplog.text
    frames = read_frames(tmp_path / "out.mp4")
    assert frames[21][:5].max() <= 3  # still letterboxed
    assert abs(frames[22].astype(int) - 200).max() <= 3 and abs(frames[23].astype(int) - 200).max() <= 3


def test_once_the_picture_reached_into_the_bars_whole_frames_are_stylized_for_good(tmp_path, caplog, monkeypatch):
    """The picture fills two frames in the middle of the clip (a title card, a flash), then is
    letterboxed again: the rest is still stylized whole (switching back would change the look
    from frame to frame), and the warning is given once."""
    import videos

    def with_midway(index, size, pattern="moving", frames=None):  # "midway": frames 10 and 11 fill the frame
        if pattern != "midway":
            return pattern_frame(index, size, pattern, frames)
        return pattern_frame(index, size, "moving" if index in (10, 11) else "letterbox")

    monkeypatch.setattr(videos, "pattern_frame", with_midway)
    src = make_video(tmp_path / "midway.mp4", frames=24, size=(96, 72), pattern="midway", crf=0)
    monkeypatch.undo()
    bar = letterbox_bars(72)
    stylizer = PaintWhite()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(src, tmp_path / "out.mp4", style=stylizer, temporal="off", batch=4, crf=0,
                               progress=False)  # frame 10 is the third of a batch
    # the sampled frames are all letterboxed; kept until frame 10 (10/24 s)
    assert result.bars == f"top {bar}, bottom {bar} until 0.42 s" and "until 0.42 s" in result.summary()
    assert caplog.text.count("the picture reaches into the black bars") == 1
    # a segment says the time on the input's clock, as style changes and the mask do: the same
    # 24 frames after a second of others, from --start 1 (not "0.42 s" into the segment)
    def later(index, size, pattern="moving", frames=None):
        if pattern != "later":
            return pattern_frame(index, size, pattern, frames)
        return with_midway(index - 24, size, "midway") if index >= 24 else pattern_frame(index, size, "letterbox")

    monkeypatch.setattr(videos, "pattern_frame", later)
    longer = make_video(tmp_path / "later.mp4", frames=48, size=(96, 72), pattern="later", crf=0)
    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        segment = stylize_video(longer, tmp_path / "segment.mp4", style=stylizer, temporal="off", batch=4, crf=0,
                                progress=False, start=1.0)
    assert segment.bars == f"top {bar}, bottom {bar} until 1.42 s", segment.bars
    assert "from 1.42 s on, the picture reaches into the black bars" in caplog.text
    frames = read_frames(tmp_path / "out.mp4")
    assert len(frames) == 24
    assert frames[9][:bar - 2].max() <= 3  # still letterboxed
    for i in range(10, 24):  # the bars of frames 12 on are black in the input, yet stylized
        assert abs(frames[i].astype(int) - 200).max() <= 3, i


def test_bars_are_optional_in_the_api_and_checked(tmp_path):
    from vidstyle.errors import VidstyleError

    src = make_video(tmp_path / "in.mp4", frames=3)
    with pytest.raises(VidstyleError, match="unknown bars mode 'crop' \\(use keep or stylize\\)"):
        stylize_video(src, tmp_path / "out.mp4", style=PaintWhite(), bars="crop")


def test_still_images_keep_their_bars(tmp_path):
    from vidstyle.io.images import read_image, write_image

    write_image(tmp_path / "boxed.png", boxed(picture(), left=16, right=16), "PNG")
    stylizer = PaintWhite()
    result = stylize_image(tmp_path / "boxed.png", tmp_path / "out.png", style=stylizer)
    out = read_image(tmp_path / "out.png")
    assert stylizer.sizes == {(H, W)} and result.bars == "left 16, right 16"
    assert (out[:, :16] == 0).all() and (out[:, 16:-16] == 200).all() and (out[:, -16:] == 0).all()


def test_int8_calibrates_on_the_picture_inside_the_bars(tmp_path):
    class Int8:
        int8, calibration_source = True, None

        def calibrate(self, frames, source=None):
            self.frames, self.calibration_source = frames, source

    src = make_video(tmp_path / "boxed.mp4", frames=12, size=(96, 72), pattern="letterbox")
    bar = letterbox_bars(72)
    area = find_picture_area(keyframe_samples(src, 8))
    stylizer = Int8()
    calibrate_for(stylizer, src, area=area)
    assert len(stylizer.frames) == 8 and {f.shape for f in stylizer.frames} == {(72 - 2 * bar, 96, 3)}
    assert stylizer.calibration_source.endswith(f"#{bar}:{72 - bar},0:96")


def test_keyframe_samples_decode_one_frame_per_keyframe(tmp_path):
    """Keyframes every 4 frames: times at 0, 6, 12 and 18 frames give keyframes 0, 4, 12 and 16
    (the moving square's position tells which frame each is)."""
    def index(image):  # the square starts at x = 3 * frame index, in the middle rows
        return int(np.argmax(image[36, :, 0] > 200)) // 3

    src = make_video(tmp_path / "short_gop.mp4", frames=24, size=(96, 72), gop=4)
    assert [index(f) for f in keyframe_samples(src, 4)] == [0, 4, 12, 16]
    # a segment from frame 12: its first frame, then times 15 (keyframe 12 again: dropped), 18 and 21
    assert [index(f) for f in keyframe_samples(src, 4, start=0.5)] == [12, 16, 20]
    # a keyframe before the segment (12, before frame 14) is not in it
    assert [index(f) for f in keyframe_samples(src, 8, start=14 / 24)] == [14, 16, 20]
    long_gop = make_video(tmp_path / "long_gop.mp4", frames=24, size=(96, 72), gop=100)
    assert [index(f) for f in keyframe_samples(long_gop, 8)] == [0]  # one keyframe: no repeats
    # too few keyframes: frames at exact times instead
    assert [index(f) for f in spread_samples(long_gop, 8)] == [0, 3, 6, 9, 12, 15, 18, 21]
    assert [index(f) for f in spread_samples(src, 4)] == [0, 4, 12, 16]  # enough keyframes: those
    with pytest.raises(ValueError, match="at least 1"):
        keyframe_samples(src, 0)


def test_cli_says_which_bars_it_kept(tmp_path, style, capsys):
    from vidstyle.cli import main

    src = make_video(tmp_path / "boxed.mp4", frames=6, size=(96, 72), pattern="letterbox")
    bar = letterbox_bars(72)
    common = ["stylize", str(src), "--style", str(style), "--device", "cpu", "--temporal", "off", "--crf", "0"]
    assert main([*common, "-o", str(tmp_path / "kept.mp4")]) == 0
    assert f"bars kept: top {bar}, bottom {bar}] -> " in capsys.readouterr().err
    assert read_frames(tmp_path / "kept.mp4")[3][:bar - 2].max() <= 3
    assert main([*common, "-o", str(tmp_path / "painted.mp4"), "--bars", "stylize"]) == 0
    assert "bars kept" not in capsys.readouterr().err
    assert read_frames(tmp_path / "painted.mp4")[3][:bar - 2].max() > 3  # the random network paints them


class Invert:
    """A stylizer that paints each pixel its opposite: a picture whose edge with the bars is bright."""

    def stylize_batch(self, images):
        return [255 - i for i in images]


def test_the_stabilizer_leaves_the_bars_as_they_came_in(tmp_path):
    """The stabilizer warps and blends whole frames: its flow carried the painted picture a few rows
    into the bars (up to 75 grey levels on the sample clip at strength 0.8); they are put back after
    it, until whole frames are stylized; under the blend they are the picture's edges, not black."""
    bar = 30  # the last two frames fill the frame (a grey ramp)
    src = make_letterboxed_sample(tmp_path / "boxed.mp4", frames=24, bar=bar, filled_from=22)
    result = stylize_video(src, tmp_path / "out.mp4", style=Invert(), temporal="flow", temporal_strength=0.8,
                           crf=0, pix_fmt="yuv444p", progress=False)
    assert result.bars.startswith(f"top {bar}, bottom {bar} until")
    out, inputs = read_frames(tmp_path / "out.mp4").astype(int), read_frames(src).astype(int)
    for o, i in zip(out[:22], inputs[:22]):  # (1 level of YUV rounding)
        assert np.abs(o[:bar] - i[:bar]).max() <= 1 and np.abs(o[180 - bar:] - i[180 - bar:]).max() <= 1
        # and the picture's edge rows are not darkened by the bars: with black there, the warp's
        # samples drew it into them, frame after frame (8 levels darker on average at the bottom)
        for row in (bar, 179 - bar):
            assert abs((o[row] - (255 - i[row])).mean()) < 3
    # whole frames painted from there, their top and bottom rows too (not the picture's edges
    # repeated over them, as under the blend while the bars were kept)
    assert np.abs(out[22:] - (255 - inputs[22:])).max() <= 1


def _lower_third(rows: int = 30, size=(W, H)) -> tuple[np.ndarray, np.ndarray]:
    """An overlay render's frame: transparent (and black, as renderers store it) above an opaque
    full-width band of its bottom ``rows``: a lower third. (RGB, alpha)."""
    rgb = np.zeros((size[1], size[0], 3), np.uint8)
    alpha = np.zeros(size[::-1], np.uint8)
    rgb[-rows:] = picture(size=size)[-rows:]
    alpha[-rows:] = 255
    return rgb, alpha


def test_transparency_is_no_bar_in_a_still(tmp_path):
    """A still's transparent rows are not black bars, whatever colour is stored under them: the
    network sees the whole picture (with its transparency filled, as ever), and the summary says
    no bars (it said 'bars kept: top 42')."""
    from PIL import Image

    rgb, alpha = _lower_third()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "overlay.png")
    stylizer = PaintWhite()
    result = stylize_image(tmp_path / "overlay.png", tmp_path / "out.png", style=stylizer)
    assert result.bars == "" and stylizer.sizes == {(H, W)}
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[..., 3], alpha) and (out[alpha > 0][:, :3] == 200).all()


def test_transparency_is_no_bar_in_a_render(tmp_path):
    """An overlay render (RGBA frames) transparent above a lower third had its transparent rows
    kept as bars: a title that later rose into them was left unpainted (something small appearing
    in a bar is kept as it is). Bars are looked for on the frames as the network sees them, the
    picture continued under the transparency."""
    from PIL import Image

    render = tmp_path / "render"
    render.mkdir()
    for i in range(40):
        rgb, alpha = _lower_third()
        if i >= 37:  # a title box rises into the rows transparent until then, after the frames sampled for bars
            rgb[8:24, 30:60], alpha[8:24, 30:60] = (250, 200, 40), 255
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(render / f"f_{i:02d}.png")
    stylizer = PaintWhite()
    result = stylize_video(render, tmp_path / "out" / "o_%02d.png", style=stylizer, temporal="off", progress=False)
    assert result.bars == "" and stylizer.sizes == {(H, W)}
    last = np.asarray(Image.open(tmp_path / "out" / "o_39.png"))
    assert (last[8:24, 30:60] == (200, 200, 200, 255)).all()  # the title painted, opaque


def test_transparent_black_rows_are_bars_where_the_output_drops_the_transparency(tmp_path):
    """Written opaque (.jpg, .mp4), a render's transparent rows are the black stored under them,
    which the network sees as it is (the picture is continued under the transparency only where
    the alpha is kept): they are black bars, kept black, as before transparency was looked
    through. Looked through there too, the black rows were painted."""
    from PIL import Image

    rgb, alpha = _lower_third(rows=H - 12)  # 12 transparent black rows at the top
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "overlay.png")
    stylizer = PaintWhite()
    result = stylize_image(tmp_path / "overlay.png", tmp_path / "out.jpg", style=stylizer)
    assert result.bars == "top 12" and stylizer.sizes == {(H - 12, W)}
    render = tmp_path / "render"
    render.mkdir()
    for i in range(3):
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(render / f"f_{i:02d}.png")
    stylizer = PaintWhite()
    result = stylize_video(render, tmp_path / "out.mp4", style=stylizer, temporal="off", progress=False,
                           sequence_fps=10)
    assert result.bars == "top 12" and stylizer.sizes == {(H - 12, W)}


@pytest.mark.parametrize("frames, count", [(40, 4), (3, 8)])
def test_sampled_frames_of_a_render_are_seen_with_the_transparency_filled(tmp_path, frames, count):
    """Frames sampled for bars with fill_transparency are all filled as the network sees them, the
    keyframes after the first (40 frames: 4 keyframes sampled) and the frames at exact times when
    a clip holds too few keyframes (3 frames for 8 samples): left black there, the transparent
    rows were taken for a bar in those samples."""
    from PIL import Image

    from vidstyle.frames import fill_transparent

    render = tmp_path / "render"
    render.mkdir()
    rgb, alpha = _lower_third()
    for i in range(frames):
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(render / f"f_{i:02d}.png")
    samples = spread_samples(render, count, fill_transparency=True)
    assert len(samples) == min(frames, count)
    assert all(np.array_equal(sample, fill_transparent(rgb, alpha)) for sample in samples)


def test_bars_in_only_some_of_the_sampled_frames_are_said_not_kept(tmp_path, caplog, monkeypatch):
    """A full-frame shot joined to a letterboxed one: no row is black in all the sampled frames,
    so whole frames are stylized, the later shot's bars painted with them (starry_night's dark
    strokes), which nothing said. A warning now names the bars some frames showed and the way to
    keep them; the letterboxed part alone keeps its bars, and a clip without bars says nothing."""
    import videos

    def joined(index, size, pattern="moving", frames=None):  # "joined": full frame, then letterboxed from frame 12
        if pattern != "joined":
            return pattern_frame(index, size, pattern, frames)
        return pattern_frame(index, size, "moving" if index < 12 else "letterbox")

    monkeypatch.setattr(videos, "pattern_frame", joined)
    src = make_video(tmp_path / "joined.mp4", frames=24, size=(96, 72), pattern="joined", crf=0)
    monkeypatch.undo()
    bar = letterbox_bars(72)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        result = stylize_video(src, tmp_path / "out.mp4", style=PaintWhite(), temporal="off", crf=0, progress=False)
    assert result.bars == ""
    said = f"black bars (top {bar}, bottom {bar}) in 4 of the 8 frames sampled from joined.mp4, but not in the others"
    assert caplog.text.count(said) == 1 and "--start/--duration to keep its bars black" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        part = stylize_video(src, tmp_path / "part.mp4", style=PaintWhite(), temporal="off", crf=0, progress=False,
                             start=0.5)
        stylize_video(make_video(tmp_path / "plain.mp4", frames=24, size=(96, 72), crf=0), tmp_path / "plain-out.mp4",
                      style=PaintWhite(), temporal="off", crf=0, progress=False)
    assert part.bars == f"top {bar}, bottom {bar}"
    assert "black bars" not in caplog.text, caplog.text


def test_bars_in_two_sampled_frames_are_said_and_in_one_are_not(tmp_path, caplog, monkeypatch):
    """Mutation testing, 57th session: with only a clip whose bars 4 of the 8 samples show, the
    threshold of two frames could be one or three, and black frames (each alone no picture at all)
    could outnumber the bars and crash the warning, and bars only at the bottom and right (a
    recording padded as FFmpeg's pad filter does by default) could go unseen, with every test
    passing. Black, then full frame, then letterboxed in the last 2 samples: said; letterboxed in
    the last sample only: a frame alone is no shot (nothing said). Frames 0, 3, ..., 21 of the 24
    are sampled."""
    import videos
    from vidstyle.letterbox import video_picture_area

    def shots(index, size, pattern="moving", frames=None):
        if pattern == "padded":  # from frame 12: the picture top left, 12 rows below it and 16 columns beside it black
            if index < 12:
                return pattern_frame(index, size)
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[:-12, :-16] = pattern_frame(index, (size[0] - 16, size[1] - 12))
            return img
        if not pattern.startswith("bars-from-"):
            return pattern_frame(index, size, pattern, frames)
        if index < 9 and pattern.endswith("-after-black"):
            return np.zeros((size[1], size[0], 3), np.uint8)
        return pattern_frame(index, size, "letterbox" if index >= int(pattern.split("-")[2]) else "moving")

    monkeypatch.setattr(videos, "pattern_frame", shots)
    two = make_video(tmp_path / "two.mp4", frames=24, size=(96, 72), pattern="bars-from-18-after-black", crf=0)
    one = make_video(tmp_path / "one.mp4", frames=24, size=(96, 72), pattern="bars-from-21", crf=0)
    padded = make_video(tmp_path / "padded.mp4", frames=24, size=(96, 72), pattern="padded", crf=0)
    monkeypatch.undo()
    bar = letterbox_bars(72)
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert video_picture_area(two, (72, 96)) is None
    assert f"black bars (top {bar}, bottom {bar}) in 2 of the 8 frames sampled from two.mp4" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert video_picture_area(padded, (72, 96)) is None
    assert "black bars (bottom 12, right 16) in 4 of the 8 frames sampled from padded.mp4" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        assert video_picture_area(one, (72, 96)) is None
    assert "black bars" not in caplog.text, caplog.text


def test_the_bar_search_sorts_no_whole_frame_and_finds_what_the_quantiles_find(monkeypatch):
    """A line was black by its 98th percentile (np.quantile over every row and every column of each
    frame sampled, in a sort of the whole frame): 1.2 s for 8 4K frames, and as long again for the
    warning of bars in some of them, which searches each frame with a dark edge alone. Counting
    each line's lit pixels decides the same but where that count lies at the percentile's place,
    whose interpolation decides: only those lines are measured by np.quantile."""
    import vidstyle.letterbox as letterbox

    rng = np.random.default_rng(0)
    level, n = 12, 300
    lines = rng.integers(0, level + 1, (2 * n, n), dtype=np.uint8)  # dark lines ...
    for i, row in enumerate(lines):  # ... with 0 to 2 * BAR_NOISE of their pixels lit, at any level
        lit = rng.choice(n, i * 2 * 6 // (2 * n) + i % 3, replace=False)
        row[lit] = rng.integers(level - 2, 256, lit.size)
    quantiled = []
    real_quantile = np.quantile
    monkeypatch.setattr(np, "quantile", lambda a, *args, **kwargs: quantiled.append(np.size(a))
                        or real_quantile(a, *args, **kwargs))
    for axis, gray in ((1, lines), (0, np.ascontiguousarray(lines.T))):
        expected = real_quantile(gray, 1 - letterbox.BAR_NOISE, axis=axis) <= level
        assert 0 < expected.sum() < len(expected)
        assert np.array_equal(letterbox._black_lines(gray, axis, level), expected)
    quantiled.clear()
    frames = [np.pad(rng.integers(20, 256, (400, 640, 3), dtype=np.uint8), ((40, 40), (0, 0), (0, 0)))
              for _ in range(3)]
    assert find_picture_area(frames) == PictureArea(40, 440, 0, 640, (480, 640))
    assert sum(quantiled) < 480 * 640, quantiled


@pytest.mark.parametrize("level", [0, 12, 254])
def test_lines_of_frames_down_to_one_pixel_are_black_as_their_quantile_says(level):
    """The count of a line's lit pixels came from OpenCV's compare of the grey frame with the
    level, which takes a 1x1 array for a scalar: a one-pixel frame (a 1x1 still) gave a (4, 1)
    mask, and the search failed with an IndexError where it had found no bars."""
    import vidstyle.letterbox as letterbox

    rng = np.random.default_rng(level)
    for h, w in ((1, 1), (1, 2), (2, 1), (1, 9), (9, 1), (2, 2), (3, 60)):
        gray = rng.choice(np.array([0, level, level + 1, 255], np.uint8), (h, w))
        for axis in (0, 1):
            expected = np.quantile(gray, 1 - letterbox.BAR_NOISE, axis=axis) <= level
            assert np.array_equal(letterbox._black_lines(gray, axis, level), expected), (h, w, axis)
    for value in (0, 200):
        assert find_picture_area([np.full((1, 1, 3), value, np.uint8)], level=level) is None


def test_bars_on_one_edge_at_the_dark_level_in_some_frames_are_said(monkeypatch, caplog):
    """The warning of bars in some frames searches alone only frames with a dark edge line, read
    from the edge lines' luma. Mutation testing, 60th session: the last row or the last column
    not read (a bar only at the bottom, or only on the right, went unsaid), an edge line at
    DARK_LEVEL itself taken for lit (the search takes it for black), or every frame searched
    alone (a frame with no dark edge has no bars), passed every test."""
    import vidstyle.letterbox as letterbox

    rng = np.random.default_rng(0)
    level = letterbox.DARK_LEVEL

    def picture():
        return rng.integers(40, 256, (72, 96, 3), dtype=np.uint8)

    def bottom(frame):
        frame[-12:] = level
        return frame

    def right(frame):
        frame[:, -16:] = level
        return frame

    searched = []
    real_find = letterbox.find_picture_area
    monkeypatch.setattr(letterbox, "find_picture_area", lambda frames, **kw: searched.append(len(frames))
                        or real_find(frames, **kw))
    for edge, bars in ((bottom, "bottom 12"), (right, "right 16")):
        frames = [picture(), edge(picture()), picture(), edge(picture())]
        assert real_find(frames) is None and real_find([frames[1]]) is not None
        searched.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vidstyle"):
            letterbox._say_if_bars_in_some(frames, None, "clip.mp4")
        assert f"black bars ({bars}) in 2 of the 4 frames sampled from clip.mp4" in caplog.text, caplog.text
        assert searched == [1, 1]  # the frames with a dark edge alone
    searched.clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidstyle"):
        letterbox._say_if_bars_in_some([picture() for _ in range(4)], None, "clip.mp4")
    assert searched == [] and "black bars" not in caplog.text


def test_the_bar_search_opens_no_decoder_for_the_chroma_alone(tmp_path, monkeypatch):
    """The chroma the bars are found with came from a decoder opened for it alone (shown_chroma):
    an open more of every input stylize, preview and eval search for bars, a first frame decoded
    (0.1-0.25 s of a 1080p clip). It comes from the decoder that finds the keyframes now; the same
    chroma, the same bars (review, 62nd session)."""
    from vidstyle.io import decode
    from vidstyle.letterbox import video_picture_area

    path = make_odd_bars_420(tmp_path / "pillarboxed.mp4")
    opened = []
    real_init = decode.VideoDecoder.__init__
    monkeypatch.setattr(decode.VideoDecoder, "__init__", lambda self, *a, **k: opened.append(1) or real_init(self, *a, **k))
    assert video_picture_area(path, (180, 320)).bars_text() == ODD_BARS_420  # (the chroma's: see above)
    # one for the keyframes, one the samples are read from (a clip of one GOP: see test_preview)
    assert len(opened) == 2
