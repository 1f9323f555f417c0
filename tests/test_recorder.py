"""The run recorder writes the HDF5 contract of docs/design.md, flushes per line and survives a killed writer;
the reader and ``describe`` read it back. Layout checks read the file with plain h5py, not with our reader."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from tepl.data.recorder import Recorder
from tepl.data.runfile import describe, read_run
from tepl.data.values import unit_from_key

HC_EV_NM = 1239.84198
NY, NX, NWL = 3, 4, 16

PARAMETERS = {"exposure_s": {"value": 0.5, "unit": "s"}, "order": {"value": "snake", "unit": ""},
              "pixel_um": {"value": 0.005, "unit": "µm"}}
INSTRUMENTS = {
    "stage": {"model": "P-611.3X", "servo": True, "travel_um": [0.0, 100.0],
              "axes": ["x", "y", "z"], "controller": {"temperature_c": 24.5, "serial": None}},
    "spectrometer": {"exposure_s": 0.5, "center_wavelength_nm": 700.0, "grating_lines_per_mm": 150},
}
CONFIG = "station: sim\nstage: {driver: pi_gcs}\n"


def pixel_spectrum(iy: int, ix: int) -> np.ndarray:
    """A distinct, exactly representable spectrum per pixel."""
    return (1000 * iy + 100 * ix + np.arange(NWL)).astype(np.float32)


def new_raster(path, **kw) -> Recorder:
    rec = Recorder(path, "raster", PARAMETERS, CONFIG, INSTRUMENTS, "tepl 0.1.0",
                   simulation={"emitters": {"x_nm": np.array([1.0, 2.0]), "energy_eV": np.array([1.9, 1.92])},
                               "seed": 7, "note": "twin"}, **kw)
    wl = np.linspace(640.0, 800.0, NWL)
    rec.add_axis("y_um", 50.0 + np.arange(NY) * 0.005, "µm")
    rec.add_axis("x_um", 50.0 + np.arange(NX) * 0.005, "µm")
    rec.add_axis("wavelength_nm", wl, "nm")
    rec.add_axis("energy_eV", HC_EV_NM / wl, "eV", dim="wavelength_nm")
    rec.add_dataset("spectra", (NY, NX, NWL), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
    rec.add_dataset("height_nm", (NY, NX), ("y_um", "x_um"), "nm")
    return rec


def write_line(rec: Recorder, iy: int) -> None:
    for ix in range(NX):
        rec.write("spectra", (iy, ix), pixel_spectrum(iy, ix))
        rec.write("height_nm", (iy, ix), 10.0 * iy + ix)
    rec.set_attrs("/entry", lines_done=iy + 1)
    rec.flush()


def test_layout_follows_the_contract(tmp_path):
    path = tmp_path / "run.h5"
    with new_raster(path) as rec:
        write_line(rec, 0)
    with h5py.File(path, "r") as f:
        entry = f["entry"]
        assert entry.attrs["NX_class"] == "NXentry" and f.attrs["default"] == "entry"
        assert entry.attrs["procedure"] == "raster" and entry.attrs["status"] == "complete"
        assert entry.attrs["software_version"] == "tepl 0.1.0" and f.attrs["creator"] == "tepl 0.1.0"
        assert entry.attrs["start_time"].endswith("+00:00") and entry.attrs["end_time"] >= entry.attrs["start_time"]
        assert entry["parameters/exposure_s"][()] == 0.5 and entry["parameters/exposure_s"].attrs["units"] == "s"
        assert entry["parameters/order"].asstr()[()] == "snake"
        assert entry["config"].asstr()[()] == CONFIG
        assert entry["instrument"].attrs["NX_class"] == "NXinstrument"
        stage = entry["instrument/stage"]
        assert stage.attrs["NX_class"] == "NXcollection"
        assert stage["servo"][()] and stage["model"].asstr()[()] == "P-611.3X"
        assert list(stage["axes"].asstr()[()]) == ["x", "y", "z"]
        np.testing.assert_array_equal(stage["travel_um"][()], [0.0, 100.0])
        assert stage["travel_um"].attrs["units"] == "µm"
        assert stage["controller/temperature_c"].attrs["units"] == "degC"
        assert isinstance(stage["controller"].attrs["serial"], h5py.Empty)
        spec = entry["instrument/spectrometer"]
        assert spec["center_wavelength_nm"].attrs["units"] == "nm" and spec["exposure_s"].attrs["units"] == "s"
        assert spec["grating_lines_per_mm"].attrs["units"] == "1/mm"
        data = entry["data"]
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "spectra"
        assert list(data.attrs["axes"]) == ["y_um", "x_um", "wavelength_nm"]
        assert (data.attrs["y_um_indices"], data.attrs["x_um_indices"]) == (0, 1)
        assert data.attrs["wavelength_nm_indices"] == 2 and data.attrs["energy_eV_indices"] == 2
        units = {name: data[name].attrs["units"] for name in data}
        assert units == {"spectra": "counts", "height_nm": "nm", "x_um": "µm", "y_um": "µm",
                         "wavelength_nm": "nm", "energy_eV": "eV"}
        assert data["spectra"].chunks == (1, NX, NWL) and data["height_nm"].chunks == (1, NX)
        np.testing.assert_array_equal(data["spectra"][0, 2], pixel_spectrum(0, 2))
        assert np.all(np.isnan(data["spectra"][1:]))
        sim = entry["sample/simulation"]
        assert entry["sample"].attrs["NX_class"] == "NXsample"
        np.testing.assert_array_equal(sim["emitters/energy_eV"][()], [1.9, 1.92])
        assert sim["emitters/energy_eV"].attrs["units"] == "eV" and sim["seed"][()] == 7


def test_reader_round_trip(tmp_path):
    path = tmp_path / "run.h5"
    with new_raster(path) as rec:
        write_line(rec, 0)
        rec.append_event("line 1 of 3 done")
    run = read_run(path)
    assert (run.procedure, run.status, run.reason, run.error) == ("raster", "complete", None, None)
    assert run.parameters == {"exposure_s": (0.5, "s"), "order": ("snake", ""), "pixel_um": (0.005, "µm")}
    assert run.config_text == CONFIG
    assert run.instruments["stage"]["controller"] == {"temperature_c": 24.5, "serial": None}
    assert run.instruments["stage"]["axes"] == ["x", "y", "z"]
    assert run.axes == ["y_um", "x_um", "wavelength_nm"] and run.signal == "spectra"
    assert run.units["energy_eV"] == "eV" and run.dims["height_nm"] == ("y_um", "x_um")
    np.testing.assert_array_equal(run.data["spectra"][0, 3], pixel_spectrum(0, 3))
    assert run.simulation["note"] == "twin" and run.simulation["seed"] == 7
    assert run.log[0].endswith("line 1 of 3 done")


def test_units_from_key_suffix():
    cases = {"exposure_s": "s", "center_wavelength_nm": "nm", "temperature_c": "degC", "travel_um": "µm",
             "peak_eV": "eV", "pressure_GPa": "GPa", "force_nN": "nN", "bias_V": "V", "angle_deg": "deg",
             "rate_Hz": "Hz", "model": "", "servo_on": "", "velocity_um_s": "s", "settled_at_s": "s",
             "shift_at_deepest_meV": "meV", "gap_at_max_intensity_nm": "nm"}
    assert {key: unit_from_key(key) for key in cases} == cases


def test_units_of_ratios_and_conditions():
    cases = {"drift_nm_per_s": "nm/s", "lines_per_mm": "1/mm", "grating_lines_per_mm": "1/mm",
             "shift_eV_per_percent": "eV/%", "pressure_GPa_per_percent": "GPa/%", "scan_um_per_s": "µm/s",
             "gain_e_per_count": "", "rate_per_px_s": "", "samples_per_pixel": "",
             "dark_e_per_pixel_s_at_minus80_c": "", "temperature_at_minus80_c": "",
             "drift_nm_per_s_at_20_c": "nm/s", "stage_travel_um": "µm"}
    assert {key: unit_from_key(key) for key in cases} == cases


def test_creator_names_tepl_once(tmp_path):
    for version, creator in (("tepl 0.1.0", "tepl 0.1.0"), ("0.1.0", "tepl 0.1.0"), ("test", "tepl test")):
        path = tmp_path / f"{version}.h5"
        Recorder(path, "raster", {}, "", {}, version).close("complete")
        with h5py.File(path, "r") as f:
            assert f.attrs["creator"] == creator and f["entry"].attrs["software_version"] == version


def test_close_is_idempotent_and_records_why(tmp_path):
    path = tmp_path / "run.h5"
    rec = new_raster(path)
    write_line(rec, 0)
    rec.close("aborted", reason="operator pressed abort")
    rec.close("complete")
    assert rec.closed
    with pytest.raises(RuntimeError, match="closed"):
        rec.write("spectra", (1, 0), pixel_spectrum(1, 0))
    run = read_run(path)
    assert (run.status, run.reason) == ("aborted", "operator pressed abort")
    assert run.end_time is not None and run.end_time >= run.start_time
    np.testing.assert_array_equal(run.data["spectra"][0, 1], pixel_spectrum(0, 1))


def test_context_manager_marks_failure(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.raises(ZeroDivisionError), new_raster(path):
        1 / 0  # noqa: B018
    run = read_run(path)
    assert run.status == "failed" and "ZeroDivisionError" in run.error


def test_bad_input_is_refused(tmp_path):
    rec = new_raster(tmp_path / "run.h5")
    with pytest.raises(ValueError, match="2 dims"):
        rec.add_dataset("bad", (2, 3, 4), ("a", "b"), "nm")
    with pytest.raises(ValueError, match="already exists"):
        rec.add_dataset("height_nm", (2,), ("x_um",), "nm")
    with pytest.raises(KeyError, match="nothing_here"):
        rec.write("nothing_here", 0, 1.0)
    with pytest.raises(ValueError, match="status"):
        rec.close("finished")
    rec.close("failed", error="test")
    with pytest.raises(ValueError, match="exposure_s"):
        Recorder(tmp_path / "bad.h5", "raster", {"exposure_s": 0.5}, "", {}, "v")
    assert not (tmp_path / "bad.h5").exists()


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    with new_raster(path) as rec:
        write_line(rec, 0)
    with pytest.raises(FileExistsError, match="run.h5"):
        Recorder(path, "line-scan", {}, "", {}, "v")
    assert read_run(path).procedure == "raster"
    Recorder(path, "line-scan", {}, "", {}, "v", overwrite=True).close("complete")
    assert read_run(path).procedure == "line-scan"


def test_signal_dimension_without_axis_gets_an_index_axis(tmp_path):
    path = tmp_path / "sweep.h5"
    rec = Recorder(path, "distance-sweep", {}, "", {}, "v")
    rec.add_dataset("spectra", (5, 8), ("step", "wavelength_nm"), "counts", signal=True)
    rec.add_axis("wavelength_nm", np.linspace(650, 700, 8), "nm")
    rec.add_axis("step", np.arange(5) * 2, "")
    rec.add_dataset("direction", (5,), ("step",), "", dtype="i1")
    rec.close("complete")
    with h5py.File(path, "r") as f:
        data = f["entry/data"]
        np.testing.assert_array_equal(data["step"][()], np.arange(5) * 2)
        assert data.attrs["step_indices"] == 0 and data.attrs["wavelength_nm_indices"] == 1
        assert data["direction"].fillvalue == 0


def test_describe_reports_progress_and_rejects_other_files(tmp_path):
    path = tmp_path / "run.h5"
    rec = new_raster(path)
    write_line(rec, 0)
    write_line(rec, 1)
    rec.write("spectra", (2, 0), pixel_spectrum(2, 0))
    rec.close("stopped", reason="operator stop after line 2")
    text = describe(path)
    assert "procedure   raster" in text and "stopped (operator stop after line 2)" in text
    assert "exposure_s" in text and "0.5 s" in text
    spectra_line = next(line for line in text.splitlines() if line.strip().startswith("spectra"))
    assert "(3, 4, 16)" in spectra_line and "[counts]" in spectra_line and "filled 2/3 rows (1 partly)" in spectra_line
    assert "instruments stage, spectrometer" in text or "instruments spectrometer, stage" in text

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="other.h5.*not a tepl run"):
        read_run(other)
    text_file = tmp_path / "notes.h5"
    text_file.write_text("not hdf5")
    with pytest.raises(ValueError, match="notes.h5"):
        describe(text_file)


READER = textwrap.dedent("""
    import json, sys
    import h5py, numpy as np
    path = sys.argv[1]
    for _ in sys.stdin:
        with h5py.File(path, "r", locking=False) as f:
            s = f["entry/data/spectra"][()]
            full = [int(i) for i in range(s.shape[0]) if np.all(np.isfinite(s[i]))]
            print(json.dumps({"full_rows": full, "status": f["entry"].attrs["status"],
                              "lines_done": int(f["entry"].attrs.get("lines_done", 0)),
                              "row0": s[0].tolist()}), flush=True)
""")


def test_each_flushed_line_is_visible_to_another_process(tmp_path):
    path = tmp_path / "run.h5"
    rec = new_raster(path)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        def look() -> dict:
            reader.stdin.write("read\n")
            reader.stdin.flush()
            return json.loads(reader.stdout.readline())

        assert look()["full_rows"] == []
        write_line(rec, 0)
        seen = look()
        assert seen["full_rows"] == [0] and seen["status"] == "running" and seen["lines_done"] == 1
        np.testing.assert_array_equal(seen["row0"], [pixel_spectrum(0, ix) for ix in range(NX)])
        write_line(rec, 1)
        seen = look()
        assert seen["full_rows"] == [0, 1] and seen["lines_done"] == 2
        rec.close("complete")
        assert look()["status"] == "complete"
    finally:
        reader.stdin.close()
        reader.wait(timeout=10)
        reader.stdout.close()
        rec.close("failed")


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    import test_recorder as t
    rec = t.new_raster(sys.argv[1])
    rec.append_event("started")
    t.write_line(rec, 0)
    t.write_line(rec, 1)
    for ix in range(2):                      # line 2 in progress, not flushed
        rec.write("spectra", (2, ix), t.pixel_spectrum(2, ix))
    print("ready", flush=True)
    sys.stdin.read()
""")


def test_writer_killed_mid_run_leaves_a_readable_file(tmp_path):
    path = tmp_path / "run.h5"
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), tests_dir], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdin.close()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    run = read_run(path)
    assert run.status == "interrupted" and run.end_time is None  # its writer was killed
    assert run.parameters["exposure_s"] == (0.5, "s") and run.instruments["stage"]["model"] == "P-611.3X"
    assert run.log[0].endswith("started")
    spectra = run.data["spectra"]
    for iy in range(2):
        for ix in range(NX):
            np.testing.assert_array_equal(spectra[iy, ix], pixel_spectrum(iy, ix))
    np.testing.assert_array_equal(run.data["height_nm"][:2], [[10.0 * iy + ix for ix in range(NX)]
                                                                for iy in range(2)])
    for ix in range(NX):  # the line in progress: each pixel is either what was written or still unfilled
        pixel = spectra[2, ix]
        assert np.all(np.isnan(pixel)) or np.array_equal(pixel, pixel_spectrum(2, ix))
    assert "filled 2/3 rows" in describe(path)
