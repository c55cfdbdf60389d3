"""Video file input/output: decoding to RGB frames, encoding with audio, atomic output files;
still images in :mod:`vidstyle.io.images`.

The names below load on first use (PEP 562), so importing :mod:`vidstyle.io.files` (output checks,
used by training too) does not need PyAV.
"""
from __future__ import annotations

import importlib

_HOMES = {
    "vidstyle.io.decode": ("AudioItem", "DecodedFrame", "SourceInfo", "SubtitleItem", "VideoDecoder"),
    "vidstyle.io.encode": ("VIDEO_CODECS", "VideoEncoder", "available_video_codecs"),
    "vidstyle.io.samples": ("keyframe_samples", "sample_frames", "spread_samples"),
    "vidstyle.io.files": ("OUTPUT_FORMATS", "atomic_output", "check_input", "check_output", "check_output_file",
                          "check_writable_folder", "temp_path_beside", "write_then_rename"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        from vidstyle import _submodule

        return _submodule(__name__, name)  # vidstyle.io.decode after a plain import vidstyle
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
