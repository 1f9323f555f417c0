"""The single-QD survey of ``tepl demo`` (HBT rig, paper 003): a confocal raster of single quantum dots on
glass, the dots found in it and the brightest of them, the one g2 and the blinking trace are measured on.

The map the dots are found in is the drift-corrected sum of the scans divided, pixel by pixel, by the number of
scans that reached the pixel (``tepl.analysis.drift.mean_per_scan``), summed over the SPAD channels (both
look at the same band through the HBT splitter). The dots are point emitters: their image is the rig's
confocal spot, ``SPOT_FWHM_NM``, narrower than the survey's pixels, so a dot can fill one pixel or share its
light among four; the spot finder is told the spot (``find_spots(spot_fwhm_nm=...)``), keeps one-pixel dots,
and fits each with a Gaussian no narrower than the spot, whose height is the dot's brightness wherever the dot
sits in its pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tepl.data.runfile import read_run

SPOT_FWHM_NM = 204.0
"""Confocal image of a point emitter on the HBT rig, nm: 561 nm excitation focused to 277 nm FWHM times the
300 nm collection spot of the NA 1.35 objective (Gaussians: 1/FWHM² adds)."""
CLOSE_CALL = 0.05
"""A second dot within this fraction of the brightest one's height is named with it: one survey's blinking
cannot tell them apart."""
MIN_SEPARATION_NM = 500.0  # maxima closer than this (2.5 spot widths) are one dot; the dip test splits the rest


@dataclass(frozen=True)
class QdSurvey:
    """The dots a single-QD raster found, brightest first (``tepl.analysis.spot_fit.Spot``, stage nm)."""

    dots: list

    @property
    def brightest(self):
        return self.dots[0] if self.dots else None

    def summary(self) -> str:
        """The line the demo prints."""
        if not self.dots:
            return "   no single QDs found"
        b = self.brightest
        line = (f"   {len(self.dots)} QDs; the brightest at ({b.x_nm / 1000.0:.2f}, {b.y_nm / 1000.0:.2f}) µm, "
                f"{b.amplitude:.0f} counts per pixel above the background")
        if len(self.dots) > 1 and self.dots[1].amplitude > (1.0 - CLOSE_CALL) * b.amplitude:
            n = self.dots[1]
            line += (f" (the next, at ({n.x_nm / 1000.0:.2f}, {n.y_nm / 1000.0:.2f}) µm, is within "
                     f"{100.0 * (1.0 - n.amplitude / b.amplitude):.0f} %: as bright, given the blinking)")
        return line


def qd_map(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts per scan summed over channels [y, x], x_nm, y_nm) of a confocal raster file."""
    from tepl.analysis.drift import mean_per_scan
    from tepl.analysis.spots import map_axes_nm

    run = read_run(path)
    per_scan = mean_per_scan(run.data["counts_sum"], run.data["scans_summed"])
    return per_scan.sum(axis=0), *map_axes_nm(run.data)


def find_qds(path: Path, spot_fwhm_nm: float = SPOT_FWHM_NM) -> QdSurvey:
    """The single dots of a confocal raster file, brightest (fitted peak height) first."""
    from tepl.analysis.spots import find_spots

    image, x_nm, y_nm = qd_map(path)
    spots = find_spots(image, x_nm, y_nm, min_separation_nm=MIN_SEPARATION_NM, spot_fwhm_nm=spot_fwhm_nm)
    return QdSurvey(sorted(spots, key=lambda s: -s.amplitude))


SURVEY = {"size_um": 10.0, "pixel_um": 0.15, "dwell_s": 0.05}
"""The demo's survey of the single-QD sample: the 10 µm field at 150 nm pixels (under the spot's FWHM, so
every dot, wherever it sits, lights pixels over several lines and a blink cannot hide it) and 50 ms per pixel
(the dimmest dots of the sample stand well clear of the in-band background)."""


def survey_qds(station, path: Path, size_um: float = SURVEY["size_um"], pixel_um: float = SURVEY["pixel_um"],
               dwell_s: float = SURVEY["dwell_s"], x_um: float = 50.0, y_um: float = 50.0) -> QdSurvey:
    """A confocal raster of ``size_um`` square centred at (``x_um``, ``y_um``) into ``path``, and the dots in
    it."""
    from tepl.procedures import run_procedure

    run_procedure("confocal-raster", station, path, overwrite=True, size_x_um=size_um, size_y_um=size_um,
                  pixel_um=pixel_um, dwell_s=dwell_s, center_x_um=x_um, center_y_um=y_um)
    return find_qds(path)
