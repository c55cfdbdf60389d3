"""HDR video (PQ / HDR10, and HLG as phones record it) turned into the SDR pictures (BT.709) that
the styles were trained on: tone mapping.

The networks learned from 8-bit SDR photographs. An HDR signal painted as it is coded looks flat
and pale to them (HLG keeps SDR's curve only below its reference white; PQ's code values are
another scale altogether), and an 8-bit output tagged HDR bands. So the frames are decoded at 16
bits and converted as ITU-R BT.2408 lays out: the signal to display light (PQ: its EOTF; HLG: the
inverse OETF, then the OOTF of a 1000 cd/m2 display), BT.2020 to BT.709 primaries (some cameras'
HLG has BT.709's already), HDR reference white (203 cd/m2) to SDR white, highlights above it rolled
off smoothly on luminance, a pixel whose channel would still pass white scaled down whole (so hues
stay), and the BT.1886 display gamma (2.4) undone. SDR content inside an HDR container (below the
knee, :data:`KNEE`) comes back as it was.
"""
from __future__ import annotations

import numpy as np

#: FFmpeg's transfer characteristics (AVCOL_TRC_*) of HDR signals
PQ, HLG = 16, 18
HDR_TRANSFERS = {PQ: "PQ", HLG: "HLG"}
#: cd/m2 of HDR reference (diffuse) white, which becomes SDR white (ITU-R BT.2408)
REFERENCE_WHITE = 203.0
#: cd/m2 of the display HLG is rendered for here (BT.2100's nominal peak; system gamma 1.2)
HLG_DISPLAY_PEAK = 1000.0
#: relative display light (reference white = 1) up to which the picture is left as it is; above,
#: highlights are compressed towards 1 (see :func:`tone_curve`)
KNEE = 0.75

# BT.2100 PQ (SMPTE ST 2084) constants
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
# BT.2100 HLG constants
_A, _B, _C = 0.17883277, 1 - 4 * 0.17883277, 0.5 - 0.17883277 * np.log(4 * 0.17883277)
#: linear BT.2020 RGB -> linear BT.709 RGB (ITU-R BT.2087)
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], np.float32)
_LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def pq_to_nits(signal: np.ndarray) -> np.ndarray:
    """PQ EOTF: non-linear signal in [0, 1] -> display light in cd/m2 (0 to 10000)."""
    p = np.power(np.clip(signal, 0.0, 1.0), 1 / _M2)
    return 10000.0 * np.power(np.maximum(p - _C1, 0.0) / (_C2 - _C3 * p), 1 / _M1)


def hlg_to_scene(signal: np.ndarray) -> np.ndarray:
    """HLG inverse OETF: non-linear signal in [0, 1] -> scene light in [0, 1]."""
    e = np.clip(np.asarray(signal, np.float64), 0.0, 1.0)
    return np.where(e <= 0.5, e * e / 3.0, (np.exp((e - _C) / _A) + _B) / 12.0)


def tone_curve(y: np.ndarray) -> np.ndarray:
    """Relative display luminance (1 = reference white, up to ~50 for PQ's 10000 cd/m2) -> SDR
    luminance in [0, 1]: the identity up to :data:`KNEE`, then an exponential shoulder that
    leaves it with the same slope (no visible kink) and approaches 1 (reference white lands at
    0.91, a 1000 cd/m2 highlight at 1)."""
    y = np.asarray(y, np.float32)
    over = np.maximum(y - KNEE, 0.0)
    return np.where(y <= KNEE, y, KNEE + (1 - KNEE) * (1 - np.exp(-over / (1 - KNEE)))).astype(np.float32)


class ToneMapper:
    """Converts RGB frames of an HDR ``transfer`` (:data:`PQ` or :data:`HLG`) with ``primaries``
    (FFmpeg's AVCOL_PRI_*: BT.2020, 9, as HDR video has, or BT.709, 1, as some cameras' HLG has),
    decoded from YUV to 16-bit RGB (FFmpeg's rgb48), into uint8 SDR BT.709 RGB.

    Per pixel: each channel to linear light (a table), the primaries to BT.709 (colours outside it
    clipped), then one factor from the luminance (a table: HLG's OOTF and the tone curve), made
    smaller where a channel would pass white, so a bright saturated colour keeps its hue instead
    of drifting towards yellow or white; then BT.1886's gamma (a table)."""

    #: steps of the lookup tables: 12 bits, finer than the 10 (or 12) the video has
    STEPS = 4096

    def __init__(self, transfer: int, primaries: int = 9):
        if transfer not in HDR_TRANSFERS:
            raise ValueError(f"not an HDR transfer: {transfer}")
        self.transfer = transfer
        self.primaries = 1 if primaries == 1 else 9  # anything else: HDR's own, BT.2020
        signal = np.linspace(0.0, 1.0, self.STEPS)
        if transfer == PQ:  # display light, relative to reference white
            self._linear = (pq_to_nits(signal) / REFERENCE_WHITE).astype(np.float32)
            self._top = 10000.0 / REFERENCE_WHITE
        else:  # scene light, in [0, 1]
            self._linear = hlg_to_scene(signal).astype(np.float32)
            self._top = 1.0
        self._matrix = BT2020_TO_BT709 if self.primaries == 9 else None
        # the factor each pixel's light is multiplied by, against its luminance Y (BT.709 weights,
        # after the primaries are converted: luminance does not change with them), indexed by
        # sqrt(Y / top) for fine steps in the shadows
        y = (np.linspace(0.0, 1.0, self.STEPS) ** 2 * self._top).astype(np.float64)
        if transfer == PQ:
            factor = tone_curve(y) / np.maximum(y, 1e-12)
            factor[0] = 1.0
        else:  # BT.2100 OOTF: display Yd = peak * Ys^1.2 (gamma 1.2 at 1000 cd/m2), then the curve
            yd = (HLG_DISPLAY_PEAK / REFERENCE_WHITE) * np.power(y, 1.2)
            factor = tone_curve(yd) / np.maximum(y, 1e-12)
            factor[0] = 0.0
        self._factor = factor.astype(np.float32)
        # the square root of relative SDR light in [0, 1] -> BT.1886 8-bit signal (gamma 2.4): steps
        # even in the square root are fine enough near black, where the gamma curve is steepest
        self._encode = np.round(255 * np.power(np.linspace(0.0, 1.0, self.STEPS), 2 / 2.4)).astype(np.uint8)

    @property
    def name(self) -> str:
        return HDR_TRANSFERS[self.transfer]

    def _steps(self, values: np.ndarray, top: float) -> np.ndarray:
        """Table indices of float32 ``values`` in [0, top], by their square root (rounded)."""
        import cv2

        steps = cv2.sqrt(values)
        steps *= float((self.STEPS - 1) / np.sqrt(top))  # a Python float: the arithmetic stays float32
        steps += 0.5
        np.minimum(steps, self.STEPS - 1, out=steps)
        return steps.astype(np.uint16)

    def __call__(self, rgb48: np.ndarray) -> np.ndarray:
        """uint16 (H, W, 3) RGB, HDR-coded -> uint8 (H, W, 3) BT.709 SDR RGB."""
        import cv2

        light = self._linear[rgb48 >> 4]  # float32 (H, W, 3): 16 -> 12 bits, to linear light
        if self._matrix is not None:
            light = cv2.transform(light, self._matrix)
            np.maximum(light, 0.0, out=light)  # colours outside BT.709: clipped, as FFmpeg's tonemap does
        y = cv2.transform(light, _LUMA_709[None, :])
        factor = self._factor[self._steps(y, self._top)]
        # no channel past white: the whole pixel is scaled down instead (its hue kept)
        peak = cv2.max(cv2.max(light[..., 0], light[..., 1]), light[..., 2])
        factor /= np.maximum(factor * peak, 1.0)
        light = cv2.multiply(light, cv2.merge([factor, factor, factor]), dst=light)
        return self._encode[self._steps(light, 1.0)]
