"""The thermoelectric cooler of the simulated iDus 420 (``tepl.sims.andor_sdk2.SimSDK2``), as SDK2 functions
(``SDK2Cooling``, a part of ``SimSDK2``): setpoint (°C), on and off, and the sensor temperature with the
thermal status as ``GetTemperature``'s return code. The cooler itself (``tepl.sims.andor.CoolerModel``) is
integrated over ``world.clock`` time.
"""

from __future__ import annotations

from typing import Any

from tepl.sims.andor import CoolerModel
from tepl.sims.andor_sdk2_api import DRV_ACQUIRING, DRV_P1INVALID, DRV_SUCCESS, api, reports
from tepl.sims.c_args import set_out, val


class SDK2Cooling:
    """The SDK2 functions of the cooler (``cooler``)."""

    cooler: CoolerModel

    GetTemperatureRange = reports(lambda c: int(c.cooler.RANGE_C[0]), lambda c: int(c.cooler.RANGE_C[1]))  # °C

    @api()
    def SetTemperature(self, temperature_c: Any) -> int:
        t = int(val(temperature_c))
        if not self.cooler.RANGE_C[0] <= t <= self.cooler.RANGE_C[1]:
            return DRV_P1INVALID
        self.cooler.set_setpoint(t, self.world.clock.now())
        return DRV_SUCCESS

    @api()
    def CoolerON(self) -> int:
        self.cooler.switch(True, self.world.clock.now())
        return DRV_SUCCESS

    @api()
    def CoolerOFF(self) -> int:
        self.cooler.switch(False, self.world.clock.now())
        return DRV_SUCCESS

    IsCoolerOn = reports(lambda c: int(c.cooler.on))

    def _temperature(self, temperature_ref: Any, value: float) -> int:
        if self._busy():
            return DRV_ACQUIRING
        set_out(temperature_ref, value, 1)
        return self.cooler.status(self.world.clock.now())

    @api()
    def GetTemperature(self, temperature_ref: Any) -> int:
        """Writes the sensor temperature (whole °C); the return value is the thermal status."""
        return self._temperature(temperature_ref, int(round(self.cooler.temperature_c)))

    @api()
    def GetTemperatureF(self, temperature_ref: Any) -> int:
        """Writes the sensor temperature (°C, float); the return value is the thermal status."""
        return self._temperature(temperature_ref, self.cooler.temperature_c)
