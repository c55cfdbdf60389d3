"""HDR video (PQ / HDR10, and HLG as phones record it) turned into the SDR pictures (BT.709) that
the styles were trained on: tone mapping.

The networks learned from 8-bit SDR photographs. An HDR signal painted as it is coded looks flat
and pale to them (HLG keeps SDR's curve only below its reference white; PQ's code values are
another scale altogether), and an 8-bit output tagged HDR bands. So the frames are decoded at 16
bits and converted as ITU-R BT.2408 lays out: the signal to display light (PQ: its EOTF; HLG: the
inverse OETF, then the OOTF of a 1000 cd/m2 display), BT.2020 to BT.709 primaries, HDR reference
white (203 cd/m2) to SDR white, highlights above it rolled off smoothly (luminance only, so hues
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
_LUMA_2020 = np.array([0.2627, 0.6780, 0.0593], np.float32)
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
    """Converts RGB frames of an HDR ``transfer`` (:data:`PQ` or :data:`HLG`), decoded from YUV
    with the BT.2020 matrix to 16-bit RGB (FFmpeg's rgb48), into uint8 SDR BT.709 RGB."""

    #: signal steps of the lookup tables: 12 bits, finer than the 10 (or 12) the video has
    STEPS = 4096

    def __init__(self, transfer: int):
        if transfer not in HDR_TRANSFERS:
            raise ValueError(f"not an HDR transfer: {transfer}")
        self.transfer = transfer
        signal = np.linspace(0.0, 1.0, self.STEPS)
        if transfer == PQ:  # display light, relative to reference white
            self._linear = (pq_to_nits(signal) / REFERENCE_WHITE).astype(np.float32)
        else:  # scene light; the OOTF, which depends on the pixel's luminance, comes in __call__
            self._linear = hlg_to_scene(signal).astype(np.float32)
        # the square root of relative SDR light in [0, 1] -> BT.1886 8-bit signal (gamma 2.4): steps
        # even in the square root are fine enough near black, where the gamma curve is steepest
        self._encode = np.round(255 * np.power(np.linspace(0.0, 1.0, self.STEPS), 2 / 2.4)).astype(np.uint8)

    @property
    def name(self) -> str:
        return HDR_TRANSFERS[self.transfer]

    def __call__(self, rgb48: np.ndarray) -> np.ndarray:
        """uint16 (H, W, 3) BT.2020 RGB, HDR-coded -> uint8 (H, W, 3) BT.709 SDR RGB."""
        import cv2

        index = (rgb48 >> 4).astype(np.uint16)  # 16 -> 12 bits (rgb48 spreads 10 bits over 16)
        light = self._linear[index]  # float32 (H, W, 3), linear BT.2020
        if self.transfer == HLG:
            # BT.2100 OOTF: display = peak * Ys^(gamma - 1) * scene, gamma 1.2 at 1000 cd/m2
            ys = cv2.transform(light, _LUMA_2020[None, :])
            gain = (HLG_DISPLAY_PEAK / REFERENCE_WHITE) * np.power(np.maximum(ys, 1e-12), 0.2)
            light *= gain[..., None] if gain.ndim == 2 else gain
        light = cv2.transform(light, BT2020_TO_BT709)
        np.maximum(light, 0.0, out=light)  # colours outside BT.709: clipped, as FFmpeg's tonemap does
        y = cv2.transform(light, _LUMA_709[None, :])
        y = y[..., 0] if y.ndim == 3 else y
        scale = tone_curve(y) / np.maximum(y, 1e-12)
        light *= scale[..., None]
        index = np.clip(cv2.sqrt(light) * (self.STEPS - 1) + 0.5, 0, self.STEPS - 1).astype(np.uint16)
        return self._encode[index]

