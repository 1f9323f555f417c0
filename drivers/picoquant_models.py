"""The two PicoQuant TCSPC models behind their libraries: HydraHarp 400 (HHLib 3.0: reference clock,
calibration, CFD inputs) and TimeHarp 260 (TH260Lib 3.1: the P board's CFD inputs or the N board's edge
triggers). What both libraries share is ``tepl.drivers.picoquant.PicoQuantTcspc``.

Units: mV for discriminator levels (signed as each library takes them), ps for resolutions.
"""

from __future__ import annotations

from tepl.drivers.picoquant import PicoQuantTcspc, check_int
from tepl.drivers.picoquant_lib import (
    EDGE_FALLING,
    EDGE_RISING,
    HH_DISCR_RANGE_MV,
    HH_SPEC,
    HH_ZC_RANGE_MV,
    TH260_CFD_LEVEL_RANGE_MV,
    TH260_CFD_ZC_RANGE_MV,
    TH260_MODEL_NANO,
    TH260_SPEC,
    TH260_TRIGGER_LEVEL_RANGE_MV,
)

EDGES = {"rising": EDGE_RISING, "falling": EDGE_FALLING}


class HydraHarp(PicoQuantTcspc):
    """HydraHarp 400 through HHLib 3.0: 1 ps base resolution, up to 8 CFD inputs, USB."""

    spec = HH_SPEC
    cfd_level_range_mV = HH_DISCR_RANGE_MV  # HH_SetSyncCFD / HH_SetInputCFD: level 0..1000 mV
    cfd_zero_cross_range_mV = HH_ZC_RANGE_MV  # zero cross 0..40 mV

    reference = "internal"  # 10 MHz reference clock: "internal" or "external"

    def _initialize(self, mode_code: int) -> None:
        self._call("Initialize", mode_code, {"internal": 0, "external": 1}[self.reference])

    def initialize(self, mode: str, reference: str = "internal") -> None:
        """``HH_Initialize`` into "hist", "t2" or "t3" with the internal or an external 10 MHz reference."""
        if reference not in ("internal", "external"):
            raise ValueError(f"reference clock {reference!r} must be 'internal' or 'external'")
        self.reference = reference
        super().initialize(mode)

    def calibrate(self) -> None:
        """``HH_Calibrate`` (after Initialize, before measuring)."""
        self._call("Calibrate")

    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        self.set_sync_cfd_mV(level_mV, zero_cross_mV)

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        self.set_input_cfd_mV(channel, level_mV, zero_cross_mV)

    def record_type_prefix(self) -> str:
        return "HydraHarp2"  # HHLib 3.0 writes version-2 records


class TimeHarp260(PicoQuantTcspc):
    """TimeHarp 260 through TH260Lib 3.1: the P (25 ps, CFD inputs) or N (250 ps, edge triggers) board, PCIe.

    Levels are signed as the library takes them: the P board's CFD works on negative pulses (level
    -1200..0 mV, zero cross -40..0 mV), the N board triggers at -1200..1200 mV on a rising or falling edge.
    """

    spec = TH260_SPEC
    cfd_level_range_mV = TH260_CFD_LEVEL_RANGE_MV  # TH260_SetSyncCFD / _SetInputCFD (P board): -1200..0 mV
    cfd_zero_cross_range_mV = TH260_CFD_ZC_RANGE_MV  # zero cross -40..0 mV

    def set_sync_edge_trigger_mV(self, level_mV: int, edge: str = "falling") -> None:
        """``TH260_SetSyncEdgeTrg`` (N board): level -1200..1200 mV, "rising" or "falling" edge."""
        self._call("SetSyncEdgeTrg",
                   check_int(level_mV, *TH260_TRIGGER_LEVEL_RANGE_MV, "sync trigger level", "mV"),
                   self._edge(edge))

    def set_input_edge_trigger_mV(self, channel: int, level_mV: int, edge: str = "falling") -> None:
        """``TH260_SetInputEdgeTrg`` (N board): level -1200..1200 mV, "rising" or "falling" edge."""
        self._call("SetInputEdgeTrg", self._check_channel(channel),
                   check_int(level_mV, *TH260_TRIGGER_LEVEL_RANGE_MV, f"input {channel} trigger level", "mV"),
                   self._edge(edge))

    @staticmethod
    def _edge(edge: str) -> int:
        if edge not in EDGES:
            raise ValueError(f"trigger edge {edge!r} must be 'rising' or 'falling'")
        return EDGES[edge]

    def is_nano(self) -> bool:
        """True for the N board (edge triggers, 250 ps), from GetHardwareInfo's model name."""
        return (self.model or self.hardware_info()["model"]) == TH260_MODEL_NANO

    def set_sync_discriminator(self, level_mV: float, zero_cross_mV: float) -> None:
        if self.is_nano():
            self.set_sync_edge_trigger_mV(-round(level_mV), "falling")
        else:
            self.set_sync_cfd_mV(-round(level_mV), -round(zero_cross_mV))

    def set_input_discriminator(self, channel: int, level_mV: float, zero_cross_mV: float) -> None:
        if self.is_nano():
            self.set_input_edge_trigger_mV(channel, -round(level_mV), "falling")
        else:
            self.set_input_cfd_mV(channel, -round(level_mV), -round(zero_cross_mV))

    def record_type_prefix(self) -> str:
        return "TimeHarp260N" if self.is_nano() else "TimeHarp260P"
