"""Video file input/output: decoding to RGB frames, encoding with audio, atomic output files."""
from vidstyle.io.decode import AudioItem, DecodedFrame, SourceInfo, VideoDecoder
from vidstyle.io.encode import VIDEO_CODECS, VideoEncoder, available_video_codecs
from vidstyle.io.files import OUTPUT_FORMATS, atomic_output, check_input, check_output

__all__ = ["AudioItem", "DecodedFrame", "SourceInfo", "VideoDecoder", "VIDEO_CODECS", "VideoEncoder",
           "available_video_codecs", "OUTPUT_FORMATS", "atomic_output", "check_input", "check_output"]
