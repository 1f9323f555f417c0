"""The station: builds the instruments a config names, real or simulated, and owns the safe state.

This is the one place that chooses hardware or simulator (design rule 5). ``address: sim`` (or
``library: sim``) selects the protocol simulator behind the same driver code that runs on the rig.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tepl.analysis.strain import StrainModel
from tepl.config import ConfigError, StationConfig, load_config
from tepl.roles import DeviceError, PhotonCounter, Range, Shutter, Spectrometer, Stage, ZController

log = logging.getLogger(__name__)


def _tcp_address(key: str, address: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(address)
    if parsed.scheme != "tcp" or not parsed.hostname:
        raise ConfigError(f"{key}: {address!r} is not 'sim' or 'tcp://HOST:PORT'")
    return parsed.hostname, parsed.port or default_port


class SimLamp(Shutter):
    """The simulated Ar-Hg calibration lamp in front of the slit (on = open)."""

    def __init__(self, world: Any):
        self.world = world

    def open(self) -> None:
        self.world.lamp_on = True

    def close(self) -> None:
        self.world.lamp_on = False

    def is_open(self) -> bool:
        return bool(self.world.lamp_on)


class ManualLamp(Shutter):
    """A lamp the operator places by hand: ``open`` asks the operator and waits for the answer.

    ``confirm(message) -> bool`` asks; the default reads a terminal and refuses when there is none.
    """

    def __init__(self, confirm: Callable[[str], bool] | None = None) -> None:
        self._on = False
        self._confirm = confirm or _confirm_at_terminal

    def open(self) -> None:
        if not self._confirm("place the Ar-Hg lamp in front of the spectrograph slit, switch it on"):
            raise DeviceError("the operator did not confirm the Ar-Hg lamp is on")
        self._on = True

    def close(self) -> None:
        self._on = False

    def is_open(self) -> bool:
        return self._on


def _confirm_at_terminal(message: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise DeviceError(f"{message}: needs an operator at a terminal (no terminal here)")
    return input(f"{message}, then press Enter (n to cancel): ").strip().lower() not in ("n", "no")


class Station:
    """Instruments by role, the config they came from, limits, and the simulated World if any."""

    ROLE_NAMES = ("stage", "zcontrol", "spectrometer", "shutter", "lamp", "tcspc")

    def __init__(self, config: StationConfig, world: Any = None):
        self.config = config
        self.world = world
        self.name: str = config.data["station"]["name"]
        self.limits: dict = config.data["limits"]
        cal = config.data.get("calibration", {})
        self.strain_model = StrainModel.from_config(cal.get("strain"))
        self.stage: Stage | None = None
        self.zcontrol: ZController | None = None
        self.spectrometer: Spectrometer | None = None
        self.shutter: Shutter | None = None
        self.lamp: Shutter | None = None
        self.tcspc: PhotonCounter | None = None
        self.closed = False

    # ---- roles ------------------------------------------------------------------------------------
    def has_role(self, name: str) -> bool:
        return getattr(self, name, None) is not None

    def role(self, name: str) -> Any:
        if not self.has_role(name):
            raise LookupError(f"station {self.name} has no {name}")
        return getattr(self, name)

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
        for name in self.ROLE_NAMES:
            inst = getattr(self, name)
            if inst is None:
                continue
            try:
                out[name] = inst.settings()
            except Exception as exc:  # a snapshot must never stop a run from starting
                out[name] = {"error": f"settings unavailable: {exc}"}
        return out

    def status(self) -> dict[str, Any]:
        """What the operator watches between runs, read from each role; nothing moves. Keys (where the station
        has the role): ``stage_um`` {x, y, z}; ``tip`` (engaged, frozen, retracted) and ``tip_z_nm``;
        ``ccd_temperature_c`` and ``ccd_status``; ``shutter`` and ``lamp`` ("open" or "closed");
        ``sync_rate_per_s`` and ``count_rates_per_s`` [channel]. A read that fails leaves ``"unavailable:
        <why>"`` in its place and the other reads still happen."""
        reads: list[tuple[tuple[str, ...], Callable[[], Any]]] = []  # keys, and a read giving one value per key
        if self.stage is not None:
            reads.append((("stage_um",), lambda: (self.stage.position_um(),)))
        if self.zcontrol is not None:
            reads += [(("tip",), lambda: (self.zcontrol.state(),)), (("tip_z_nm",), lambda: (self.zcontrol.z_nm(),))]
        if self.spectrometer is not None:
            reads.append((("ccd_temperature_c", "ccd_status"), self.spectrometer.temperature_c))
        for name in ("shutter", "lamp"):
            inst = getattr(self, name)
            if inst is not None:
                reads.append(((name,), lambda inst=inst: ("open" if inst.is_open() else "closed",)))
        if self.tcspc is not None:
            reads.append((("sync_rate_per_s", "count_rates_per_s"), self._count_rates))
        out: dict[str, Any] = {}
        for keys, read in reads:
            try:
                out.update(zip(keys, read(), strict=True))
            except Exception as exc:  # a status read must never take the console down
                out.update(dict.fromkeys(keys, f"unavailable: {exc}"))
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

    def _count_rates(self) -> tuple[float, list[float]]:
        sync_per_s, rates_per_s = self.tcspc.count_rates()
        return float(sync_per_s), [float(r) for r in rates_per_s]

    def simulation_truth(self) -> dict | None:
        return self.world.ground_truth() if self.world is not None else None

    def safe_state(self) -> dict:
        """Withdraw the tip and close the shutter, whatever state things are in; report what holds."""
        report: dict[str, Any] = {}
        if self.tcspc is not None:
            try:
                self.tcspc.stop()
                report["tcspc"] = "stopped"
            except Exception as exc:
                report["tcspc"] = f"stop failed: {exc}"
                log.error("could not stop the TCSPC measurement: %s", exc)
        if self.zcontrol is not None:
            try:
                self.zcontrol.retract()
                report["tip"] = self.zcontrol.state()
            except Exception as exc:
                report["tip"] = f"retract failed: {exc}"
                log.error("could not withdraw the tip: %s", exc)
        for name in ("shutter", "lamp"):
            inst = getattr(self, name)
            if inst is None:
                continue
            try:
                inst.close()
                report[name] = "open" if inst.is_open() else "closed"
            except Exception as exc:
                report[name] = f"close failed: {exc}"
                log.error("could not close the %s: %s", name, exc)
        if self.stage is not None:
            try:
                self.stage.stop()
            except Exception as exc:
                log.error("could not stop the stage: %s", exc)
        return report

    def close(self) -> dict:
        """The safe state, then every instrument releases its connection (TCSPC unit closed, CCD warmed
        above -20 °C and shut down, spectrograph library closed, sockets and ports closed). A failure to
        release one instrument is logged and reported; the others are still released. Closing twice does
        nothing the second time. Returns the safe-state report with a ``released`` entry per role."""
        if self.closed:
            return {}
        report = self.safe_state()
        released: dict[str, str] = {}
        for name in ("tcspc", "zcontrol", "spectrometer", "stage"):  # the shutter lives on the spectrograph
            inst = getattr(self, name)
            if inst is None:
                continue
            try:
                inst.disconnect()
                released[name] = "released"
            except Exception as exc:
                released[name] = f"release failed: {exc}"
                log.error("could not release the %s: %s", name, exc)
        self.closed = True
        report["released"] = released
        return report


# ---- builders -----------------------------------------------------------------------------------------
def _build_stage(station: Station, cfg: dict, world: Any) -> Stage:
    from tepl.drivers.pi_e727 import E727
    from tepl.drivers.pi_e727_stage import E727Stage

    if cfg["address"] == "sim":
        from tepl.sims.pi_e727 import GCSAdapter, GCSController

        if world is None:
            raise ConfigError("instruments.stage.address: 'sim' needs a 'simulation' section")
        adapter: Any = GCSAdapter(GCSController(world))
    elif cfg["address"].startswith("tcp://"):
        host, port = _tcp_address("instruments.stage.address", cfg["address"], 50000)
        adapter = f"TCPIP::{host}::{port}::SOCKET"
    else:
        adapter = cfg["address"]
    limits = station.limits["stage_travel_um"]
    travel = {axis: Range(*limits[axis], unit="µm") for axis in "xyz"}
    return E727Stage(E727(adapter), axis_map=cfg.get("axes", {"x": "1", "y": "2", "z": "3"}),
                     travel_um=travel, sleep=station.sleep,
                     settle_timeout_s=cfg.get("settle_timeout_s", 10.0))


def _build_zcontrol(station: Station, cfg: dict, world: Any) -> ZController:
    from tepl.drivers.rhk_r9 import R9, R9Socket
    from tepl.drivers.rhk_r9_zcontrol import R9ZController

    if cfg["address"] == "sim":
        from tepl.sims.rhk_r9 import R9Controller, R9InProcess

        if world is None:
            raise ConfigError("instruments.zcontrol.address: 'sim' needs a 'simulation' section")
        transport: Any = R9InProcess(R9Controller(world))
    else:
        host, port = _tcp_address("instruments.zcontrol.address", cfg["address"], 12600)
        transport = R9Socket(host, port)
    kwargs = {k: cfg[k] for k in ("controller", "z_channel", "amplitude_channel", "phase_channel") if k in cfg}
    r9 = R9(transport, **kwargs)
    return R9ZController(r9, z_range_nm=Range(*station.limits["tip_z_nm"], unit="nm"),
                         setpoint_fraction=cfg.get("setpoint_fraction", 0.9), sleep=station.sleep)


def _build_spectrometer(station: Station, cfg: dict, world: Any) -> tuple[Spectrometer, Shutter]:
    from tepl.drivers.andor import AndorSpectrometer, IDus, Kymera, KymeraShutter

    if cfg["library"] == "sim":
        from tepl.sims.andor import make_sim_libraries

        if world is None:
            raise ConfigError("instruments.spectrometer.library: 'sim' needs a 'simulation' section")
        sdk2, shamrock = make_sim_libraries(world)
    else:
        from tepl.drivers.andor import load_sdk2, load_shamrock

        sdk2 = load_sdk2(cfg["library"]["sdk2"])
        shamrock = load_shamrock(cfg["library"]["spectrograph"])
    ccd = IDus(sdk2, sleep=station.sleep)
    kymera = Kymera(shamrock)
    spectrometer = AndorSpectrometer(ccd, kymera, exposure_s=Range(*station.limits["exposure_s"], unit="s"),
                                     sleep=station.sleep)
    if "grating" in cfg:
        spectrometer.set_grating(cfg["grating"])
    if "center_wavelength_nm" in cfg:
        spectrometer.set_center_wavelength_nm(cfg["center_wavelength_nm"])
    return spectrometer, KymeraShutter(kymera)


def _build_tcspc(station: Station, cfg: dict, world: Any) -> PhotonCounter:
    from tepl.drivers.picoquant import HydraHarp, TimeHarp260
    from tepl.drivers.picoquant_counter import TcspcCounter

    n_channels = len(cfg["channels"])
    model = cfg.get("model", "TimeHarp 260 P")
    if cfg["library"] == "sim":
        if world is None:
            raise ConfigError("instruments.tcspc.library: 'sim' needs a 'simulation' section")
        from tepl.sims.picoquant import SimHHLib, SimTH260Lib

        lib: Any = (SimHHLib(world, n_channels=n_channels) if cfg["driver"] == "hydraharp"
                    else SimTH260Lib(world, model=model, n_channels=n_channels))
    else:
        from tepl.drivers.picoquant_lib import load_hhlib, load_th260lib

        lib = load_hhlib(cfg["library"]) if cfg["driver"] == "hydraharp" else load_th260lib(cfg["library"])
    device_cls = HydraHarp if cfg["driver"] == "hydraharp" else TimeHarp260
    device = device_cls(lib, device_index=cfg.get("device_index", 0))
    options = {k: cfg[k] for k in ("sync_divider", "sync_level_mV", "binning", "offset_ns", "channel_offsets_ps")
               if k in cfg}
    if "input_level_mV" in cfg:
        options["input_levels_mV"] = [cfg["input_level_mV"]] * n_channels
    return TcspcCounter(device, sleep=station.sleep, acquisition_s=Range(*station.limits["acquisition_s"], unit="s"),
                        max_count_rate_per_s=station.limits["max_count_rate_per_s"], **options)


def build_world(config: StationConfig, real_time: bool | None = None):
    """The simulated microscope a config's ``simulation`` section describes (None for a real station)."""
    if not config.simulated:
        return None
    from tepl.sims.world import World

    sim = config.data["simulation"]
    seed = int(sim.get("seed", 0))
    kind = sim.get("sample", "tepl")
    if kind == "tepl":
        from tepl.sims.tepl_sample import TeplSample

        sample = TeplSample.generate(seed=seed, n_dots=int(sim.get("n_dots", 6)))
    elif kind == "cryo":
        from tepl.sims.cryo_sample import CryoSample

        sample = CryoSample.generate(seed=seed)
    else:
        from tepl.sims.confocal_sample import ConfocalSample

        sample = ConfocalSample.generate(seed=seed, kind=kind)
    kwargs = {"drift_nm_per_s": tuple(sim["drift_nm_per_s"])} if "drift_nm_per_s" in sim else {}
    world = World(sample=sample, seed=seed,
                  real_time=bool(sim.get("real_time", False)) if real_time is None else real_time, **kwargs)
    if "longpass_edge_nm" in sim:
        world.longpass_edge_nm = sim["longpass_edge_nm"]
    if "laser" in sim:
        from tepl.sims.photons import Laser

        world.laser = Laser(**sim["laser"])
    tcspc = config.data["instruments"].get("tcspc")
    if tcspc is not None:
        from tepl.sims.detection import DetectionPath, DetectorChannel

        world.detection = DetectionPath(
            [DetectorChannel(name=c["name"], band_nm=tuple(c["band_nm"]),
                             **{k: c[k] for k in ("efficiency", "dark_counts_per_s", "dead_time_ns",
                                                  "jitter_fwhm_ps") if k in c})
             for c in tcspc["channels"]],
            splitter=tcspc.get("splitter", "dichroic"))
    return world


def build_station(config: StationConfig | str | Path | None = None, cool: bool = True,
                  safe: bool = True) -> Station:
    """Build every instrument the config names. ``safe`` puts it in the safe state (tip withdrawn, shutter
    closed); ``cool`` then brings the CCD to its target temperature. A dry run passes both False: it only
    connects and reads."""
    if not isinstance(config, StationConfig):
        config = load_config(config)
    data = config.data
    world = build_world(config)
    station = Station(config, world)
    inst = data["instruments"]
    if "stage" in inst:
        station.stage = _build_stage(station, inst["stage"], world)
    if "zcontrol" in inst:
        station.zcontrol = _build_zcontrol(station, inst["zcontrol"], world)
    if "spectrometer" in inst:
        station.spectrometer, shutter = _build_spectrometer(station, inst["spectrometer"], world)
        if "shutter" in inst:
            station.shutter = shutter
    if "tcspc" in inst:
        station.tcspc = _build_tcspc(station, inst["tcspc"], world)
    lamp = inst.get("lamp", {}).get("driver")
    if lamp == "sim-lamp":
        if world is None:
            raise ConfigError("instruments.lamp.driver: 'sim-lamp' needs a 'simulation' section")
        station.lamp = SimLamp(world)
    elif lamp == "manual":
        station.lamp = ManualLamp()
    cal_file = data.get("calibration", {}).get("wavelength_file")
    if cal_file:
        from tepl.data.runfile import read_run

        cal = read_run(cal_file)
        if cal.procedure != "calibrate" or cal.status != "complete" or "line_pixel" not in cal.data:
            raise ConfigError(f"calibration.wavelength_file: {cal_file} is not a complete calibrate run "
                              f"({cal.procedure}, {cal.status})")
        try:
            station.spectrometer.set_calibration_nm(cal.data["wavelength_nm"])
        except ValueError as exc:
            raise ConfigError(f"calibration.wavelength_file: {cal_file}: {exc}") from None
    if safe:
        station.safe_state()
    if cool and "target_temperature_c" in inst.get("spectrometer", {}):
        station.spectrometer.cool(inst["spectrometer"]["target_temperature_c"], wait=config.simulated)
    return station
