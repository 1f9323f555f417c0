"""The shutter-role contract for the calibration lamps the station can build."""

import pytest

from tepl.drivers.manual_lamp import ManualLamp
from tepl.sims.lamp import SimLamp
from tepl.sims.world import World
from tests.contracts.roles import ShutterContract
from tests.standins import BandSample


class TestSimLamp(ShutterContract):
    @pytest.fixture
    def world(self):
        return World(sample=BandSample())

    @pytest.fixture
    def shutter(self, world):
        return SimLamp(world)

    def test_lamp_lights_the_world(self, shutter, world):
        shutter.open()
        assert world.lamp_on
        shutter.shut()
        assert not world.lamp_on


class TestManualLamp(ShutterContract):
    @pytest.fixture
    def shutter(self):
        return ManualLamp(confirm=lambda message: True)

    def test_refused_without_the_operator(self):
        from tepl.roles import DeviceError

        lamp = ManualLamp(confirm=lambda message: False)
        with pytest.raises(DeviceError, match="did not confirm"):
            lamp.open()
        assert not lamp.is_open()
