"""The pipeline's queues bounded by bytes as well as by items (StylizeConfig.queue_size)."""
from __future__ import annotations

import pytest

from videos import make_video, read_frames
from vidstyle import pipeline


def test_queue_depth_keeps_small_frames_depth_and_bounds_large_ones():
    depth = pipeline.queue_depth
    assert depth(640 * 360 * 3, 1, 8) == 8
    assert depth(1920 * 1080 * 3, 1, 8) == 8  # 1080p keeps its depth: 50 MB
    assert depth(3840 * 2160 * 3, 1, 8) == 2  # 4K: 64 MB of frames at most
    assert depth(3840 * 2160 * 3, 4, 8) == 4  # never fewer than a batch
    assert depth(3840 * 2160 * 3, 4, 2) == 2  # nor more than queue_size
    assert depth(7680 * 4320 * 3, 1, 8) == 1
    assert depth(640 * 360 * 3, 1, 3) == 3


@pytest.mark.parametrize("batch", [1, 3])
def test_the_pipelines_queues_hold_at_most_queue_frame_bytes_of_frames(tmp_path, monkeypatch, batch):
    from videos import Identity

    src = make_video(tmp_path / "in.mp4", frames=6, size=(96, 64))
    monkeypatch.setattr(pipeline, "QUEUE_FRAME_BYTES", 2 * 96 * 64 * 3)  # two frames' worth
    sizes = _queue_sizes(monkeypatch)
    pipeline.stylize_video(src, tmp_path / "out.mp4", style=Identity(), batch=batch, progress=False)
    video = sorted(s for s in sizes if s != pipeline.AUDIO_QUEUE_ITEMS)
    assert video == [max(2, batch)] * 4  # decoded, flow, stylized, stabilized
    assert len(read_frames(tmp_path / "out.mp4")) == 6


def test_4k_frames_are_queued_two_at_a_time_and_small_ones_eight(tmp_path, monkeypatch):
    from videos import Identity

    sizes = _queue_sizes(monkeypatch)
    for size in ((3840, 2160), (640, 360)):
        src = make_video(tmp_path / f"{size[0]}.mp4", frames=2, size=size)
        sizes.clear()
        pipeline.stylize_video(src, tmp_path / f"out{size[0]}.mp4", style=Identity(), batch=1, temporal="off",
                               progress=False)
        assert sorted(sizes)[:2] == ([2, 2] if size[0] == 3840 else [8, 8]), (size, sizes)


def _queue_sizes(monkeypatch) -> list[int]:
    """The maxsize of every queue the pipeline's stages make from now on, as they are made."""
    sizes = []
    made = pipeline._Stages.queue

    def queue(self, size=None):
        q = made(self, size)
        sizes.append(q.maxsize)
        return q
    monkeypatch.setattr(pipeline._Stages, "queue", queue)
    return sizes


def test_frames_with_alpha_are_queued_by_their_four_bytes_a_pixel(tmp_path, monkeypatch):
    # RGBA frames are 4 bytes a pixel: the queues' byte bound holds fewer of them
    import numpy as np

    from videos import Identity, write_frames

    rgba = [np.dstack([np.full((64, 96, 3), 40 * i, np.uint8), np.full((64, 96), 200, np.uint8)]) for i in range(4)]
    src = write_frames(tmp_path / "in.mov", rgba, codec="prores_ks", pix_fmt="yuva444p10le",
                       options={"profile": "4444"})
    monkeypatch.setattr(pipeline, "QUEUE_FRAME_BYTES", 2 * 96 * 64 * 3)  # two RGB frames' worth: one RGBA frame
    sizes = _queue_sizes(monkeypatch)
    result = pipeline.stylize_video(src, tmp_path / "out.mov", style=Identity(), batch=1, codec="prores_ks",
                                    progress=False)
    assert result.alpha and result.frames == 4
    assert sorted(s for s in sizes if s != pipeline.AUDIO_QUEUE_ITEMS) == [1] * 4
