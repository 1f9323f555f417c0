"""Import Andor Solis .sif spectra into tepl run files.

The run file (procedure "import-sif", status "complete") always holds ``spectra[frame, wavelength]`` in
the file's own units (``DataType``, e.g. counts), also for a single frame (one row), so every import reads
the same way (units "counts"; the SIF's DataType, e.g. "Counts (Bg corrected per second)", is the
dataset's @long_name); multi-track or image acquisitions keep their rows: ``spectra[frame, row, wavelength]``.
Axes: ``frame`` (index), ``row`` (index, images only), ``wavelength_nm`` (the SIF calibration polynomial
evaluated at pixels 1..width, as Andor Solis exports it) and ``energy_eV`` (auxiliary, on the wavelength
dimension). Every SIF header field is kept under ``/entry/instrument/andor_sif``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from tepl.data.importing import import_recorder, refuse_existing, source_parameters
from tepl.units import HC_EV_NM

HEADER_UNITS = {
    "ExposureTime": "s", "CycleTime": "s", "AccumulatedCycleTime": "s", "StackCycleTime": "s",
    "PixelReadoutTime": "s", "DetectorTemperature": "degC", "RamanExWavelength": "nm",
}


class SifImportError(ValueError):
    """A .sif file that cannot be imported: unreadable, damaged or inconsistent with its own header."""


def read_sif(sif_path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read and check a .sif file: returns (data[frame, row, pixel], wavelength_nm[pixel], header).

    Raises SifImportError naming the file and what is wrong when the parser fails, the data do not match
    the header's sizes, the data are not finite, or the wavelength calibration is missing or not monotonic.
    """
    import sif_parser

    path = Path(sif_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .sif file")
    try:
        with open(path, "rb", buffering=0) as raw, _EndGuard(raw) as fh:
            data, info = sif_parser.np_open(fh)
            data = np.array(data, dtype=np.float32)
    except Exception as exc:
        raise SifImportError(f"{path}: not a readable Andor SIF file: {_one_line(exc)}") from exc
    _check_data(path, data, info)  # before the calibration: its width comes from the header
    try:
        wavelength = sif_parser.utils.extract_calibration(info)
    except Exception as exc:
        raise SifImportError(f"{path}: damaged or inconsistent SIF file: wavelength calibration: "
                             f"{_one_line(exc)}") from exc
    _check_calibration(path, data, wavelength)
    wavelength = np.asarray(wavelength, dtype=float)
    if wavelength.ndim == 2:
        wavelength = wavelength[0]
    return data, wavelength, dict(info)


class _EndGuard(io.BufferedReader):
    """The SIF file for sif_parser, which reads its header a byte at a time until a space and would spin
    forever at the end of a truncated file: reading a byte past the end raises EOFError instead."""

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if size == 1 and not chunk:
            raise EOFError(f"the file ends at byte {self.tell()}, inside its header or data")
        return chunk


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _bad(path: Path, what: str) -> SifImportError:
    return SifImportError(f"{path}: damaged or inconsistent SIF file: {what}")


def _check_data(path: Path, data: np.ndarray, info) -> None:
    def bad(what: str) -> SifImportError:
        return _bad(path, what)

    if data.ndim != 3 or data.size == 0:
        raise bad(f"data have shape {data.shape}, expected (frames, rows, pixels)")
    frames, rows, width = data.shape
    header_frames = info.get("NumberOfFrames")
    if header_frames is not None and int(header_frames) != frames:
        raise bad(f"header says {header_frames} frames, the file holds {frames}")
    header_width = info.get("ImageLength", (info.get("DetectorDimensions") or (None,))[0])
    if header_width is not None and int(header_width) != width:
        raise bad(f"header says {header_width} pixels per row, the data have {width}")
    size = info.get("size")
    if size is not None and tuple(int(n) for n in size) != (width, rows):
        raise bad(f"header image size {tuple(size)} does not match data rows x pixels {rows} x {width}")
    n_bad = int(np.count_nonzero(~np.isfinite(data)))
    if n_bad:
        raise bad(f"{n_bad} of {data.size} data values are not finite")


def _check_calibration(path: Path, data: np.ndarray, wavelength) -> None:
    def bad(what: str) -> SifImportError:
        return _bad(path, what)

    width = data.shape[-1]
    if wavelength is None:
        raise bad("no wavelength calibration in the header (not a spectrum)")
    cal = np.atleast_2d(np.asarray(wavelength, dtype=float))
    if cal.shape[-1] != width:
        raise bad(f"calibration has {cal.shape[-1]} points for {width} pixels")
    if not np.all(np.isfinite(cal)) or np.any(cal <= 0):
        raise bad("wavelength calibration has non-finite or non-positive values")
    steps = np.diff(cal, axis=-1)
    if width > 1 and not (np.all(steps > 0) or np.all(steps < 0)):
        raise bad("wavelength calibration is not monotonic over the detector")
    if not np.allclose(cal, cal[0], rtol=0, atol=1e-9):
        raise bad("frames have different wavelength calibrations")


def _header_for_hdf5(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and "\0" in value:  # HDF5 strings cannot hold a NUL: keep the bytes
            value = np.frombuffer(value.encode("latin-1", errors="replace"), np.uint8)
        elif isinstance(value, tuple) and all(isinstance(v, int | float) for v in value):
            value = np.asarray(value)
        out[str(key)] = value
    return out


def import_sif(sif_path, h5_path, overwrite: bool = False) -> Path:
    """Convert the Andor .sif at ``sif_path`` into a tepl run file at ``h5_path`` and return its path.

    The .sif is read and checked completely before anything is written; a damaged file raises
    SifImportError (a ValueError) and leaves no output file behind. An existing ``h5_path`` is refused
    (FileExistsError) unless ``overwrite``.
    """
    sif_path = Path(sif_path)
    h5_path = Path(h5_path)
    data, wavelength, info = read_sif(sif_path)
    frames, rows, width = data.shape
    data_type = info.get("DataType") or "Counts"
    data_type = data_type.decode("latin-1") if isinstance(data_type, bytes) else str(data_type)
    data_type = data_type.replace("\0", "")  # an HDF5 attribute string cannot hold a NUL
    parameters = {**source_parameters(sif_path),
                  "exposure_s": {"value": float(info.get("ExposureTime", float("nan"))), "unit": "s"}}
    refuse_existing(h5_path, overwrite)
    with import_recorder(h5_path, "import-sif", parameters, {"andor_sif": _header_for_hdf5(info)},
                         overwrite) as recorder:
        for key, header_unit in HEADER_UNITS.items():
            if key in info:
                recorder.set_attrs(f"/entry/instrument/andor_sif/{key}", units=header_unit)
        recorder.add_axis("wavelength_nm", wavelength, "nm")
        recorder.add_axis("energy_eV", HC_EV_NM / wavelength, "eV", dim="wavelength_nm")
        if rows == 1:
            recorder.add_dataset("spectra", (frames, width), ("frame", "wavelength_nm"), "counts",
                                 signal=True)
            recorder.write("spectra", slice(None), data[:, 0, :])
        else:
            recorder.add_dataset("spectra", (frames, rows, width), ("frame", "row", "wavelength_nm"),
                                 "counts", signal=True)
            recorder.write("spectra", slice(None), data)
        recorder.set_attrs("spectra", long_name=data_type)
        recorder.set_attrs("/entry", source_format="Andor SIF", source_file=sif_path.name)
    return h5_path
