"""What the Kymera's input slit and filter wheel do to the light on its way to the CCD.

Slit. The collected light forms a spot on the input slit, a Gaussian of ``SPOT_FWHM_UM`` (the ~0.45 µm
emission spot of the sample, magnified ~18x by the collection optics). The slit passes the part of it within
its width (``slit_throughput``): 0.97 at 15 µm, 0.86 at 10 µm, 1.0 from ~25 µm. The spectrograph images the
slit 1:1 onto the focal plane, so every wavelength lands as a strip as wide as the slit, blurred by the
imaging optics (``OPTICS_FWHM_UM``) and shared among the pixels it covers (``slit_kernel``). The spectra are
convolved with that kernel: wider slit, broader lines, same photons. Measured on the lamp's 763.5 nm line at
150 l/mm (0.52 nm per 26 µm pixel), FWHM: 2.1 px (1.1 nm) at 10-15 µm, 2.5 px at 50 µm, 3.8 px (2.0 nm) at
100 µm, 19 px (10 nm) at 500 µm.

The calibration lamp's lines enter as Gaussians 1.4 px wide (``LAMP_RENDER_PX``), the narrowest the World's
pixel-centre rendering keeps without aliasing on the pixel grid; the kernel then widens them like the rest.

Filter wheel. Six positions (SHAMROCK_FILTERMIN..MAX); ``KYMERA_FILTERS`` holds what each one is and how it
transmits (fraction vs wavelength).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from tepl.sims.tepl_memo import LastCall

SPOT_FWHM_UM = 8.0  # the light's spot on the input slit
OPTICS_FWHM_UM = 20.0  # imaging blur of the Czerny-Turner in the focal plane
LAMP_RENDER_PX = 1.4  # width (FWHM, pixels) the lamp's lines are rendered at before the slit kernel


@functools.lru_cache(maxsize=64)  # a few slit widths in a session, asked at every exposure
def slit_throughput(slit_width_um: float, spot_fwhm_um: float = SPOT_FWHM_UM) -> float:
    """Fraction of a Gaussian spot of ``spot_fwhm_um`` (centred) that passes a slit ``slit_width_um`` wide."""
    sigma = spot_fwhm_um / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    return float(erf(slit_width_um / (2.0 * math.sqrt(2.0) * sigma)))


def _integrated_box_gauss(x: np.ndarray, width: float, sigma: float) -> np.ndarray:
    """∫_{-inf}^{x} of (box of ``width`` and unit area) ⊗ Gaussian(``sigma``): a smooth step from 0 to 1."""

    def phi_integral(z: np.ndarray) -> np.ndarray:  # ∫ Φ(t/σ) dt = σ·(u Φ(u) + φ(u)), u = t/σ
        u = z / sigma
        return sigma * (u * 0.5 * (1.0 + erf(u / math.sqrt(2.0))) + np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi))

    return (phi_integral(x + width / 2.0) - phi_integral(x - width / 2.0)) / width


def _slit_kernel(slit_width_px: float, blur_fwhm_px: float) -> np.ndarray:
    """Share of the light of one wavelength that falls into pixel offset -h..h (odd length, sums to 1):
    the slit's image (``slit_width_px`` wide) blurred by a Gaussian of ``blur_fwhm_px``, integrated over
    each pixel."""
    sigma = max(blur_fwhm_px, 1e-3) / 2.3548
    width = max(slit_width_px, 1e-3)
    half = int(math.ceil(width / 2.0 + 5.0 * sigma + 1.0))
    edges = np.arange(-half, half + 2) - 0.5
    kernel = np.diff(_integrated_box_gauss(edges, width, sigma))
    return kernel / kernel.sum()


slit_kernel = LastCall(_slit_kernel)  # read-only; the same slit and pixels every exposure of a scan


def instrument_line_fwhm_px(slit_width_um: float, pixel_um: float) -> float:
    """FWHM (pixels) of the kernel for a slit of ``slit_width_um`` on pixels of ``pixel_um`` (interpolated)."""
    k = slit_kernel(slit_width_um / pixel_um, OPTICS_FWHM_UM / pixel_um)
    x = np.arange(k.size) - k.size // 2
    fine = np.linspace(x[0], x[-1], 20 * k.size)
    profile = np.interp(fine, x, k)
    above = fine[profile >= profile.max() / 2.0]
    return float(above[-1] - above[0]) if above.size else 0.0


def blur_spectrum(photons: np.ndarray, slit_width_um: float, pixel_um: float) -> np.ndarray:
    """Photons per pixel after the slit's image and the optics spread each wavelength (photons kept, except
    those spread past either end of the chip)."""
    kernel = slit_kernel(slit_width_um / pixel_um, OPTICS_FWHM_UM / pixel_um)
    return np.convolve(np.asarray(photons, float), kernel, mode="same")


@dataclass(frozen=True)
class Filter:
    """A filter-wheel position: its label (ShamrockGetFilterInfo) and transmission vs wavelength (nm)."""

    info: str
    transmission: Callable[[np.ndarray], np.ndarray]


def _long_pass(edge_nm: float, width_nm: float = 4.0, peak: float = 0.93) -> Callable[[np.ndarray], np.ndarray]:
    return lambda wl: peak * 0.5 * (1.0 + np.tanh((np.asarray(wl, float) - edge_nm) / width_nm))


def _flat(fraction: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda wl: np.full(np.shape(wl), fraction)


KYMERA_FILTERS: dict[int, Filter] = {
    1: Filter("Empty", _flat(1.0)),
    2: Filter("ND 0.5", _flat(10 ** -0.5)),
    3: Filter("ND 1.0", _flat(0.1)),
    4: Filter("LP 550", _long_pass(550.0)),
    5: Filter("LP 650", _long_pass(650.0)),
    6: Filter("Blank", _flat(0.0)),
}
_TRANSMISSIONS = {position: LastCall(f.transmission) for position, f in KYMERA_FILTERS.items()}


def filter_transmission(position: int, wavelength_nm: np.ndarray) -> np.ndarray:
    """Transmission (fraction, read-only) of filter-wheel ``position`` at each of ``wavelength_nm``."""
    return _TRANSMISSIONS[position](wavelength_nm)
