"""Small dense linear solves inside compiled kernels (the normal equations of the per-pixel fits)."""

from __future__ import annotations

import numpy as np

from tepl.kernels import jit


@jit
def solve(a, rhs, x):
    """x = a^-1 rhs by Gaussian elimination with partial pivoting (a and rhs are overwritten); False if singular.

    a: (n, n), rhs and x: (n,) float arrays, n = rhs.size (a fit's few parameters)."""
    n = rhs.size
    for col in range(n):
        piv = col
        best = abs(a[col, col])
        for r in range(col + 1, n):
            if abs(a[r, col]) > best:
                best, piv = abs(a[r, col]), r
        if best == 0.0 or not np.isfinite(best):
            return False
        if piv != col:
            for c in range(n):
                a[col, c], a[piv, c] = a[piv, c], a[col, c]
            rhs[col], rhs[piv] = rhs[piv], rhs[col]
        for r in range(col + 1, n):
            f = a[r, col] / a[col, col]
            for c in range(col, n):
                a[r, c] -= f * a[col, c]
            rhs[r] -= f * rhs[col]
    for r in range(n - 1, -1, -1):
        acc = rhs[r]
        for c in range(r + 1, n):
            acc -= a[r, c] * x[c]
        x[r] = acc / a[r, r]
    return True
