"""Andor .sif import: the spectrum matches Andor Solis' own CSV export of the same file; damaged files are
refused with a clear error and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from tepl import __version__
from tepl.data.runfile import read_run
from tepl.data.sif import SifImportError, import_sif

FIXTURES = Path(__file__).parent / "fixtures"
SIF = FIXTURES / "idus420_kymera193_cli-0.sif"
CSV = FIXTURES / "idus420_kymera193_cli-0.csv"


def test_import_matches_the_solis_csv_export(tmp_path):
    out = import_sif(SIF, tmp_path / "spectrum.h5")
    reference = np.loadtxt(CSV, delimiter=",", skiprows=1)
    assert reference.shape == (1024, 2)
    run = read_run(out)
    assert (run.procedure, run.status) == ("import-sif", "complete")
    assert run.axes == ["frame", "wavelength_nm"] and run.signal == "spectra"
    assert run.data["spectra"].shape == (1, 1024)
    np.testing.assert_allclose(run.data["wavelength_nm"], reference[:, 0], rtol=0, atol=1e-3)
    np.testing.assert_allclose(run.data["spectra"][0], reference[:, 1], rtol=np.finfo(np.float32).eps, atol=0)
    np.testing.assert_allclose(run.data["energy_eV"], 1239.84198 / reference[:, 0], rtol=1e-5)
    assert run.units["spectra"] == "counts" and run.units["wavelength_nm"] == "nm"


def test_software_version_reads_like_a_run(tmp_path):
    out = import_sif(SIF, tmp_path / "spectrum.h5")
    assert read_run(out).software_version == f"tepl {__version__}"
    with h5py.File(out, "r") as f:
        assert f.attrs["creator"] == f"tepl {__version__}"


def test_header_is_kept(tmp_path):
    out = import_sif(SIF, tmp_path / "spectrum.h5")
    with h5py.File(out, "r") as f:
        header = f["entry/instrument/andor_sif"]
        assert header.attrs["NX_class"] == "NXcollection"
        raw = SIF.read_bytes()
        # values as they appear in the file's text header
        assert b"DU420_OE" in raw and header["DetectorType"].asstr()[()] == "DU420_OE"
        assert b"586.168707875138 0.420772833220337" in raw
        np.testing.assert_allclose(header["Calibration_data"][:2], [586.168707875138, 0.420772833220337])
        assert header["ExposureTime"].attrs["units"] == "s"
        assert header["DetectorTemperature"].attrs["units"] == "degC"
        assert len(header) >= 30
        assert f["entry/data/spectra"].attrs["long_name"] == "Counts (Bg corrected per second)"
    assert read_run(out).parameters["exposure_s"] == (pytest.approx(0.1), "s")


def test_existing_output_is_refused(tmp_path):
    out = tmp_path / "spectrum.h5"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="spectrum.h5"):
        import_sif(SIF, out)
    assert out.read_bytes() == b"keep me"
    import_sif(SIF, out, overwrite=True)
    assert read_run(out).status == "complete"


def _damaged(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _calibration(coefficient: bytes) -> bytes:
    return SIF.read_bytes().replace(b"-3.80478799111788e-09", coefficient)


def _nan_pixel() -> bytes:
    raw = bytearray(SIF.read_bytes())
    first_counts = np.loadtxt(CSV, delimiter=",", skiprows=1, max_rows=8)[:, 1].astype("<f4").tobytes()
    start = raw.find(first_counts)  # the data block: little-endian float32 counts, as in the CSV
    assert start > 0
    raw[start + 4 * 5:start + 4 * 6] = np.float32(np.nan).tobytes()
    return bytes(raw)


@pytest.mark.parametrize("name, content, what", [
    ("corrupt.sif", (FIXTURES / "corrupt.sif").read_bytes(), "corrupt"),
    ("truncated.sif", SIF.read_bytes()[:4000], "corrupt"),
    ("notes.sif", b"not a spectrum\n" * 20, "not a SIF file"),
    ("empty.sif", b"", "not a SIF file"),
    ("nan.sif", _nan_pixel(), "not finite"),
    ("negative.sif", _calibration(b"-3.80478799111788e-06"), "calibration"),
    ("folded.sif", _calibration(b"-5.00000000000000e-07"), "not monotonic"),
])
def test_damaged_files_are_refused(tmp_path, name, content, what):
    sif = _damaged(tmp_path, name, content)
    out = tmp_path / "out.h5"
    with pytest.raises(SifImportError, match=what) as info:
        import_sif(sif, out)
    assert name in str(info.value)
    assert not out.exists()


def test_data_not_matching_the_header_is_refused(tmp_path, monkeypatch):
    import sif_parser

    real = sif_parser.np_open

    def short_frame(fh):
        data, info = real(fh)
        return data[..., :1000], info

    monkeypatch.setattr(sif_parser, "np_open", short_frame)
    with pytest.raises(SifImportError, match="1024 pixels per row, the data have 1000"):
        import_sif(SIF, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_missing_input_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.sif"):
        import_sif(tmp_path / "nowhere.sif", tmp_path / "out.h5")
