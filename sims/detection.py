"""The detection path of a confocal rig: splitter, band-pass filters and single-photon avalanche diodes.

``DetectionPath.detect`` turns the photons leaving the objective (times ps, wavelengths nm) into detector
clicks (times ps, 0-based channel), in this order:

1. routing: behind a dichroic each photon goes to the first channel whose band [low, high) holds its
   wavelength (none: lost); behind a 50/50 splitter it goes to a random channel and then passes that
   channel's band-pass or is lost;
2. detection efficiency: each photon clicks with probability ``efficiency``;
3. timing jitter: a Gaussian of ``jitter_fwhm_ps`` plus, for a small share of clicks
   (``DIFFUSION_TAIL_FRACTION``), an exponential diffusion tail of mean ``DIFFUSION_TAIL_PS``;
4. dark counts: Poisson, uniform over [t0, t1);
5. dead time (non-paralysable): a click within ``dead_time_ns`` of the previous registered click of its
   channel is lost; the last click of every channel is carried across calls (a call for an interval before
   that click, e.g. a rate meter looking back, starts without it);
6. afterpulses: each registered click is followed, with ``afterpulse_probability``, by a spurious click
   ``dead_time + Exp(AFTERPULSE_MEAN_DELAY_NS)`` later (itself subject to the dead time).

Clicks that jitter or afterpulsing push past t1 are kept and delivered by the next call when it continues
at t1, so consecutive calls give one sorted stream with every click inside its own interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tepl.sims.photons import FWHM_PER_SIGMA, PS_PER_S

DIFFUSION_TAIL_FRACTION = 0.03  # share of SPAD clicks delayed by carrier diffusion
DIFFUSION_TAIL_PS = 250.0  # mean extra delay of those clicks
AFTERPULSE_MEAN_DELAY_NS = 200.0  # mean delay of an afterpulse after the dead time
SPLITTERS = ("dichroic", "50-50")


@dataclass(frozen=True)
class DetectorChannel:
    """One SPAD behind its band-pass. Band nm [low, high); efficiency 0..1 (filter x detector); dark counts
    per s; dead time ns; timing jitter FWHM ps (Gaussian core plus a small diffusion tail); afterpulse
    probability per click."""

    name: str
    band_nm: tuple[float, float]
    efficiency: float = 1.0
    dark_counts_per_s: float = 100.0
    dead_time_ns: float = 22.0
    jitter_fwhm_ps: float = 350.0
    afterpulse_probability: float = 0.0

    def __post_init__(self) -> None:
        band = tuple(float(v) for v in self.band_nm)
        if len(band) != 2 or not (0 <= band[0] < band[1]):
            raise ValueError(f"detector channel {self.name!r}: band_nm must be (low, high) with 0 <= low < high, "
                             f"got {self.band_nm} nm")
        object.__setattr__(self, "band_nm", band)
        checks = [("efficiency", self.efficiency, 0.0, 1.0, ""), ("dark_counts_per_s", self.dark_counts_per_s,
                  0.0, math.inf, " /s"), ("dead_time_ns", self.dead_time_ns, 0.0, math.inf, " ns"),
                  ("jitter_fwhm_ps", self.jitter_fwhm_ps, 0.0, math.inf, " ps"),
                  ("afterpulse_probability", self.afterpulse_probability, 0.0, 0.999, "")]
        for field, value, low, high, unit in checks:
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"detector channel {self.name!r}: {field} must lie in [{low}, {high}], "
                                 f"got {value}{unit}")

    def describe(self) -> dict:
        d = asdict(self)
        d["band_nm"] = np.asarray(self.band_nm, float)
        return d


def dead_time_filter(time_ps: np.ndarray, dead_ps: int, last_ps: int) -> np.ndarray:
    """Mask of the clicks a non-paralysable detector registers from sorted candidate times ``time_ps``,
    given its last registered click at ``last_ps``. Vectorised over runs of closely spaced candidates:
    a candidate more than ``dead_ps`` after its predecessor is always registered, and the others are
    decided together, one position along their run per pass."""
    n = time_ps.size
    if n == 0 or dead_ps <= 0:
        return np.ones(n, bool)
    prev = np.empty(n, np.int64)
    prev[0] = last_ps
    prev[1:] = time_ps[:-1]
    keep = time_ps - prev >= dead_ps
    undecided = np.flatnonzero(~keep)
    if undecided.size == 0:
        return keep
    # last registered time before each undecided candidate; position 0 refers to the carried click
    decided = np.ones(n, bool)
    decided[undecided] = False
    last_kept = np.full(n, np.iinfo(np.int64).min // 2, np.int64)
    kept_idx = np.flatnonzero(keep)
    last_kept[kept_idx] = time_ps[kept_idx]
    if undecided[0] == 0:
        # the first candidate falls in the dead time of the carried click: lost
        decided[0] = True
        last_kept[0] = last_ps
        undecided = undecided[1:]
    while undecided.size:
        ready = decided[undecided - 1]
        idx = undecided[ready]
        reference = last_kept[idx - 1]
        registered = time_ps[idx] - reference >= dead_ps
        keep[idx] = registered
        last_kept[idx] = np.where(registered, time_ps[idx], reference)
        decided[idx] = True
        undecided = undecided[~ready]
    return keep


class DetectionPath:
    """Splitter (``"dichroic"`` routes by wavelength, ``"50-50"`` is a Hanbury Brown-Twiss splitter) and one
    ``DetectorChannel`` per SPAD; channel numbers are the 0-based list positions."""

    def __init__(self, channels: list[DetectorChannel], splitter: str = "dichroic"):
        channels = list(channels)
        if not channels:
            raise ValueError("a detection path needs at least one detector channel")
        if len(channels) > 127:
            raise ValueError(f"at most 127 detector channels, got {len(channels)}")
        if not all(isinstance(c, DetectorChannel) for c in channels):
            raise TypeError("channels must be DetectorChannel objects")
        if splitter not in SPLITTERS:
            raise ValueError(f"splitter must be one of {SPLITTERS}, got {splitter!r}")
        self.channels = channels
        self.splitter = splitter
        n = len(channels)
        self._low = np.array([c.band_nm[0] for c in channels])
        self._high = np.array([c.band_nm[1] for c in channels])
        self._efficiency = np.array([c.efficiency for c in channels])
        self._sigma_ps = np.array([c.jitter_fwhm_ps / FWHM_PER_SIGMA for c in channels])
        self._dead_ps = [round(c.dead_time_ns * 1e3) for c in channels]
        self._last_click_ps = [np.iinfo(np.int64).min // 2] * n
        self._pending: list[np.ndarray] = [np.zeros(0, np.int64) for _ in range(n)]
        self._end_ps: int | None = None

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def reset(self) -> None:
        """Forget the detectors' history (last clicks, clicks pending for the next interval)."""
        n = self.n_channels
        self._last_click_ps = [np.iinfo(np.int64).min // 2] * n
        self._pending = [np.zeros(0, np.int64) for _ in range(n)]
        self._end_ps = None

    # ------------------------------------------------------------------ routing
    def route(self, wavelength_nm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Channel each photon reaches (int64, -1 = blocked by every filter)."""
        wl = np.asarray(wavelength_nm, float)
        if self.splitter == "dichroic":
            channel = np.full(wl.shape, -1, np.int64)
            for i in range(self.n_channels - 1, -1, -1):  # the first matching channel wins
                channel[(wl >= self._low[i]) & (wl < self._high[i])] = i
            return channel
        channel = rng.integers(0, self.n_channels, wl.size, dtype=np.int8).astype(np.int64)
        passes = (wl >= self._low[channel]) & (wl < self._high[channel])
        return np.where(passes, channel, -1)

    # ------------------------------------------------------------------ clicks
    def detect(self, time_ps: np.ndarray, wavelength_nm: np.ndarray, t0_s: float, t1_s: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Collected photons -> clicks in [t0_s, t1_s): (time_ps int64 sorted, channel int8 0-based)."""
        time_ps = np.asarray(time_ps, np.int64)
        wavelength_nm = np.asarray(wavelength_nm)
        if time_ps.shape != wavelength_nm.shape or time_ps.ndim != 1:
            raise ValueError(f"time_ps and wavelength_nm must be 1-D of one length, got shapes {time_ps.shape} "
                             f"and {wavelength_nm.shape}")
        if not (math.isfinite(t0_s) and math.isfinite(t1_s)) or t1_s < t0_s:
            raise ValueError(f"detection interval must have t0 <= t1, got [{t0_s}, {t1_s}) s")
        a, b = round(t0_s * PS_PER_S), round(t1_s * PS_PER_S)
        if self._end_ps is not None and self._end_ps != a:
            self._pending = [np.zeros(0, np.int64) for _ in range(self.n_channels)]
        self._end_ps = b

        channel = self.route(wavelength_nm, rng)
        efficiency = np.append(self._efficiency, 0.0)  # index -1: blocked by every filter
        hit = rng.random(channel.size) < efficiency[channel]
        t = time_ps[hit]
        ch = channel[hit]
        jitter = rng.standard_normal(t.size) * self._sigma_ps[ch]
        tail = np.flatnonzero(rng.random(t.size) < DIFFUSION_TAIL_FRACTION)
        jitter[tail] += rng.standard_exponential(tail.size) * DIFFUSION_TAIL_PS
        t += np.rint(jitter).astype(np.int64)

        out_t: list[np.ndarray] = []
        out_ch: list[np.ndarray] = []
        for i, spad in enumerate(self.channels):
            n_dark = rng.poisson(spad.dark_counts_per_s * (b - a) / PS_PER_S) if b > a else 0
            mine = t[ch == i] if self.n_channels > 1 else t
            cand = np.concatenate([mine, rng.integers(a, max(b, a + 1), n_dark), self._pending[i]])
            clicks = self._register(i, cand, a, b, rng)
            out_t.append(clicks)
            out_ch.append(np.full(clicks.size, i, np.int8))
        times = np.concatenate(out_t)
        chans = np.concatenate(out_ch)
        order = np.argsort(times, kind="stable")
        return times[order], chans[order]

    def _register(self, i: int, candidates: np.ndarray, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
        """Dead time and afterpulses for channel ``i``; candidates past ``b`` wait for the next interval."""
        spad = self.channels[i]
        dead = self._dead_ps[i]
        # a window earlier than the last one served (e.g. a rate meter looking back) ignores later history
        last = self._last_click_ps[i] if self._last_click_ps[i] < a else np.iinfo(np.int64).min // 2
        cand = np.sort(candidates)
        cand = cand[cand >= a]
        later = cand[cand >= b]
        cand = cand[cand < b]
        keep = dead_time_filter(cand, dead, last)
        clicks = cand[keep]
        if spad.afterpulse_probability > 0 and clicks.size:
            parents = clicks[rng.random(clicks.size) < spad.afterpulse_probability]
            after = parents + dead + np.rint(rng.standard_exponential(parents.size)
                                             * AFTERPULSE_MEAN_DELAY_NS * 1e3).astype(np.int64)
            later = np.concatenate([later, after[after >= b]])
            after = after[after < b]
            if after.size:
                merged = np.sort(np.concatenate([clicks, after]))
                clicks = merged[dead_time_filter(merged, dead, last)]
        self._pending[i] = later
        if clicks.size:
            self._last_click_ps[i] = max(self._last_click_ps[i], int(clicks[-1]))
        return clicks

    def describe(self) -> dict:
        return {"splitter": self.splitter, "n_channels": self.n_channels,
                "diffusion_tail_fraction": DIFFUSION_TAIL_FRACTION, "diffusion_tail_ps": DIFFUSION_TAIL_PS,
                "afterpulse_mean_delay_ns": AFTERPULSE_MEAN_DELAY_NS,
                "channels": {str(i): c.describe() for i, c in enumerate(self.channels)}}
