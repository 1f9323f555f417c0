"""What sits in the light's way in the simulated Kymera 328i (``tepl.sims.andor_shamrock.SimShamrock``), as
ShamrockCIF functions (``ShamrockPorts``, a part of ``SimShamrock``): the entrance shutter, the motorised
input slit (µm), the output flipper mirror choosing the exit port and the six-position filter wheel. Each
change takes simulated time; what the slit and the filters do to the light is ``tepl.sims.andor_optics``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tepl.sims.andor_optics import KYMERA_FILTERS
from tepl.sims.andor_shamrock_api import (
    SHAMROCK_NOT_AVAILABLE,
    SHAMROCK_P2INVALID,
    SHAMROCK_P3INVALID,
    SHAMROCK_SUCCESS,
    api,
    reports,
)
from tepl.sims.c_args import ArgError, set_out, set_text, val

# ShamrockCIF.h: slit indices, flipper indices and ports, slit width range
SLIT_INPUT_SIDE, SLIT_INPUT_DIRECT, SLIT_OUTPUT_SIDE, SLIT_OUTPUT_DIRECT = 1, 2, 3, 4
INPUT_FLIPPER, OUTPUT_FLIPPER = 1, 2
PORTS = {"direct": 0, "side": 1}
PORT_NAMES = {v: k for k, v in PORTS.items()}
SLIT_WIDTH_MIN_UM, SLIT_WIDTH_MAX_UM = 10.0, 2500.0
SLIT_RESET_UM = 10.0
SLIT_UM_PER_S = 500.0  # motorised slit travel
FLIPPER_S = 1.0
FILTER_CHANGE_S = 1.5


class ShamrockPorts:
    """The ShamrockCIF functions of the shutter, the slits, the flipper mirrors and the filter wheel; the
    state lives on the spectrograph (``_shutter_mode``, ``_slit_width_um`` of the slits fitted, ``_exit_port``,
    ``_filter``)."""

    _slit_width_um: dict[int, float]

    # ------------------------------------------------------------------ shutter
    ShamrockShutterIsPresent = reports(lambda s: 1)

    @api()
    def ShamrockIsModePossible(self, device: Any, mode: Any, possible_ref: Any) -> int:
        self._check_device(device)
        set_out(possible_ref, int(int(val(mode)) in (0, 1)), 3)
        return SHAMROCK_SUCCESS

    ShamrockGetShutter = reports(lambda s: s._shutter_mode)

    @api()
    def ShamrockSetShutter(self, device: Any, mode: Any) -> int:
        """0 closed, 1 open (2, BNC-controlled, is not fitted on this unit)."""
        self._check_device(device)
        m = int(val(mode))
        if m not in (0, 1):
            return SHAMROCK_P2INVALID
        self.world.clock.advance(0.02)
        self._shutter_mode = m
        self.world.shutter_open = m == 1
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ input slit
    def _check_slit(self, index: Any) -> int:
        i = int(val(index))
        if not 1 <= i <= 4:
            raise ArgError(2)
        return i

    def _fitted_slit(self, device: Any, index: Any) -> int | None:
        """Slit ``index`` of ``device`` when it is fitted; None when it is not."""
        self._check_device(device)
        i = self._check_slit(index)
        return i if i in self._slit_width_um else None

    @api()
    def ShamrockAutoSlitIsPresent(self, device: Any, index: Any, present_ref: Any) -> int:
        set_out(present_ref, int(self._fitted_slit(device, index) is not None), 3)
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGetAutoSlitWidth(self, device: Any, index: Any, width_ref: Any) -> int:
        """Width of slit ``index`` in µm; SHAMROCK_NOT_AVAILABLE for a slit that is not fitted."""
        i = self._fitted_slit(device, index)
        if i is None:
            return SHAMROCK_NOT_AVAILABLE
        set_out(width_ref, self._slit_width_um[i], 3)
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockSetAutoSlitWidth(self, device: Any, index: Any, width_um: Any) -> int:
        """Drive slit ``index`` to ``width_um`` (10-2500 µm, else SHAMROCK_P3INVALID)."""
        i = self._fitted_slit(device, index)
        if i is None:
            return SHAMROCK_NOT_AVAILABLE
        width = float(val(width_um))
        if not (math.isfinite(width) and SLIT_WIDTH_MIN_UM <= width <= SLIT_WIDTH_MAX_UM):
            return SHAMROCK_P3INVALID
        self.world.clock.advance(0.1 + abs(width - self._slit_width_um[i]) / SLIT_UM_PER_S)
        self._slit_width_um[i] = float(np.float32(width))
        self._record_truth()
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ exit port (output flipper mirror)
    def _is_output_flipper(self, device: Any, flipper: Any) -> bool:
        """Whether ``flipper`` (input or output, else ArgError) of ``device`` is the output flipper, the one
        fitted."""
        self._check_device(device)
        f = int(val(flipper))
        if f not in (INPUT_FLIPPER, OUTPUT_FLIPPER):
            raise ArgError(2)
        return f == OUTPUT_FLIPPER

    @api()
    def ShamrockFlipperMirrorIsPresent(self, device: Any, flipper: Any, present_ref: Any) -> int:
        set_out(present_ref, int(self._is_output_flipper(device, flipper)), 3)
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGetFlipperMirror(self, device: Any, flipper: Any, port_ref: Any) -> int:
        if not self._is_output_flipper(device, flipper):
            return SHAMROCK_NOT_AVAILABLE
        set_out(port_ref, self._exit_port, 3)
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockSetFlipperMirror(self, device: Any, flipper: Any, port: Any) -> int:
        """Flip the output mirror to port 0 (direct) or 1 (side)."""
        if not self._is_output_flipper(device, flipper):
            return SHAMROCK_NOT_AVAILABLE
        p = int(val(port))
        if p not in PORT_NAMES:
            return SHAMROCK_P3INVALID
        if p != self._exit_port:
            self.world.clock.advance(FLIPPER_S)
            self._exit_port = p
            self._record_truth()
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ filter wheel
    ShamrockFilterIsPresent = reports(lambda s: 1)
    ShamrockGetFilter = reports(lambda s: s._filter)

    def _filter_position(self, device: Any, position: Any) -> int | None:
        """Filter-wheel position ``position`` of ``device`` (1-6); None when there is no such position."""
        self._check_device(device)
        f = int(val(position))
        return f if f in KYMERA_FILTERS else None

    @api()
    def ShamrockSetFilter(self, device: Any, position: Any) -> int:
        """Turn the wheel to position 1-6 (SHAMROCK_FILTERMIN..MAX, else SHAMROCK_P2INVALID)."""
        f = self._filter_position(device, position)
        if f is None:
            return SHAMROCK_P2INVALID
        if f != self._filter:
            self.world.clock.advance(FILTER_CHANGE_S)
            self._filter = f
            self._record_truth()
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGetFilterInfo(self, device: Any, position: Any, info_buffer: Any) -> int:
        f = self._filter_position(device, position)
        if f is None:
            return SHAMROCK_P2INVALID
        set_text(info_buffer, KYMERA_FILTERS[f].info, 3)
        return SHAMROCK_SUCCESS
