"""The ``tepl.roles.TemperatureController`` on a Lake Shore 335 / 336 (``lakeshore_336.LakeShore336``): it
checks ``*IDN?`` on connect, puts its output in closed-loop PID on its input the first time it is asked to
control, and waits with ``tepl.drivers.polling.Wait``; the role adaptation kept apart from the pymeasure
instrument class."""

from __future__ import annotations

import time
from collections.abc import Callable

from tepl.drivers.lakeshore_336 import HEATER_OUTPUTS, INPUTS, LakeShore336
from tepl.drivers.polling import Wait
from tepl.limits import Range
from tepl.roles import HEATER_RANGES, DeviceError, TemperatureController


class LakeShore336Controller(TemperatureController):
    """The temperature-controller role on a Lake Shore 335 / 336: ``output`` runs closed-loop PID on
    ``input``. ``sleep`` is how it waits between readings (``world.clock.advance`` on a simulated station)."""

    def __init__(self, controller: LakeShore336, setpoint_range_k: Range, input: str = "A", output: int = 1,
                 safe_heater: str = "off", sleep: Callable[[float], None] = time.sleep,
                 poll_interval_s: float = 1.0):
        super().__init__(setpoint_range_k, controller._input(input), controller._output(output, HEATER_OUTPUTS),
                         safe_heater, sleep, poll_interval_s)
        self.controller = controller
        self.identity = controller.idn
        fields = self.identity.split(",")
        if len(fields) < 4 or fields[0] != "LSCI" or fields[1] not in ("MODEL336", "MODEL335"):
            raise DeviceError(f"{self._where()}: *IDN? answered {self.identity!r}, not a Lake Shore 335 / 336")
        self._loop_checked = False

    def _where(self) -> str:
        return f"{self.controller.name} at {self.controller.address}"

    def _closed_loop(self, output: int) -> None:
        """Put the role's output in closed-loop PID on its input (once; other outputs are left alone)."""
        if output != self.output or self._loop_checked:
            return
        want = (1, INPUTS.index(self.input) + 1)
        if self.controller.output_mode(output)[:2] != want:
            self.controller.set_output_mode(output, 1, self.input)
        self._loop_checked = True

    def _do_temperature_k(self, input: str) -> float:
        return self.controller.kelvin(input)

    def _do_setpoint_k(self, output: int) -> float:
        return self.controller.setpoint(output)

    def _do_set_setpoint_k(self, output: int, kelvin: float) -> None:
        self._closed_loop(output)
        self.controller.set_setpoint(output, kelvin)

    def _do_heater_range(self, output: int) -> str:
        value = self.controller.heater_range(output)
        if value >= len(HEATER_RANGES):
            raise DeviceError(f"{self._where()}: RANGE? {output} answered {value}, not 0-3")
        return HEATER_RANGES[value]

    def _do_set_heater_range(self, output: int, name: str) -> None:
        self._closed_loop(output)
        self.controller.set_heater_range(output, HEATER_RANGES.index(name))

    def _do_heater_percent(self, output: int) -> float:
        return self.controller.heater_output(output)

    def _do_all_heaters_off(self) -> None:
        self.controller.all_heaters_off()

    def pid(self, output: int | None = None) -> tuple[float, float, float]:
        return self.controller.pid(self.output if output is None else output)

    def set_pid(self, p: float, i: float, d: float, output: int | None = None) -> None:
        self.controller.set_pid(self.output if output is None else output, p, i, d)

    def wait_stable(self, band_k: float, hold_s: float, timeout_s: float, input: str | None = None,
                    output: int | None = None, wall_timeout_s: float | None = None) -> float:
        if not (band_k > 0 and hold_s >= 0):
            raise ValueError(f"{self._where()}: band_k must be > 0 and hold_s >= 0, got {band_k!r}, {hold_s!r}")
        setpoint = self.setpoint_k(output)
        wait = Wait(self._where(), f"input {input or self.input} to hold {setpoint:g} ± {band_k:g} K for "
                    f"{hold_s:g} s", timeout_s, self._sleep, wall_timeout_s)
        inside_since: float | None = None
        while True:
            reading = self.temperature_k(input)
            if abs(reading - setpoint) <= band_k:
                inside_since = wait.waited_s if inside_since is None else inside_since
                if wait.waited_s - inside_since >= hold_s:
                    return reading
            else:
                inside_since = None
            wait.check(detail=f"last reading {reading:.4g} K")
            wait.pause(self.poll_interval_s)

    def settings(self) -> dict:
        p, i, d = self.pid()
        return {**super().settings(), "id": self.identity, "address": str(self.controller.address),
                "pid": {"P": p, "I": i, "D": d}}

    def disconnect(self) -> None:
        self.controller.adapter.close()
