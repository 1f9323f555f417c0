"""The PhotonCounter role contract on the PicoQuant driver over its simulated libraries (HydraHarp 400 and
TimeHarp 260 P), with the photon stand-in World as ground truth."""

from __future__ import annotations

import pytest

from tepl.drivers.picoquant_counter import TcspcCounter
from tepl.drivers.picoquant_models import HydraHarp, TimeHarp260
from tepl.roles import Range
from tepl.sims.picoquant import SimHHLib, SimTH260Lib
from tests.contracts.roles import PhotonCounterContract
from tests.photon_standins import PhotonStandInWorld


@pytest.fixture
def world():
    return PhotonStandInWorld(rates_per_s=(60_000.0, 25_000.0), tau_ns=(2.5, 6.0), seed=21)


class TestHydraHarpCounter(PhotonCounterContract):
    @pytest.fixture
    def counter(self, world):
        # 16 ps bins: the 65536-bin histogram and the 32768-bin T3 window both span the 500 ns period
        return TcspcCounter(HydraHarp(SimHHLib(world)), sleep=world.clock.advance,
                            acquisition_s=Range(0.001, 60.0, "s"), binning=4)


class TestTimeHarp260PCounter(PhotonCounterContract):
    @pytest.fixture
    def counter(self, world):
        # 25 ps bins x 32768 = 819 ns: the whole period
        return TcspcCounter(TimeHarp260(SimTH260Lib(world, model="TimeHarp 260 P")), sleep=world.clock.advance,
                            acquisition_s=Range(0.001, 60.0, "s"), binning=0)
