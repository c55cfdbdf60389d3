"""A style that changes along a video.

``vidstyle stylize in.mp4 -o out.mp4 --style starry_night --style-at 12.5=the_scream`` paints the
first 12.5 seconds in one style and the rest in another, dissolving from one to the other
(:class:`StyleTimeline`); :class:`TimelineStylizer` paints each frame with the style, or the two
styles, of its moment.

Times are on the input's clock, as ``--start`` counts them: with ``--start 10`` a change at
12.5 s comes 2.5 s into the output. A change dissolves from the old style's output to the new
one's over ``crossfade`` seconds centred on its time, as an editor's dissolve is; 0 cuts. Changes
closer together than that get shorter dissolves, so that no two overlap; a change near the
video's start dissolves from the start (which has no dissolve to overlap). The style ``none`` is
the input as it is: ``--style none --style-at 5=starry_night`` dissolves from the original
video into the painting at 5 s, ``--style-at 20=none`` back out of it.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol, Sequence, Union

import cv2
import numpy as np

from vidstyle.config import DEFAULT_CROSSFADE, check_number
from vidstyle.errors import BadTypeError, BadValueError, VidstyleError
from vidstyle.models.zoo import StyleChoice, StyleSpec, Styles

#: The style of a timeline that paints nothing: the frames as they are.
NO_STYLE = "none"

#: One field of a clock time: plain ASCII decimals.
_CLOCK_FIELD = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def parse_clock(text: str) -> float:
    """Seconds from a time as people write it: ``75``, ``75.5``, ``1:15``, ``1:15.5`` or
    ``0:01:15`` (hours, minutes and seconds; the fields after the first below 60). ValueError
    for anything else, negative times included."""
    fields = [f.strip() for f in text.strip().split(":")]
    # Plain decimals only: Fraction alone also takes 1_0, 1e2, 1/2 and full-width digits
    if len(fields) > 3 or not all(_CLOCK_FIELD.fullmatch(f) for f in fields):
        raise BadValueError(f"not a time: {text!r}")
    values = [Fraction(f) for f in fields]  # exact: 1:08.96 is 68.96, not the float just above it
    if any(v.denominator != 1 for v in values[:-1]) or any(v >= 60 for v in values[1:]):
        raise BadValueError(f"not a time: {text!r}")
    try:
        return float(sum(v * 60 ** i for i, v in enumerate(reversed(values))))
    except OverflowError:  # hundreds of digits, past any float: not a ValueError, so it escaped as a traceback
        raise BadValueError(f"not a time: {text!r}") from None


class ReadyStylizer(Protocol):
    """A ready stylizer, used as it is (:func:`is_ready_stylizer`): a
    :class:`~vidstyle.stylizer.Stylizer`, or anything with its ``stylize_batch``."""

    def stylize_batch(self, images: Sequence[np.ndarray]) -> Sequence[np.ndarray] | np.ndarray:
        """uint8 (B, H, W, 3) RGB images of one size -> the stylized images, as many."""
        ...


@dataclass(frozen=True)
class StyleChange:
    """From ``at`` seconds (on the input's clock) on, the frames are painted in ``style`` (a
    style spec, as ``--style`` takes, or a ready stylizer)."""

    at: float
    style: StyleSpec | ReadyStylizer


#: A style timeline's entries as :class:`StyleTimeline` takes them: (seconds, style) pairs or
#: :class:`StyleChange` entries.
TimelineEntries = Sequence[Union[StyleChange, tuple[float, Union[StyleSpec, ReadyStylizer]]]]


def parse_style_change(text: str) -> StyleChange:
    """``"12.5=the_scream"``, ``"1:05=mix:starry_night=0.5,the_scream=0.5"`` -> a StyleChange
    (split at the first ``=``: a style spec may hold more)."""
    when, sep, style = text.partition("=")
    if not sep or not style.strip() or not when.strip():
        raise VidstyleError(f"a style change is TIME=STYLE, e.g. 12.5=the_scream or 1:05=mondrian, got {text!r}")
    try:
        at = parse_clock(when)
    except ValueError:
        raise VidstyleError(f"{when.strip()!r} in {text!r} is not a time (seconds such as 12.5, or 1:05, "
                            "or 1:02:03)") from None
    return StyleChange(at, style.strip())


def is_ready_stylizer(style) -> bool:
    """Whether ``style`` is a ready stylizer (a :class:`~vidstyle.stylizer.Stylizer`, or anything
    with ``stylize_batch``), used as it is."""
    return hasattr(style, "stylize_batch")


def _key(style) -> str:
    """One name per style spec (the same spec twice is one network; a ready stylizer is itself)."""
    return f"<stylizer {id(style)}>" if is_ready_stylizer(style) else str(style).strip()


def _name(style) -> str:
    """A style as the summary names it."""
    if is_ready_stylizer(style):
        path = getattr(getattr(style, "choice", None), "path", None)
        return Path(path).stem if path is not None else type(style).__name__
    from vidstyle.models.zoo import bundled_files

    # a bundled multi-style file comes as its path inside the installed package (Styles.LIGHT_MIX):
    # its name says which it is
    if Path(style) in bundled_files():
        return Path(style).stem
    return str(style)


class StyleTimeline:
    """Which style paints each moment of a video.

    Args:
        changes: (seconds, style spec) pairs or :class:`StyleChange` entries; the first at 0 s
            (the style the video starts in), each later one where the next style takes over.
            Times are on the input's clock (as ``start`` counts them); order does not matter, but
            two at one time are an error.
        crossfade: seconds each change dissolves over, centred on its time; 0 cuts.
    """

    def __init__(self, changes: TimelineEntries, crossfade: float = DEFAULT_CROSSFADE):
        if isinstance(changes, (str, os.PathLike)) or not isinstance(changes, Sequence):
            raise BadTypeError(f"a style timeline is a list of (seconds, style) pairs, got {type(changes).__name__}")
        entries = []
        for change in changes:
            if not isinstance(change, StyleChange):
                if not (isinstance(change, (tuple, list)) and len(change) == 2):
                    raise BadTypeError(f"a style timeline entry is a (seconds, style) pair, got {change!r}")
                change = StyleChange(*change)
            # a wrong kind ("12.5", None) is a TypeError, a number out of range a ValueError
            check_number("a style change's time", change.at, "a number of seconds >= 0", lambda v: v >= 0,
                         optional=False)
            if isinstance(change.style, Styles):  # as --style-at takes it (and labels show it)
                change = StyleChange(change.at, change.style.value.spec)
            if not (isinstance(change.style, (str, os.PathLike)) or is_ready_stylizer(change.style)):
                # None or a number failed only when the run loaded its styles
                raise BadTypeError(f"a style change's style is a style spec (a bundled name, a .safetensors "
                                   f"path, mix:..., 'none' or a Styles entry) or a Stylizer, got {change.style!r}")
            entries.append(StyleChange(float(change.at), change.style))
        if not entries:
            raise VidstyleError("a style timeline needs at least one style")
        entries.sort(key=lambda c: c.at)
        if entries[0].at != 0:
            raise VidstyleError(f"a style timeline starts at 0 s with the style the video begins in; its first "
                                f"entry is at {entries[0].at:g} s")
        for a, b in zip(entries, entries[1:]):
            if a.at == b.at:
                raise VidstyleError(f"two styles change in at {a.at:g} s ({a.style} and {b.style})")
        check_number("crossfade", crossfade, "a number of seconds >= 0", lambda v: v >= 0, optional=False)
        self.changes: tuple[StyleChange, ...] = tuple(entries)
        self.crossfade = float(crossfade)
        self.begin = 0.0  # where the output begins on the input's clock (starting_at)
        times = [c.at for c in entries]
        # half of each change's dissolve: at most half the gap to the changes either side, so no two
        # overlap; the first change's may reach back to the start, which has no dissolve to overlap
        # (as a --start segment's may: starting_at)
        self._half = [0.0] + [min(self.crossfade / 2, (t - times[i]) / (2 if i else 1),
                                  (times[i + 2] - t) / 2 if i + 2 < len(times) else math.inf)
                              for i, t in enumerate(times[1:])]

    def starting_at(self, begin: float) -> "StyleTimeline":
        """This timeline for a segment that begins at ``begin`` seconds (``--start``): no dissolve
        reaches across the beginning, so the output opens in one style, as the video's start
        does (a change at ``begin`` is a cut there)."""
        segment = StyleTimeline(self.changes, self.crossfade)
        segment.begin = float(begin)
        segment._half = [min(h, abs(c.at - begin)) if i else h
                         for i, (c, h) in enumerate(zip(self.changes, self._half))]
        return segment

    def dissolve_begins(self, i: int) -> float:
        """The moment :attr:`changes`' entry ``i`` begins to show (seconds on the input's clock):
        where its dissolve begins, its time when it cuts."""
        return self.changes[i].at - self._half[i]

    def weights_at(self, t: float) -> tuple[tuple[int, float], ...]:
        """The styles painting the moment ``t`` (seconds on the input's clock): ``((i, 1.0),)``
        for :attr:`changes`' entry ``i`` alone, ``((i - 1, 1 - w), (i, w))`` inside entry ``i``'s
        dissolve (``w`` rising linearly from 0 to 1 across it)."""
        for i in range(1, len(self.changes)):
            at, half = self.changes[i].at, self._half[i]
            if t < at - half:
                return ((i - 1, 1.0),)
            if t < at + half:
                w = (t - (at - half)) / (2 * half)
                if w <= 0 or w >= 1:  # the window's ends, up to rounding: one style alone
                    return ((i - 1, 1.0),) if w <= 0 else ((i, 1.0),)
                return ((i - 1, 1.0 - w), (i, w))
        return ((len(self.changes) - 1, 1.0),)

    def check_styles(self) -> None:
        """A VidstyleError for a style that does not resolve (a misspelt name, a missing file), or
        a timeline of :data:`NO_STYLE` alone."""
        from vidstyle.models.zoo import resolve_style

        keys = [_key(c.style) for c in self.changes]
        if all(k == NO_STYLE for k in keys):
            raise VidstyleError(f"a style timeline of {NO_STYLE!r} alone paints nothing: give a style")
        for change, key in zip(self.changes, keys):
            if key != NO_STYLE and not is_ready_stylizer(change.style):
                resolve_style(change.style)

    def style_name(self, i: int) -> str:
        """:attr:`changes`' entry ``i``'s style as the summary names it."""
        return _name(self.changes[i].style)

    def describe(self, end: float | None = None) -> str:
        """``starry_night, the_scream from 12.5 s (1 s dissolves)``; each change's own length
        when they differ (changes close together, or a segment's start, shorten a dissolve).

        A segment (:meth:`starting_at`) is described as written: from the style its first moment
        is painted in, the styles that ended before it left out (they are no part of the output;
        times stay on the input's clock). So are, with ``end`` (where a --duration segment ends
        on that clock), the changes that begin to show only from there: the parts of a longer
        timeline not written, of which no warning speaks either."""
        first = min(i for i, _ in self.weights_at(self.begin))
        stop = next((i for i in range(first + 1, len(self.changes))
                     if end is not None and self.dissolve_begins(i) >= end), len(self.changes))
        parts = [_name(self.changes[first].style)] + [f"{_name(c.style)} from {c.at:g} s"
                                                      for c in self.changes[first + 1:stop]]
        lengths = [2 * h for h in self._half[first + 1:stop]]
        if lengths and all(abs(length - self.crossfade) < 1e-9 for length in lengths):
            parts[-1] += f" ({self.crossfade:g} s dissolves)" if self.crossfade else " (cuts)"
        else:
            for i, length in enumerate(lengths, start=1):
                parts[i] += f" ({length:.3g} s dissolve)" if length > 1e-9 else " (cut)"
        return ", ".join(parts)


#: A run's style, as :func:`vidstyle.stylize_video`, ``stylize_image`` and ``stylize_files`` take it:
#: a style spec, a resolved :class:`~vidstyle.models.zoo.StyleChoice`, a ready stylizer, a
#: :class:`StyleTimeline` or its entries.
RunStyle = Union[StyleSpec, StyleChoice, ReadyStylizer, StyleTimeline, TimelineEntries]


class TimelineStylizer:
    """Paints each frame in its moment's style (:meth:`stylize_batch_at`): one stylizer per
    distinct style of ``timeline``, made once by ``make(spec)``.

    Frames inside a dissolve run through both styles' networks and are mixed in proportion; each
    network gets all of a batch's frames it paints in one call. Blends of one multi-style network
    (``mix:starry_night`` then ``mix:the_scream``) share that network when it runs eagerly
    (re-blended per call with ``set_mix``), and a dissolve between them blends the styles inside
    it, a morph from one to the other, instead of mixing two outputs. A still image
    (:meth:`stylize_batch`) is painted in the first style that paints."""

    def __init__(self, timeline: StyleTimeline, make: Callable[[str], object]):
        from vidstyle.models.zoo import resolve_style
        from vidstyle.stylizer import own_temporal_strength

        self.timeline = self._whole = timeline
        timeline.check_styles()  # before the first network loads
        keys = [_key(c.style) for c in timeline.changes]
        made: dict[str, object] = {}  # A -> B -> A loads A once
        blends: dict[str, object] = {}  # a multi-style file -> its one re-blendable stylizer
        mixes: list[tuple[str, tuple[float, ...]] | None] = []  # each change's (file, blend) when re-blendable
        for change, key in zip(timeline.changes, keys):
            mixes.append(None)
            if key == NO_STYLE or is_ready_stylizer(change.style):
                made.setdefault(key, _Unpainted() if key == NO_STYLE else change.style)
                continue
            choice = resolve_style(change.style)
            file = str(Path(choice.path).resolve()) if len(choice.info.styles) > 1 else None
            if key not in made:
                made[key] = blends[file] if file in blends else make(change.style)
                if file is not None and _reblends(made[key]):
                    blends.setdefault(file, made[key])
            if file in blends and made[key] is blends[file]:
                mixes[-1] = (file, tuple(choice.mix))
        # shared only where two blends of a file meet (one blend alone stays an ordinary network)
        shared = {f for f in blends if len({m for m in mixes if m is not None and m[0] == f}) > 1}
        self._mix_of = [m[1] if m is not None and m[0] in shared else None for m in mixes]
        self._painter_of = [made[k] for k in keys]
        self._blended = {id(blends[f]) for f in shared}
        self._own_strength = {id(p): own_temporal_strength(p) for p in made.values() if not isinstance(p, _Unpainted)}
        self.painted_until: float | None = None  # the latest moment painted (changes past it came after the end)
        self.shown: set[int] = set()  # the entries of the timeline some frame painted (changes between frames: not)
        self.painters = list({id(p): p for p in made.values()}.values())  # a shared network once
        #: the stylizers that paint (not NO_STYLE's stand-in): what sets the batch, the device...
        self.networks = [p for p in self.painters if not isinstance(p, _Unpainted)]

    #: How the networks run, read from the first one: all were made alike (a long run's backend
    #: may change for all, see Stylizer.expect_frames).
    _SHARED = ("device", "precision", "backend", "choice", "int8")

    def __getattr__(self, name):
        if name in self._SHARED:
            return getattr(self.networks[0], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def style_strength(self) -> float:
        return getattr(self.networks[0], "style_strength", 1.0)

    @property
    def keep_colors(self) -> bool:
        return getattr(self.networks[0], "keep_colors", False)

    def set_look(self, style_strength: float | None = None, keep_colors: bool | None = None) -> None:
        for p in self.networks:
            p.set_look(style_strength, keep_colors)

    @property
    def calibration_source(self):
        return getattr(self.networks[0], "calibration_source", None)

    def calibrate(self, images, source: str | None = None) -> None:
        for p in self.networks:
            p.calibrate(images, source=source)

    def expect_frames(self, frames: int | None) -> None:
        for p in self.networks:
            # a shared network stays eager: a compiled one would recompile at every new blend
            if hasattr(p, "expect_frames") and id(p) not in self._blended:
                p.expect_frames(frames)

    def start_at(self, begin: float | None) -> None:
        """Paint a segment that begins at ``begin`` (None: the whole video; see
        :meth:`StyleTimeline.starting_at`)."""
        self.timeline = self._whole if not begin else self._whole.starting_at(begin)

    def continuous(self, t0: float, t1: float) -> bool:
        """Whether the frame at ``t1`` shares a style with the one at ``t0``: False across a cut,
        where a stabilizer blending the old style's output into the new one's must start over."""
        # by the timeline's entries, not their networks: a cut between two blends of one shared
        # network, or from B back to an A loaded before, starts over too
        before = {i for i, _ in self.timeline.weights_at(t0)}
        return any(i in before for i, _ in self.timeline.weights_at(t1))

    def stylize_batch_at(self, images: Sequence[np.ndarray], times: Sequence[float]) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB images and their times (seconds on the input's clock) -> each
        painted in its moment's style, or the two styles' outputs mixed inside a dissolve."""
        if len(images) != len(times):
            raise BadValueError(f"{len(images)} images but {len(times)} times")
        if len(times):
            self.painted_until = max(self.painted_until or 0.0, max(times))
        frames = [self._contributions(t) for t in times]  # per frame: (painter, weight, blend or None)
        calls: dict[tuple, tuple] = {}  # (painter, blend) -> the frames it paints so, in one call
        for k, frame in enumerate(frames):
            for painter, _, mix in frame:
                calls.setdefault((id(painter), mix), (painter, mix, []))[2].append(k)
        painted: dict[tuple, np.ndarray] = {}  # (painter, blend, frame index) -> its output
        for (pid, mix), (painter, _, wanted) in calls.items():
            if mix is not None:
                _blend(painter, mix)
            for k, out in zip(wanted, painter.stylize_batch([images[k] for k in wanted])):
                painted[(pid, mix, k)] = out
        result = []
        for k, frame in enumerate(frames):
            outs = [(painted[(id(p), mix, k)], w) for p, w, mix in frame]
            if len(outs) == 1:
                result.append(outs[0][0])
                continue
            (a, wa), (b, wb) = outs  # a dissolve between two networks: their outputs mixed
            result.append(cv2.addWeighted(a, wa, b, wb, 0.0))
        return result

    def _contributions(self, t: float) -> list[tuple[object, float, tuple[float, ...] | None]]:
        """The networks painting the moment ``t``, each with its weight and, for a shared
        multi-style network, the blend it paints in (a dissolve between two of its blends is one
        blend in between, weighted alike)."""
        merged: dict[int, list] = {}
        for i, w in self.timeline.weights_at(t):
            self.shown.add(i)
            painter, mix = self._painter_of[i], self._mix_of[i]
            entry = merged.setdefault(id(painter), [painter, 0.0, None])
            entry[1] += w
            if mix is not None:
                entry[2] = [w * m for m in mix] if entry[2] is None else [a + w * m for a, m in zip(entry[2], mix)]
        return [(p, w, None if mix is None else tuple(round(m / w, 6) for m in mix)) for p, w, mix in merged.values()]

    def stylize_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """A still image: painted in the timeline's first style that paints (not :data:`NO_STYLE`)."""
        i = next(i for i, p in enumerate(self._painter_of) if not isinstance(p, _Unpainted))
        if self._mix_of[i] is not None:  # a shared network may hold another entry's blend by now
            _blend(self._painter_of[i], self._mix_of[i])
        return self._painter_of[i].stylize_batch(images)

    def _strength_of(self, painter, fixed: float | None = None) -> float:
        if isinstance(painter, _Unpainted):  # the input's own frames need no steadying
            return 0.0
        return fixed if fixed is not None else self._own_strength[id(painter)]

    def strengths_differ(self, fixed: float | None = None) -> bool:
        """Whether the stabilizer's strength changes along the timeline (then
        :meth:`temporal_strength_at` sets it frame by frame): the styles' own strengths differ, or
        ``fixed`` (the user's, for every style that paints) meets :data:`NO_STYLE`'s 0."""
        return len({self._strength_of(p, fixed) for p in self.painters}) > 1

    def temporal_strength_at(self, t: float, fixed: float | None = None) -> float:
        """The flow stabilizer's strength for the moment ``t``: each style's own (its zoo entry's),
        or ``fixed`` for every style that paints, and 0 for :data:`NO_STYLE`, mixed as the styles are."""
        return sum(w * self._strength_of(self._painter_of[i], fixed) for i, w in self.timeline.weights_at(t))


class _Unpainted:
    """The :data:`NO_STYLE` painter: each frame as it is (the same arrays: nothing downstream
    changes a stage's output in place)."""

    def stylize_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(images)


def _reblends(stylizer) -> bool:
    """Whether ``stylizer`` takes a new blend per call cheaply: eager PyTorch (ONNX Runtime and
    int8 networks hold their blend as a constant, rebuilt on every change)."""
    return hasattr(stylizer, "set_mix") and getattr(stylizer, "backend", None) == "torch" and \
        not getattr(stylizer, "int8", False)


def _blend(stylizer, mix: tuple[float, ...]) -> None:
    """Set ``stylizer``'s blend to ``mix`` unless it already paints it."""
    current = getattr(getattr(stylizer, "choice", None), "mix", None)
    if current is None or not np.allclose(current, mix, atol=1e-6):
        stylizer.set_mix(list(mix))
