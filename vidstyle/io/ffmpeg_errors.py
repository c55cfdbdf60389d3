"""FFmpeg's reason for an error, as vidstyle says it: without PyAV's errno number and path
(:func:`error_text`), and with the muxer's or encoder's own log line where it was captured
(:func:`explained`, :func:`explained_error_text`: "flac only supported in MP4" where the error
code says "Invalid argument"). Decoding, encoding, codec checks and live's file source share them.
"""
from __future__ import annotations

import contextlib

import av
import av.logging


def error_text(exc: Exception) -> str:
    """FFmpeg's reason without PyAV's errno number and path ("Invalid data found when processing input")."""
    return getattr(exc, "strerror", None) or str(exc)


def explained_error_text(exc: Exception) -> str:
    """FFmpeg's own reason when it was captured (see :func:`explained`), else the errno text."""
    log_entry = getattr(exc, "log", None)
    if log_entry and len(log_entry) == 3 and str(log_entry[2]).strip():
        return f"{error_text(exc)}: {str(log_entry[2]).strip().rstrip('.')}"
    return error_text(exc)


@contextlib.contextmanager
def explained():
    """Let FFmpeg errors raised inside carry the muxer's log line ("flac only supported in MP4"),
    which its error codes ("Invalid argument") do not say. PyAV records the last error line only
    while FFmpeg logging is on; it is turned on just here, around the in-memory audio probe and
    the writing of an output's header (before any frame is encoded, so no other stage's FFmpeg
    work logs meanwhile), and captured, so nothing reaches stderr."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture():
            yield
    finally:
        av.logging.set_level(previous)
