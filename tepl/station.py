"""The station: the instruments a config names, by role, and the safe state over all of them.

The station knows roles only through the ``Instrument`` lifecycle (``make_safe``, ``status``, ``settings``,
``start``, ``close``): it makes every instrument safe in the declared order of its ``safe_group`` without
asking what it is. Building an instrument from its config entry is the job of ``tepl.instruments``, the one
place that chooses simulator or hardware (design rule 5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tepl.analysis.strain import StrainModel
from tepl.config import ConfigError, StationConfig, instrument_name, load_config
from tepl.config_schema import SCHEMA
from tepl.limits import StationLimits
from tepl.roles import DeviceError, Instrument

log = logging.getLogger(__name__)

SAFE_ATTEMPTS = 3
"""How many times the safe state tries an instrument that fails (a lost reply, a dropped link) before it
reports the failure."""

ROLE_NAMES = tuple(SCHEMA["properties"]["instruments"]["properties"])
"""Every role a station config can name (``stage``, ``zcontrol``...), in the order they are built."""


class Station:
    """Instruments by role, the config they came from, typed limits, and the simulated World if any.

    A role is read as an attribute (``station.stage``); a role the config does not name reads as None."""

    def __init__(self, config: StationConfig, world: Any = None):
        self.config = config
        self.world = world
        self.name: str = config.data["station"]["name"]
        self.limits = StationLimits.from_config(config.data["limits"])
        self.strain_model = StrainModel.from_config(config.data.get("calibration", {}).get("strain"))
        self.instruments: dict[str, Instrument] = {}
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        if name in ROLE_NAMES:
            return self.__dict__.get("instruments", {}).get(name)
        raise AttributeError(f"station has no attribute {name!r}")

    # ---- roles ------------------------------------------------------------------------------------
    def add(self, name: str, instrument: Instrument) -> None:
        """Install ``instrument`` as role ``name``."""
        if name not in ROLE_NAMES:
            raise ConfigError(f"instruments.{name}: not a role; known: {', '.join(ROLE_NAMES)}")
        self.instruments[name] = instrument

    def has_role(self, name: str) -> bool:
        return name in self.instruments

    def role(self, name: str) -> Any:
        if not self.has_role(name):
            raise LookupError(f"station {self.name} has no {name}")
        return self.instruments[name]

    @property
    def sleep(self):
        """Wait function: simulated time on a simulated station, the wall clock otherwise."""
        return self.world.clock.advance if self.world is not None else time.sleep

    def now_s(self) -> float:
        """Station time in seconds: the simulated clock on a simulated station, a monotonic clock otherwise."""
        return self.world.clock.now() if self.world is not None else time.monotonic()

    def settings(self) -> dict:
        """Every instrument's settings, for the run file."""
        out = {}
        for name, inst in self.instruments.items():
            try:
                out[name] = inst.settings()
            except Exception as exc:  # a snapshot must never stop a run from starting
                out[name] = {"error": f"settings unavailable: {exc}"}
        return out

    def status(self) -> dict[str, Any]:
        """What the operator watches between runs, read from each role's ``status``; nothing moves. Keys
        (where the station has the role): ``stage_um`` {x, y, z}; ``tip`` (engaged, frozen, retracted) and
        ``tip_z_nm``; ``ccd_temperature_c`` and ``ccd_status``; ``shutter`` and ``lamp`` ("open" or "closed");
        ``sync_rate_per_s`` and ``count_rates_per_s`` [channel]. A read that fails leaves ``"unavailable:
        <why>"`` under its keys and the other reads still happen."""
        out: dict[str, Any] = {}
        for name, inst in self.instruments.items():
            try:
                out.update(inst.status(name))
            except Exception as exc:  # a status read must never take the console down
                out.update(dict.fromkeys(inst.status_keys(name) or (name,), f"unavailable: {exc}"))
        return out

    def counter_channels(self) -> list[dict[str, Any]]:
        """The photon counter's inputs as the config describes them, in input order: ``name`` and ``band_nm``
        (the band-pass, nm) and the detector's figures; empty without a photon counter."""
        tcspc = self.config.data["instruments"].get("tcspc")
        return [dict(channel) for channel in tcspc["channels"]] if tcspc else []

    def counter_splitter(self) -> str:
        """How the photon counter's detectors share the light: "dichroic" (each sees its own band) or "50-50"
        (an HBT beam splitter, both see the same band)."""
        return (self.config.data["instruments"].get("tcspc") or {}).get("splitter", "dichroic")

    def counter_channel_labels(self) -> list[str]:
        """``"0: qd 635-665 nm"`` for each photon-counter input: its name and band-pass."""
        return [f"{i}: {c['name']} {c['band_nm'][0]:g}-{c['band_nm'][1]:g} nm"
                for i, c in enumerate(self.counter_channels())]

    def simulation_truth(self) -> dict | None:
        return self.world.ground_truth() if self.world is not None else None

    # ---- excitation -------------------------------------------------------------------------------
    def excitation(self) -> list[tuple[str, Instrument]]:
        """The instruments of the excitation path (``safe_group`` "excitation"): each lets the laser through
        with ``open()`` and blocks it with ``make_safe()``."""
        return [(name, inst) for name, inst in self.instruments.items() if inst.safe_group == "excitation"]

    def open_excitation(self) -> list[str]:
        """Let the laser through: every instrument of the excitation path opens (the laser emits, the excitation
        shutter opens); returns their role names. A run does this for a procedure that excites."""
        names = []
        for name, inst in self.excitation():
            inst.open()
            names.append(name)
        return names

    def block_excitation(self) -> dict[str, str]:
        """Block the excitation now (before anything else: a detector is over its count-rate limit)."""
        report: dict[str, str] = {}
        for name, inst in self.excitation():
            try:
                report[name] = inst.make_safe()
            except Exception as exc:  # the safe state will try again
                report[name] = f"make safe failed: {exc}"
                log.error("could not block the excitation (%s): %s", name, exc)
        return report

    # ---- lifecycle --------------------------------------------------------------------------------
    def in_safe_order(self) -> list[tuple[str, Instrument]]:
        """(role, instrument) in the order the safe state takes them: excitation, tip, shutters, counting,
        camera, motion (``tepl.roles.SAFE_ORDER``); config order within a group."""
        return sorted(self.instruments.items(), key=lambda item: item[1].safe_rank)

    def safe_state(self, keep: Mapping[str, str] | None = None) -> dict[str, str]:
        """Make every instrument safe in the declared order, whatever state things are in; an instrument that
        fails is tried again (``SAFE_ATTEMPTS`` in all), and one that still fails does not stop the others.
        Returns what holds per role ("retracted", "closed", "stopped"...), with the failed attempts said, or
        ``"make safe failed: <why>"``. A Ctrl-C arriving inside an instrument's safe state is held until every
        instrument had its turns, then raised. ``keep`` (role -> its state in words): roles a completed run
        leaves working on purpose (the approach's engaged tip); reported as ``"kept <state>"``."""
        report: dict[str, str] = {}
        interrupted: KeyboardInterrupt | None = None
        for name, inst in self.in_safe_order():
            if keep and name in keep:
                report[name] = f"kept {keep[name]}"
                continue
            failures: list[str] = []
            for _ in range(SAFE_ATTEMPTS):
                try:
                    outcome = inst.make_safe()
                except KeyboardInterrupt as exc:  # nothing interrupts the safe state: said afterwards
                    interrupted = exc
                    failures.append("interrupted (Ctrl-C)")
                    continue
                except Exception as exc:  # every instrument gets its turns, and the failure is said
                    failures.append(str(exc))
                    log.error("could not make the %s safe: %s", name, exc)
                    continue
                report[name] = outcome + (f" (after {len(failures)} failed attempt{'s' * (len(failures) > 1)}: "
                                          f"{failures[-1]})" if failures else "")
                break
            else:
                report[name] = f"make safe failed: {failures[-1]}"
        if interrupted is not None:
            interrupted.safe_state = report
            raise interrupted
        return report

    def close(self, make_safe: bool = True) -> dict:
        """The safe state (unless ``make_safe`` is False: a dry run moved nothing), then every instrument
        releases its connection (TCSPC unit closed, CCD warmed above -20 °C and shut down, spectrograph
        library closed, sockets and ports closed). A failure to release one instrument is logged and
        reported; the others are still released. Closing twice does nothing the second time. Returns the
        safe-state report with a ``released`` entry per role."""
        if self.closed:
            return {}
        report: dict[str, Any] = dict(self.safe_state()) if make_safe else {}
        released: dict[str, str] = {}
        for name, inst in reversed(self.in_safe_order()):
            try:
                inst.close()
                released[name] = "released"
            except Exception as exc:
                released[name] = f"release failed: {exc}"
                log.error("could not release the %s: %s", name, exc)
        self.closed = True
        report["released"] = released
        return report


def build_station(config: StationConfig | str | Path | None = None, cool: bool = True,
                  safe: bool = True) -> Station:
    """Build every instrument the config names. ``safe`` puts it in the safe state (tip withdrawn, shutter
    closed); ``cool`` then starts each instrument (the CCD cooled to its target). A dry run passes both False:
    it only connects and reads."""
    from tepl.instruments import BuildContext, build_instrument
    from tepl.twin import build_world

    if not isinstance(config, StationConfig):
        config = load_config(config)
    station = Station(config, build_world(config))
    entries = config.data["instruments"]
    try:
        for name in ROLE_NAMES:
            if name in entries:
                ctx = BuildContext(name, station.world, station.limits, station.sleep, dict(station.instruments),
                                   config.data.get("calibration") or {}, station.block_excitation)
                with _naming(name, entries[name], "connecting"):
                    station.add(name, build_instrument(ctx, entries[name]))
        _install_calibration(station)
        if safe:
            station.safe_state()
        if cool:
            for name, inst in station.instruments.items():
                with _naming(name, entries[name], "starting"):
                    inst.start(wait=config.simulated)
    except BaseException:  # a bad entry, a device that does not answer, Ctrl-C: what was built is left safe
        station.close()
        raise
    return station


@contextmanager
def _naming(role: str, entry: dict, doing: str):
    """A failure inside raises DeviceError naming the instrument, its address and what was being done:
    ``stage (pi-e727 at tcp://192.168.0.27:50000): connecting: ...``; a config error passes as it is."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:
        raise DeviceError(f"{instrument_name(role, entry)}: {doing}: {exc}") from exc


def _install_calibration(station: Station) -> None:
    cal_file = station.config.data.get("calibration", {}).get("wavelength_file")
    if not cal_file:
        return
    from tepl.data.runfile import read_run

    cal = read_run(cal_file)
    if cal.procedure != "calibrate" or cal.status != "complete" or "line_pixel" not in cal.data:
        raise ConfigError(f"calibration.wavelength_file: {cal_file} is not a complete calibrate run "
                          f"({cal.procedure}, {cal.status})")
    try:
        station.role("spectrometer").set_calibration_nm(cal.data["wavelength_nm"])
    except (LookupError, ValueError) as exc:
        raise ConfigError(f"calibration.wavelength_file: {cal_file}: {exc}") from None
