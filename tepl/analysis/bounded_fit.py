"""One bounded nonlinear least-squares fit, the way the calibration and map fits run it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize


def bounded_least_squares(residual: Callable[[np.ndarray], np.ndarray], p0: Sequence[float],
                          lo: Sequence[float], hi: Sequence[float]) -> optimize.OptimizeResult | None:
    """``scipy.optimize.least_squares`` of ``residual`` from ``p0`` within the bounds ``lo``..``hi``, scaled by
    the Jacobian; None when it raises (ValueError, LinAlgError) or does not succeed."""
    try:
        result = optimize.least_squares(residual, np.array(p0), bounds=(lo, hi), x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not result.success:
        return None
    return result
