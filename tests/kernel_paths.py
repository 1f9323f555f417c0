"""Run a computation on both paths of ``tepl.kernels``: the compiled kernels and their numpy twins."""

from __future__ import annotations

from tepl import kernels


def both(fn):
    """(compiled result, numpy result) of ``fn()``; the module flag is restored afterwards."""
    saved = kernels.ENABLED
    try:
        kernels.ENABLED = True
        fast = fn()
        kernels.ENABLED = False
        slow = fn()
    finally:
        kernels.ENABLED = saved
    return fast, slow
