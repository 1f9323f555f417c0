"""PTU import / export (acceptance point 1): the real PicoQuant fixtures and synthetic tepl runs, checked
against ptufile's reading of the same files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import ptufile
import pytest

from tepl.analysis.correlation import g2_from_tags
from tepl.data.ptu import PtuImportError, read_ptu
from tepl.data.ptu_export import export_ptu
from tepl.data.recorder import Recorder
from tepl.data.runfile import read_run
from tepl.data.tags import add_tags, append_tags, read_tags
from tepl.ptu_import import import_ptu
from tepl.roles import T2Block, T3Block

FIXTURES = Path(__file__).parent / "fixtures" / "picoquant"
HH_T3 = FIXTURES / "hydraharp_v20_t3.ptu"
PH_T2 = FIXTURES / "picoharp_v30_t2.ptu"


def tepl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tepl.cli", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"tepl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def _ptufile(path):
    with ptufile.PtuFile(path) as ptu:
        return ptu.decode_records(), ptu.read_records().copy(), dict(ptu.tags)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("imported")
    paths = {"hh": out / "hh.h5", "ph": out / "ph.h5"}
    tepl("import", str(HH_T3), "--out", str(paths["hh"]))
    tepl("import", str(PH_T2), "--out", str(paths["ph"]))
    return paths


def test_hydraharp_t3_import_matches_ptufile(imported):
    ref, raw, tags = _ptufile(HH_T3)
    photons = ref[ref["channel"] >= 0]
    stored = read_tags(imported["hh"])
    assert isinstance(stored, T3Block)
    assert stored.attrs["mode"] == "T3" and stored.attrs["record_type_name"] == "HydraHarp2T3"
    np.testing.assert_array_equal(stored.raw_records, raw)
    assert stored.raw_records.size == 106_349
    np.testing.assert_array_equal(stored.sync, photons["time"])
    np.testing.assert_array_equal(stored.dtime, photons["dtime"])
    np.testing.assert_array_equal(stored.channel, photons["channel"])
    assert stored.resolution_ps == pytest.approx(tags["MeasDesc_Resolution"] * 1e12, rel=1e-12)
    assert stored.sync_period_ps == pytest.approx(tags["MeasDesc_GlobalResolution"] * 1e12, rel=1e-12)
    assert stored.duration_s == pytest.approx(10.0)

    run = read_run(imported["hh"])
    assert run.procedure == "import-ptu" and run.status == "complete" and run.signal == "decay"
    assert run.instruments["picoquant_ptu"]["HW_Type"] == "HydraHarp"
    # decay per channel from the stored tags = np.histogram of ptufile's photons = ptufile's own histogram
    decay = run.data["decay"]
    n_bins = decay.shape[1]
    for ch in range(decay.shape[0]):
        sel = photons["dtime"][photons["channel"] == ch]
        expected, _ = np.histogram(sel, bins=np.arange(n_bins + 1))
        np.testing.assert_array_equal(decay[ch], expected)
    with ptufile.PtuFile(HH_T3) as ptu:
        theirs = ptu.decode_histogram(dtype=np.uint64)
    common = min(theirs.shape[1], n_bins)
    np.testing.assert_array_equal(decay[:, :common], theirs[:, :common])
    assert decay[:, common:].sum() == theirs[:, common:].sum() == 0
    t_ns = run.data["tcspc_time_ns"]
    assert t_ns[1] - t_ns[0] == pytest.approx(tags["MeasDesc_Resolution"] * 1e9)


def test_picoharp_t2_import_matches_ptufile(imported):
    ref, raw, tags = _ptufile(PH_T2)
    photons = ref[ref["channel"] >= 0]
    stored = read_tags(imported["ph"])
    assert isinstance(stored, T2Block) and stored.attrs["mode"] == "T2"
    assert stored.raw_records.size == 929_254
    np.testing.assert_array_equal(stored.raw_records, raw)
    np.testing.assert_array_equal(stored.time_ps, photons["time"].astype(np.int64) * 4)  # 4 ps time tags
    np.testing.assert_array_equal(stored.channel, photons["channel"])
    assert stored.resolution_ps == pytest.approx(4.0)
    assert stored.duration_s == pytest.approx(tags["TTResult_StopAfter"] / 1000.0)  # stopped early on overflow

    run = read_run(imported["ph"])
    assert run.signal == "counts"
    counts, time_s = run.data["counts"], run.data["time_s"]
    bin_s = time_s[1] - time_s[0]
    with ptufile.PtuFile(PH_T2) as ptu:  # ptufile's binned trace with the same bin, in 4 ps units
        theirs = ptu.decode_histogram(sampling_time=int(round(bin_s / 4e-12)), dtype=np.uint64)
    common = min(theirs.shape[1], counts.shape[1])
    assert common > 100
    np.testing.assert_array_equal(counts[:, :common], theirs[:, :common])
    assert counts.sum() == photons.size


def _brute_force_coincidences(t_a, t_b, bin_ps, k_max):
    """All pairs by broadcasting, block by block (no sorting used): counts per lag bin centred on k * bin."""
    half = (k_max + 0.5) * bin_ps
    counts = np.zeros(2 * k_max + 1, np.int64)
    for block in np.array_split(t_a, max(1, t_a.size // 500)):
        lag = (t_b[None, :] - block[:, None]).ravel()
        lag = lag[(lag >= -half) & (lag < half)]
        counts += np.bincount(np.floor((lag + half) / bin_ps).astype(np.int64), minlength=counts.size)
    return counts


def test_g2_from_imported_picoharp_tags_equals_brute_force_pair_count(imported):
    ref, _, _ = _ptufile(PH_T2)
    photons = ref[ref["channel"] >= 0]
    t_ps = photons["time"].astype(np.int64) * 4
    stored = read_tags(imported["ph"], raw_records=False)
    bin_ps, window_ps = 10_000.0, 5_000_000.0
    # a 0.25 s stretch (about 30 000 photons) for the brute force
    keep = stored.time_ps < 2.5e11
    lag_ns, g2, counts = g2_from_tags(stored.time_ps[keep], stored.channel[keep], bin_ps, window_ps, 0.25)
    sel = t_ps < 2.5e11
    t_a, t_b = t_ps[sel & (photons["channel"] == 0)], t_ps[sel & (photons["channel"] == 1)]
    expected = _brute_force_coincidences(t_a, t_b, bin_ps, k_max=500)
    assert counts.sum() > 5000
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(lag_ns, np.arange(-500, 501) * 10.0)
    np.testing.assert_allclose(g2, counts / (t_a.size * t_b.size * bin_ps * 1e-12 / 0.25))


def test_export_of_imported_fixtures_gives_identical_records(imported, tmp_path):
    for key, source in (("hh", HH_T3), ("ph", PH_T2)):
        out = tmp_path / f"{key}.ptu"
        tepl("export", str(imported[key]), "--ptu", "--out", str(out))
        ref, raw, tags = _ptufile(source)
        back, back_raw, back_tags = _ptufile(out)
        np.testing.assert_array_equal(back_raw, raw)
        np.testing.assert_array_equal(back, ref)
        for tag in ("TTResultFormat_TTTRRecType", "MeasDesc_GlobalResolution", "MeasDesc_Resolution",
                    "TTResult_NumberOfRecords", "TTResult_SyncRate", "HW_Type", "MeasDesc_AcquisitionTime"):
            assert back_tags[tag] == tags[tag], tag


def _synthetic_run(path, block, markers=None):
    mode = "T2" if isinstance(block, T2Block) else "T3"
    with Recorder(path, "g2" if mode == "T2" else "confocal-raster", {}, "", {}, "tepl test") as rec:
        add_tags(rec, mode, resolution_ps=block.resolution_ps,
                 sync_period_ps=getattr(block, "sync_period_ps", float("inf")), n_channels=2,
                 duration_s=block.duration_s, markers=markers is not None)
        n = block.n_photons
        for part in np.array_split(np.arange(n), 5):  # appended block by block, as a procedure does
            sub = T2Block(block.time_ps[part], block.channel[part], 0.0, block.resolution_ps) if mode == "T2" \
                else T3Block(block.sync[part], block.dtime[part], block.channel[part], 0.0, block.resolution_ps,
                             block.sync_period_ps)
            append_tags(rec, sub)
            rec.flush()
        if markers is not None:
            rec.append("tags/marker_sync", markers[0])
            rec.append("tags/marker_bits", markers[1])


def test_export_of_synthetic_t2_and_t3_runs_reads_back_identically(tmp_path):
    rng = np.random.default_rng(5)
    n = 50_000
    time_ps = np.cumsum(rng.exponential(2e6, n)).astype(np.int64)  # 500 k/s for 0.1 s, 1 ps resolution
    t2 = T2Block(time_ps, rng.integers(0, 2, n).astype(np.int8), 0.1, 1.0)
    _synthetic_run(tmp_path / "t2.h5", t2)
    export_ptu(tmp_path / "t2.h5", tmp_path / "t2.ptu")
    back, _, tags = _ptufile(tmp_path / "t2.ptu")
    assert tags["TTResultFormat_TTTRRecType"] == ptufile.PtuRecordType.HydraHarp2T2
    assert tags["MeasDesc_GlobalResolution"] == 1e-12 and tags["TTResult_NumberOfRecords"] == back.size
    photons = back[back["channel"] >= 0]
    np.testing.assert_array_equal(photons["time"], time_ps)
    np.testing.assert_array_equal(photons["channel"], t2.channel)

    sync_period_ps, res_ps = 500_000.0, 16.0
    sync = np.cumsum(rng.geometric(0.01, n)).astype(np.int64) - 1
    dtime = np.minimum(rng.exponential(2500.0, n), 31249).astype(np.int32)
    t3 = T3Block(sync, dtime, rng.integers(0, 2, n).astype(np.int8), 2.5, res_ps, sync_period_ps)
    marker_sync = np.sort(rng.integers(0, sync[-1], 30))
    marker_bits = rng.integers(1, 8, 30).astype(np.uint8)
    _synthetic_run(tmp_path / "t3.h5", t3, markers=(marker_sync, marker_bits))
    tepl("export", str(tmp_path / "t3.h5"), "--ptu")  # default output beside the run file
    back, _, tags = _ptufile(tmp_path / "t3.ptu")
    assert tags["TTResultFormat_TTTRRecType"] == ptufile.PtuRecordType.HydraHarp2T3
    assert tags["MeasDesc_GlobalResolution"] == pytest.approx(sync_period_ps * 1e-12, rel=1e-15)
    assert tags["MeasDesc_Resolution"] == pytest.approx(res_ps * 1e-12, rel=1e-15)
    assert tags["TTResult_NumberOfRecords"] == back.size
    photons = back[back["channel"] >= 0]
    np.testing.assert_array_equal(photons["time"], sync)
    np.testing.assert_array_equal(photons["dtime"], dtime)
    np.testing.assert_array_equal(photons["channel"], t3.channel)
    markers = back[back["marker"] > 0]
    np.testing.assert_array_equal(markers["time"], marker_sync)
    np.testing.assert_array_equal(markers["marker"], marker_bits)
    # and the exported file imports back to the same tags
    import_ptu(tmp_path / "t3.ptu", tmp_path / "t3_again.h5")
    again = read_tags(tmp_path / "t3_again.h5")
    np.testing.assert_array_equal(again.sync, sync)
    np.testing.assert_array_equal(again.dtime, dtime)
    assert again.duration_s == pytest.approx(2.5)


def test_export_refuses_tags_it_cannot_represent(tmp_path):
    t3 = T3Block(np.array([1, 2]), np.array([10, 4000], np.int16), np.array([0, 100], np.int8), 1.0, 1.0, 1e6)
    _synthetic_run(tmp_path / "wide.h5", t3)  # (a dtime int16 cannot hold is refused earlier: test_dtime_int16)
    with pytest.raises(ValueError, match="channel 100 out of range"):
        export_ptu(tmp_path / "wide.h5", tmp_path / "wide.ptu")
    assert not (tmp_path / "wide.ptu").exists()
    no_tags = tmp_path / "none.h5"
    with Recorder(no_tags, "raster", {}, "", {}, "tepl test"):
        pass
    p = tepl("export", str(no_tags), "--ptu", check=False)
    assert p.returncode == 2 and "no photon tags" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def _unsupported_copy(path: Path) -> None:
    data = bytearray(HH_T3.read_bytes())
    at = data.index(b"TTResultFormat_TTTRRecType")
    data[at + 40:at + 48] = (0x00010399).to_bytes(8, "little")
    path.write_bytes(bytes(data))


def test_bad_ptu_files_are_refused_naming_the_file(tmp_path):
    truncated = tmp_path / "truncated.ptu"
    truncated.write_bytes(HH_T3.read_bytes()[:300_000])
    not_ptu = tmp_path / "spectrum.ptu"
    not_ptu.write_bytes(b"this is not a PicoQuant file" * 10)
    header_only = tmp_path / "cut_header.ptu"
    header_only.write_bytes(HH_T3.read_bytes()[:1500])
    unsupported = tmp_path / "unsupported.ptu"
    _unsupported_copy(unsupported)
    cases = {truncated: "truncated", not_ptu: "not a readable", header_only: "not a readable",
             unsupported: "unsupported TTTR record type 0x00010399", tmp_path / "missing.ptu": "no such PTU file"}
    for path, message in cases.items():
        with pytest.raises(PtuImportError, match=message) as info:
            read_ptu(path)
        assert path.name in str(info.value)
        out = tmp_path / f"{path.stem}.h5"
        with pytest.raises(PtuImportError):
            import_ptu(path, out)
        assert not out.exists()
    for path in (truncated, unsupported):  # the command line: one clear line, exit code 2, no output file
        out = tmp_path / f"{path.stem}.h5"
        p = tepl("import", str(path), "--out", str(out), check=False)
        assert p.returncode == 2 and path.name in p.stderr and len(p.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_existing_outputs_are_refused_unless_overwrite(imported, tmp_path):
    out = tmp_path / "taken.h5"
    out.write_bytes(b"keep me")
    p = tepl("import", str(HH_T3), "--out", str(out), check=False)
    assert p.returncode == 2 and "--overwrite" in p.stderr and out.read_bytes() == b"keep me"
    tepl("import", str(HH_T3), "--out", str(out), "--overwrite")
    with h5py.File(out, "r") as f:
        assert f["/entry"].attrs["procedure"] == "import-ptu"
    ptu_out = tmp_path / "taken.ptu"
    ptu_out.write_bytes(b"keep me")
    p = tepl("export", str(imported["hh"]), "--ptu", "--out", str(ptu_out), check=False)
    assert p.returncode == 2 and "--overwrite" in p.stderr and ptu_out.read_bytes() == b"keep me"
    p = tepl("export", str(imported["hh"]), "--out", str(ptu_out), check=False)
    assert p.returncode == 2 and "--ptu" in p.stderr
