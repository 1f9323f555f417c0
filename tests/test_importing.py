"""The shared import recorder: an import that fails part-way leaves no file; one that ends is complete."""

from __future__ import annotations

import hashlib

import pytest

from tepl.data.importing import import_recorder, refuse_existing, source_parameters
from tepl.data.runfile import read_run


def test_a_failed_import_removes_its_half_written_file(tmp_path):
    out = tmp_path / "half.h5"
    with pytest.raises(RuntimeError, match="bad block"):
        with import_recorder(out, "import-test", {}, {"vendor": {"model": "x"}}, overwrite=False) as rec:
            rec.add_dataset("spectra", (2, 3), ("frame", "wavelength_nm"), "counts", signal=True)
            assert out.exists()
            raise RuntimeError("bad block")
    assert not out.exists()


def test_a_finished_import_is_complete_and_names_its_source(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"photons" * 1000)
    out = tmp_path / "done.h5"
    with import_recorder(out, "import-test", source_parameters(source), {"vendor": {"model": "x"}},
                         overwrite=False) as rec:
        rec.add_dataset("spectra", (1, 3), ("frame", "wavelength_nm"), "counts", signal=True)
    run = read_run(out)
    assert run.status == "complete" and run.procedure == "import-test"
    assert run.parameters["source_sha256"][0] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert run.parameters["source_file"][0] == str(source.resolve())
    with pytest.raises(FileExistsError, match="done.h5 already exists"):
        refuse_existing(out, overwrite=False)
    refuse_existing(out, overwrite=True)
