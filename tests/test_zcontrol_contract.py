"""The ZController contract run against R9ZController: in-process on simulated time, and over loopback
TCP to the served R9 simulator on a real-time World."""

from __future__ import annotations

import time

import pytest

from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_socket import R9Socket
from tepl.drivers.rhk_r9_zcontrol import R9ZController
from tepl.roles import Range
from tepl.sims.rhk_r9 import R9Controller, R9InProcess, serve
from tepl.sims.world import World
from tests.contracts.roles import ZControllerContract
from tests.standins import BumpSample

Z_RANGE_NM = Range(0.0, 2000.0, "nm")


class TestR9ZControllerInProcess(ZControllerContract):
    @pytest.fixture
    def world(self) -> World:
        return World(sample=BumpSample())

    @pytest.fixture
    def zcontrol(self, world) -> R9ZController:
        r9 = R9(R9InProcess(R9Controller(world)))
        return R9ZController(r9, Z_RANGE_NM, sleep=world.clock.advance)


class TestR9ZControllerOverTcp(ZControllerContract):
    @pytest.fixture
    def world(self) -> World:
        return World(sample=BumpSample(), real_time=True)

    @pytest.fixture
    def zcontrol(self, world):
        with serve(world, 0) as server:
            transport = R9Socket(*server.address, timeout_s=2.0)
            try:
                yield R9ZController(R9(transport), Z_RANGE_NM, sleep=time.sleep, settle_s=0.01)
            finally:
                transport.close()


class TestR9ZControllerOnTeplSample(ZControllerContract):
    """The same contract over the project's perovskite-dot sample (rough Au, dots, drift)."""

    @pytest.fixture
    def world(self) -> World:
        return World(seed=3)

    @pytest.fixture
    def zcontrol(self, world) -> R9ZController:
        r9 = R9(R9InProcess(R9Controller(world)))
        return R9ZController(r9, Z_RANGE_NM, sleep=world.clock.advance)
