"""A video stream's packets read as players read them, whoever reads them.

:class:`PacketDecoder` decodes one stream's packets, skipping and counting the damaged ones and
those a stream cut after a keyframe starts with; :func:`alpha_decoder` picks libvpx for VP9 with
transparency; :func:`continuous_packets` makes a clock that restarts (joined MPEG-TS segments)
run on. :class:`vidstyle.io.decode.VideoDecoder` and live's file source (:mod:`vidstyle.io.capture`)
share them.
"""
from __future__ import annotations

import logging
from fractions import Fraction

import av

log = logging.getLogger("vidstyle")


class PacketDecoder:
    """Decodes one video stream's packets as players do: a packet that will not decode (a damaged
    file, a broadcast capture's glitch) is skipped and counted, rather than ending the whole
    video; only :attr:`MAX_DAMAGED_RUN` of them in a row give up (the decoder's error
    propagates). Shared by :class:`~vidstyle.io.decode.VideoDecoder` and the live file source."""

    #: Consecutive video packets that fail to decode before the file is given up as unreadable.
    MAX_DAMAGED_RUN = 250

    def __init__(self):
        self.damaged = 0  # packets skipped
        self._run = 0
        # A stream cut from a longer one after a keyframe (mid-GOP), or before one whose B-frames
        # refer back (an open GOP), starts with packets the decoder silently gives no frame for,
        # as players show nothing of them: ``lead`` of them, from pts ``lead_from`` to the first
        # frame shown at ``first_pts`` (packets read before that frame came, to be shown before
        # it; none that failed, which ``damaged`` counts, nor those an MP4 edit list drops)
        self.lead = 0
        self.lead_from: int | None = None
        self.first_pts: int | None = None
        self._early: list[int] | None = []  # pts of the packets read before the first frame came (None: it has)

    def decode(self, packet: av.Packet, context: av.CodecContext | None = None) -> list:
        """The frames ``packet`` completes (none for a damaged one); ``context``: a decoder other
        than the stream's own (see :func:`alpha_decoder`)."""
        try:
            frames = packet.decode() if context is None else context.decode(packet)
        # FFmpeg's PNG decoder says zlib's refusal of damaged data as an "external library" error
        except (av.error.InvalidDataError, av.error.ExternalError):
            self.damaged += 1
            self._run += 1
            if self._run >= self.MAX_DAMAGED_RUN:
                raise
            return []
        self._run = 0
        if self._early is not None and packet.size and packet.pts is not None and not packet.is_discard:
            self._early.append(packet.pts)
        if frames and self._early is not None:
            self.first_pts = frames[0].pts
            lost = [pts for pts in self._early if self.first_pts is not None and pts < self.first_pts]
            self.lead, self.lead_from, self._early = len(lost), min(lost, default=None), None
        return frames

    def lead_seconds(self, time_base) -> Fraction:
        """Seconds from the first of the ``lead`` packets to the first frame shown (0 without a lead)."""
        return Fraction(0) if not self.lead else (self.first_pts - self.lead_from) * time_base

    def say_lead(self, name: str, time_base) -> None:
        """Warn of the ``lead`` packets of the stream of file ``name`` (time base ``time_base``),
        the picture a player shows nothing of: vidstyle stylize's reader and live's file source say
        it alike, once, after the first frame."""
        if self.lead:
            log.warning("skipped %d video packet(s) at the start of %s that would not decode (the %.2f s before "
                        "its first whole frame: cut from a longer stream?)", self.lead, name,
                        float(self.lead_seconds(time_base)))


def alpha_decoder(stream: av.VideoStream) -> av.CodecContext | None:
    """The decoder to use instead of ``stream``'s own, or None: for VP9 with transparency (WebM
    overlays; ``alpha_mode`` 1), libvpx's, which also decodes the alpha layer that Matroska keeps
    beside each frame (FFmpeg's own VP9 decoder leaves it out)."""
    tags = {key.lower(): str(value).strip() for key, value in stream.metadata.items()}
    if stream.codec_context.name != "vp9" or tags.get("alpha_mode") != "1":  # WebM's own files say ALPHA_MODE
        return None
    try:
        context = av.CodecContext.create("libvpx-vp9", "r")
    except (av.error.FFmpegError, ValueError):  # an FFmpeg build without libvpx: decoded opaque
        return None
    context.thread_type = "AUTO"
    return context


#: a step back in time (seconds) that a format whose clock may restart (MPEG-TS and kin) takes
#: for a restart, as FFmpeg does: joined segments, or a capture whose encoder restarted
CLOCK_RESTART = Fraction(1, 10)


def continuous_packets(packets, container: av.container.InputContainer, video: int, restarted=lambda: None):
    """``packets`` with the input's clock made to run on where it restarts.

    In formats that allow it (FFmpeg's ``ts_discont``: MPEG-TS, joined byte-wise as HLS
    segments and split captures are) a step back of more than :data:`CLOCK_RESTART` in a
    stream's decode times is a restart. The first stream to reach a restart sets its move: the
    time that shows that packet where the latest picture or sound so far ends; each other
    stream takes the same move at its own step back (the streams interleave, so a stream's
    last packets before the join may come after another's first ones past it), and a sparse
    subtitle stream takes the picture's. So the streams stay in step. Before, the frames after
    a restart were squeezed into microseconds, and copied audio going back in time stopped the
    muxer. A copied packet not after its stream's last one after the move (streams of a
    segment end a little apart) is dropped; video frames are ordered by
    :meth:`~vidstyle.io.decode.VideoDecoder._timed`. Files of other formats pass through
    untouched. (A seek, for ``start``, lands on the file's own clock: see
    :meth:`~vidstyle.io.decode.VideoDecoder._setup`.)

    ``video`` is the index of the picture stream; ``restarted`` is called at each restart.
    """
    if not container.format.flags & av.format.Flags.ts_discont.value:
        yield from packets
        return
    moves = [Fraction(0)]  # seconds added to the timestamps after each restart (none before the first)
    passed: dict[int, int] = {}  # stream index -> the restarts it has reached
    # stream index -> (the end of its latest packet in decode order, the latest end of its
    # pictures or sounds as shown), moved: decode times step back only at a restart (not at
    # B-frames), and the move puts the first packet after it where the latest shown one ends
    ends: dict[int, tuple[Fraction, Fraction]] = {}
    last: dict[int, int] = {}  # stream index -> its latest decode timestamp, moved
    for packet in packets:
        order = packet.dts if packet.dts is not None else packet.pts
        if order is None:
            yield packet
            continue
        tb, index = packet.time_base, packet.stream.index
        shown = packet.pts if packet.pts is not None else order
        length = (packet.duration or 0) * tb
        if packet.stream.type == "subtitle":
            # sparse: a subtitle after a restart need not step back below the one before; it
            # belongs to the segment the picture is in
            passed[index] = passed.get(video, 0)
        elif index in ends and order * tb + moves[passed.get(index, 0)] < ends[index][0] - CLOCK_RESTART:
            passed[index] = passed.get(index, 0) + 1
            if passed[index] == len(moves):  # the first stream at this restart
                moves.append(max(end for _, end in ends.values()) - shown * tb)
                restarted()
        move = round(moves[passed.get(index, 0)] / tb)
        if move:
            packet.pts = None if packet.pts is None else packet.pts + move
            packet.dts = None if packet.dts is None else packet.dts + move
        if packet.stream.type != "video" and last.get(index, order + move - 1) >= order + move:
            continue  # an audio or subtitle packet not after its stream's last: a muxer refuses it
        last[index] = order + move
        decoded_end, shown_end = ends.get(index, (Fraction(-10 ** 9), Fraction(-10 ** 9)))
        ends[index] = (max(decoded_end, (order + move) * tb + length), max(shown_end, (shown + move) * tb + length))
        yield packet
