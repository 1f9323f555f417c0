"""Andor iDus CCD on a Kymera spectrograph (SDK2 + Shamrock libraries, or their simulators), and the
Kymera's entrance shutter."""

from __future__ import annotations

from tepl.config import ConfigError
from tepl.instruments import BuildContext, builder


@builder("andor")
def build_spectrometer(ctx: BuildContext, cfg: dict):
    from tepl.drivers.andor import AndorSpectrometer, IDus, Kymera

    if cfg["library"] == "sim":
        from tepl.sims.andor import make_sim_libraries

        sdk2, shamrock = make_sim_libraries(ctx.need_world("library"))
    else:
        from tepl.drivers.andor import load_sdk2, load_shamrock

        sdk2 = load_sdk2(cfg["library"]["sdk2"])
        shamrock = load_shamrock(cfg["library"]["spectrograph"])
    # timeout_margin_s: s beyond an acquisition's length; config_dir: where Initialize finds the SDK's files
    ccd_options = {k: cfg[k] for k in ("timeout_margin_s", "config_dir") if k in cfg}
    kymera = Kymera(shamrock)
    if "exit_port" in cfg:  # the port the CCD is mounted on: the output flipper mirror sends the light there
        kymera.set_exit_port(cfg["exit_port"])
    if "slit_width_um" in cfg:
        kymera.set_slit_width_um(cfg["slit_width_um"], cfg.get("input_slit", "direct"))
    elif "input_slit" in cfg:
        kymera.input_slit = cfg["input_slit"]
    if "filter" in cfg:
        kymera.set_filter(cfg["filter"])
    spectrometer = AndorSpectrometer(IDus(sdk2, sleep=ctx.sleep, **ccd_options), kymera,
                                     exposure_s=ctx.limits.require("exposure_s"), sleep=ctx.sleep)
    spectrometer.target_temperature_c = cfg.get("target_temperature_c")
    if "grating" in cfg:
        spectrometer.set_grating(cfg["grating"])
    if "center_wavelength_nm" in cfg:
        spectrometer.set_center_wavelength_nm(cfg["center_wavelength_nm"])
    return spectrometer


@builder("kymera-shutter")
def build_kymera_shutter(ctx: BuildContext, cfg: dict):
    from tepl.drivers.andor import AndorSpectrometer, KymeraShutter

    spectrometers = [inst for inst in ctx.built.values() if isinstance(inst, AndorSpectrometer)]
    if not spectrometers:
        raise ConfigError(f"{ctx.key}: kymera-shutter needs an andor spectrometer listed before it")
    return KymeraShutter(spectrometers[0].spectrograph)
