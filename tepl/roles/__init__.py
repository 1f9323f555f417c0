"""Role interfaces: the small contracts procedures are written against.

A procedure never talks to a concrete driver; it asks the station for a role (``stage``, ``zcontrol``,
``spectrometer``, ``shutter``, ``laser``, ``excitation_shutter``, ``cryostat``) and uses these methods only. Each
base class does
the checks once (limits, bounds, state) and delegates to ``_do_*`` hooks that a driver-backed implementation fills in,
so an out-of-limit request is refused here, before any byte reaches a device.

Units are in the names: ``_um`` micrometres, ``_nm`` nanometres, ``_s`` seconds, ``_c`` degrees Celsius.
"""

from __future__ import annotations

from tepl.limits import LimitError, Range
from tepl.roles.base import SAFE_ORDER, DeviceError, Instrument
from tepl.roles.excitation import ExcitationShutter
from tepl.roles.laser import FixedLaser, Laser
from tepl.roles.photon_counter import PhotonCounter, T2Block, T3Block
from tepl.roles.picomotor import OpenLoopPositioner
from tepl.roles.shutter import Shutter
from tepl.roles.spectrometer import Spectrometer
from tepl.roles.stage import Stage
from tepl.roles.temperature import HEATER_RANGES, TemperatureController
from tepl.roles.zcontrol import ContactModel, SurfaceOutOfReach, ZController

__all__ = ["ContactModel", "DeviceError", "ExcitationShutter", "FixedLaser", "HEATER_RANGES", "Instrument", "Laser",
           "LimitError",
           "OpenLoopPositioner", "PhotonCounter", "Range", "SAFE_ORDER", "Shutter", "Spectrometer", "Stage",
           "SurfaceOutOfReach", "T2Block", "T3Block", "TemperatureController", "ZController"]
