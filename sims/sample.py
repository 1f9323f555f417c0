"""The surface every simulated sample gives the World.

The samples (``TeplSample``, ``FilmSample``, ``ConfocalSample``, ``CryoSample`` and the tests' stand-ins)
derive from ``Sample``: the height of the single point under the tip apex (asked several times per scan pixel)
has its own call, which a sample may answer faster than the array one (``TeplSample`` remembers its last point).
"""

from __future__ import annotations

import numpy as np


class Sample:
    """Base of the simulated samples; coordinates in nm of the sample, heights in nm above the Au plane."""

    def topography_nm(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Height (nm) the tip apex rests on above each sample point (x, y)."""
        raise NotImplementedError

    def height_at_nm(self, x_nm: float, y_nm: float) -> float:
        """``topography_nm`` of the single point (x, y) nm, as a float."""
        return float(self.topography_nm(np.array([x_nm], float), np.array([y_nm], float))[0])
