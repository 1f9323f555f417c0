"""The photon-counter role: a TCSPC unit with single-photon detectors (count rates, histograms, T2/T3)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.limits import LimitError, Range
from tepl.roles.base import Instrument
from tepl.units import si_text


@dataclass
class T2Block:
    """Photon time tags from T2 mode. ``time_ps`` (int64) counts from the start of the measurement;
    ``channel`` (int8) is the 0-based detector input. Sorted by time."""

    time_ps: np.ndarray
    channel: np.ndarray
    duration_s: float
    resolution_ps: float

    @property
    def n_photons(self) -> int:
        return int(self.time_ps.size)


@dataclass
class T3Block:
    """Photon records from T3 mode: ``sync`` (int64) is the laser pulse index since the start of the
    measurement, ``dtime`` (int16) the delay after that pulse in TCSPC bins of ``resolution_ps`` (0..32767:
    every PicoQuant T3 dtime field has at most 15 bits; widen it before integer arithmetic that can pass 32767,
    such as ``dtime * 25``), ``channel`` (int8) the 0-based detector input."""

    sync: np.ndarray
    dtime: np.ndarray
    channel: np.ndarray
    duration_s: float
    resolution_ps: float
    sync_period_ps: float

    @property
    def n_photons(self) -> int:
        return int(self.sync.size)


class PhotonCounter(Instrument, abc.ABC):
    """A TCSPC unit with single-photon detectors on its inputs: count rates, histograms, T2 and T3 streams.

    Channels are the detector inputs, numbered from 0. Every acquisition time is checked against
    ``acquisition_s``; the count rate on every input is checked against ``max_count_rate_per_s`` before a
    measurement starts and on every block read, so a detector is never left in light brighter than its limit.
    """

    safe_group = "counting"

    def __init__(self, acquisition_s: Range, max_count_rate_per_s: float | None = None):
        self.acquisition_range_s = acquisition_s
        self.max_count_rate_per_s = max_count_rate_per_s
        self.on_over_limit: Callable[[], Any] | None = None  # the station's block_excitation: called first

    # ---- information ---------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def n_channels(self) -> int:
        """Number of detector inputs."""

    @abc.abstractmethod
    def count_rates(self) -> tuple[float, np.ndarray]:
        """(sync rate Hz, counts/s on every detector input)."""

    @abc.abstractmethod
    def resolution_ps(self) -> float:
        """TCSPC bin width in the present mode, ps."""

    def t2_resolution_ps(self) -> float:
        """The unit of T2 time tags, ps (a counter whose T2 unit differs from its binned histogram bin, such as
        a PicoQuant unit with binning, says so here)."""
        return self.resolution_ps()

    @abc.abstractmethod
    def sync_period_ps(self) -> float:
        """Laser period seen on the sync input, ps (inf when there is no sync signal)."""

    # ---- measurements --------------------------------------------------------------------------
    def check_count_rates(self, rates_per_s: np.ndarray | None = None) -> np.ndarray:
        """Raise LimitError when an input counts faster than the limit (reads the rates if not given)."""
        if rates_per_s is None:
            rates_per_s = self.count_rates()[1]
        rates = np.asarray(rates_per_s, float)
        if self.max_count_rate_per_s is not None:
            over = np.flatnonzero(rates > self.max_count_rate_per_s)
            if over.size:
                if self.on_over_limit is not None:  # the light goes first, then the error
                    self.on_over_limit()
                ch = int(over[0])
                limit = si_text(self.max_count_rate_per_s, "counts/s", 3)
                raise LimitError(f"detector channel {ch} counts {si_text(rates[ch], 'counts/s', 3)}, above the "
                                 f"limit limits.max_count_rate_per_s = {limit}")
        return rates

    def histograms(self, acquisition_s: float) -> np.ndarray:
        """Histogram mode: TCSPC decay histograms, shape (channel, bin), counts (int64)."""
        acquisition_s = self.acquisition_range_s.check(acquisition_s, "acquisition time")
        self.check_count_rates()
        return self._do_histograms(acquisition_s)

    def iter_t2(self, acquisition_s: float, block_s: float = 0.1):
        """T2 mode: yield T2Block pieces of about ``block_s`` until ``acquisition_s`` has passed."""
        return self._blocks("t2", acquisition_s, block_s)

    def iter_t3(self, acquisition_s: float, block_s: float = 0.1):
        """T3 mode: yield T3Block pieces of about ``block_s`` until ``acquisition_s`` has passed."""
        return self._blocks("t3", acquisition_s, block_s)

    def _blocks(self, mode: str, acquisition_s: float, block_s: float):
        """Check the time and the count rates, then (lazily) the measurement's blocks, each checked."""
        acquisition_s = self.acquisition_range_s.check(acquisition_s, "acquisition time")
        self.check_count_rates()
        return self._checked_blocks(mode, acquisition_s, block_s)

    def _checked_blocks(self, mode: str, acquisition_s: float, block_s: float):
        for block in self._do_iter(mode, acquisition_s, block_s):
            self._check_block(block)
            yield block

    def t2(self, acquisition_s: float) -> T2Block:
        """All T2 tags of one measurement, times from its start."""
        return _concat_t2(list(self.iter_t2(acquisition_s, block_s=max(0.1, acquisition_s / 20))), acquisition_s)

    def t3(self, acquisition_s: float) -> T3Block:
        """All T3 records of one measurement, pulse indices from its start."""
        return _concat_t3(list(self.iter_t3(acquisition_s, block_s=max(0.1, acquisition_s / 20))), acquisition_s)

    def _check_block(self, block: T2Block | T3Block) -> None:
        if self.max_count_rate_per_s is None or block.duration_s <= 0:
            return
        counts = np.bincount(block.channel.astype(np.int64), minlength=self.n_channels)[: self.n_channels]
        try:
            self.check_count_rates(counts / block.duration_s)
        except LimitError:
            self.stop()
            raise

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop any running measurement. Must be safe to call in any state, repeatedly."""

    def make_safe(self) -> str:
        self.stop()
        return "stopped"

    def status(self, name: str) -> dict[str, Any]:
        sync_per_s, rates_per_s = self.count_rates()
        return {"sync_rate_per_s": float(sync_per_s), "count_rates_per_s": [float(r) for r in rates_per_s]}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("sync_rate_per_s", "count_rates_per_s")

    @abc.abstractmethod
    def _do_histograms(self, acquisition_s: float) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_iter(self, mode: str, acquisition_s: float, block_s: float):
        """Yield T2Block (mode "t2") or T3Block (mode "t3") pieces, times counted from the measurement start."""

    def settings(self) -> dict:
        return {"acquisition_range_s": [self.acquisition_range_s.low, self.acquisition_range_s.high],
                "max_count_rate_per_s": self.max_count_rate_per_s}


def _concat_t2(blocks: list[T2Block], duration_s: float) -> T2Block:
    if not blocks:
        return T2Block(np.zeros(0, np.int64), np.zeros(0, np.int8), duration_s, 1.0)
    return T2Block(np.concatenate([b.time_ps for b in blocks]), np.concatenate([b.channel for b in blocks]),
                   duration_s, blocks[0].resolution_ps)


def _concat_t3(blocks: list[T3Block], duration_s: float) -> T3Block:
    if not blocks:
        return T3Block(np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0, np.int8), duration_s, 1.0,
                       float("inf"))
    return T3Block(np.concatenate([b.sync for b in blocks]), np.concatenate([b.dtime for b in blocks]),
                   np.concatenate([b.channel for b in blocks]), duration_s, blocks[0].resolution_ps,
                   blocks[0].sync_period_ps)
