"""TTTR record decoding / encoding against ptufile (the reference reader) and the PicoQuant bit layouts."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import ptufile
import pytest

from tepl.data.ptu import write_ptu
from tepl.drivers import tttr

FIXTURES = Path(__file__).parent / "fixtures" / "picoquant"
HH_T3 = FIXTURES / "hydraharp_v20_t3.ptu"
PH_T2 = FIXTURES / "picoharp_v30_t2.ptu"


def test_record_type_names_and_codes_are_ptufiles():
    for member in ptufile.PtuRecordType:
        assert tttr.RECORD_TYPES[member.name] == member.value
        assert tttr.record_type_name(member.value) == member.name
        assert tttr.record_mode(member.value) == member.name[-2:]
    assert tttr.RECORD_TYPES["MultiHarpT3"] == ptufile.PtuRecordType.GenericT3.value
    assert tttr.RECORD_TYPES["MultiHarpT2"] == ptufile.PtuRecordType.GenericT2.value


def _random_t2(rng, layout, n=4000):
    """Sorted times with gaps of up to 100 wraps (ptufile's decoder handles fewer than 128 per record)."""
    gaps = rng.exponential(layout.wrap / 40, n)
    long = rng.choice(n, n // 100, replace=False)
    gaps[long] = rng.integers(1, 100, long.size) * float(layout.wrap)
    time = np.cumsum(gaps).astype(np.int64)
    channel = rng.integers(0, min(layout.n_channels, 4), n)
    marker_time = np.sort(rng.integers(0, time[-1], 40))
    marker_bits = rng.integers(1, 16, 40)
    return time, channel, marker_time, marker_bits


def _random_t3(rng, layout, n=4000):
    gaps = rng.geometric(4.0 / layout.wrap, n) - 1
    gaps[:: n // 20] += rng.integers(0, 5000) * layout.wrap  # long dark stretches: many overflows
    nsync = np.cumsum(gaps).astype(np.int64)
    dtime = rng.integers(0, layout.dtime_bins, n)
    channel = rng.integers(0, 4, n)
    marker_nsync = np.sort(rng.integers(0, nsync[-1], 40))
    marker_bits = rng.integers(1, 16, 40)
    return nsync, dtime, channel, marker_nsync, marker_bits


def _ptufile_read(path):
    with ptufile.PtuFile(path) as ptu:
        return ptu.decode_records(), ptu.number_records


@pytest.mark.parametrize("name", [m.name for m in ptufile.PtuRecordType])
def test_encode_write_ptu_and_ptufile_reads_the_same_photons(name, tmp_path):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    layout = tttr.record_layout(name)
    path = tmp_path / f"{name}.ptu"
    if layout.mode == "T2":
        time, channel, marker_time, marker_bits = _random_t2(rng, layout)
        records = tttr.encode_t2(time, channel, marker_time, marker_bits, record_type=name)
        write_ptu(path, records, name, 4e-12, 4e-12)
        decoded, n_records = _ptufile_read(path)
        photons = decoded[decoded["channel"] >= 0]
        np.testing.assert_array_equal(photons["time"], time)
        np.testing.assert_array_equal(photons["channel"], channel)
        markers = decoded[decoded["marker"] > 0]
        expected = (marker_time & ~0xF) | marker_bits if layout.family == "pt2" else marker_time
        np.testing.assert_array_equal(markers["time"], expected)
        np.testing.assert_array_equal(markers["marker"], marker_bits)
        t, c, mt, mb = tttr.decode_t2(records, name)
        np.testing.assert_array_equal(t, time)
        np.testing.assert_array_equal(c, channel)
        np.testing.assert_array_equal(mt, expected)
        np.testing.assert_array_equal(mb, marker_bits)
    else:
        nsync, dtime, channel, marker_nsync, marker_bits = _random_t3(rng, layout)
        records = tttr.encode_t3(nsync, dtime, channel, marker_nsync, marker_bits, record_type=name)
        write_ptu(path, records, name, 100e-9, 16e-12)
        decoded, n_records = _ptufile_read(path)
        photons = decoded[decoded["channel"] >= 0]
        np.testing.assert_array_equal(photons["time"], nsync)
        np.testing.assert_array_equal(photons["dtime"], dtime)
        np.testing.assert_array_equal(photons["channel"], channel)
        markers = decoded[decoded["marker"] > 0]
        np.testing.assert_array_equal(markers["time"], marker_nsync)
        np.testing.assert_array_equal(markers["marker"], marker_bits)
        s, d, c, ms, mb = tttr.decode_t3(records, name)
        for ours, truth in ((s, nsync), (d, dtime), (c, channel), (ms, marker_nsync), (mb, marker_bits)):
            np.testing.assert_array_equal(ours, truth)
    assert n_records == records.size
    overflows = records.size - time.size - 40 if layout.mode == "T2" else records.size - nsync.size - 40
    assert overflows > 0  # the streams really wrapped


def _read_fixture_records(path: Path) -> np.ndarray:
    """Raw records straight from the file: everything after Header_End, found independently of ptufile."""
    data = path.read_bytes()
    tag = data.index(b"Header_End")
    return np.frombuffer(data[tag + 48:], dtype="<u4")


def test_fixture_records_decode_exactly_to_ptufiles_photons():
    records = _read_fixture_records(HH_T3)
    with ptufile.PtuFile(HH_T3) as ptu:
        assert records.size == ptu.number_records == 106_349
        np.testing.assert_array_equal(records, ptu.read_records())
        ref = ptu.decode_records()
    nsync, dtime, channel, marker_nsync, _ = tttr.decode_t3(records, ptu.record_type)
    photons = ref[ref["channel"] >= 0]
    np.testing.assert_array_equal(nsync, photons["time"])
    np.testing.assert_array_equal(dtime, photons["dtime"])
    np.testing.assert_array_equal(channel, photons["channel"])
    assert marker_nsync.size == np.count_nonzero(ref["marker"])

    records = _read_fixture_records(PH_T2)
    with ptufile.PtuFile(PH_T2) as ptu:
        assert records.size == ptu.number_records == 929_254
        ref = ptu.decode_records()
    time, channel, marker_time, _ = tttr.decode_t2(records, "PicoHarpT2")
    photons = ref[ref["channel"] >= 0]
    np.testing.assert_array_equal(time, photons["time"])
    np.testing.assert_array_equal(channel, photons["channel"])
    assert set(np.unique(channel)) == {0, 1}
    assert marker_time.size == np.count_nonzero(ref["marker"])


def test_decoders_keep_the_overflow_count_across_fifo_chunks():
    rng = np.random.default_rng(7)
    records = _read_fixture_records(PH_T2)
    whole = tttr.decode_t2(records, "PicoHarpT2")
    dec = tttr.T2Decoder(tttr.RECORD_TYPES["PicoHarpT2"])
    cuts = np.sort(rng.integers(0, records.size, 30))
    parts = [dec.decode(chunk) for chunk in np.split(records, cuts)]
    for i in range(4):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts]), whole[i])

    records = _read_fixture_records(HH_T3)
    whole3 = tttr.decode_t3(records, "HydraHarp2T3")
    dec3 = tttr.T3Decoder(tttr.RECORD_TYPES["HydraHarp2T3"])
    parts3 = [dec3.decode(chunk) for chunk in np.array_split(records, 17)]
    for i in range(5):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts3]), whole3[i])


@pytest.mark.parametrize("name", ["HydraHarp2T3", "HydraHarpT3", "PicoHarpT3"])
def test_encoder_continues_a_stream_across_calls(name):
    rng = np.random.default_rng(11)
    layout = tttr.record_layout(name)
    nsync, dtime, channel, _, _ = _random_t3(rng, layout, n=3000)
    one_shot = tttr.encode_t3(nsync, dtime, channel, record_type=name)
    enc = tttr.T3Encoder(layout.code)
    pieces = [enc.encode(nsync[i:i + 250], dtime[i:i + 250], channel[i:i + 250]) for i in range(0, 3000, 250)]
    np.testing.assert_array_equal(np.concatenate(pieces), one_shot)
    end = int(nsync[-1]) + 7 * layout.wrap + 3
    tail = enc.advance_to(end)
    dec = tttr.T3Decoder(layout.code)
    dec.decode(np.concatenate([one_shot, tail]))
    assert dec.offset == (end // layout.wrap) * layout.wrap  # the stream's epoch reached the end time


def _reference_decode_ht2_v2(records):
    """Plain-Python PicoQuant HydraHarp v2 T2 decoding, record by record (the published algorithm)."""
    overflow, times, channels = 0, [], []
    for rec in records.tolist():
        special, ch, timetag = rec >> 31, (rec >> 25) & 0x3F, rec & 0x1FFFFFF
        if special and ch == 0x3F:
            overflow += (timetag if timetag > 1 else 1) * 2**25
        elif not special:
            times.append(overflow + timetag)
            channels.append(ch)
    return np.array(times), np.array(channels)


def test_long_gaps_need_multi_wrap_overflow_records():
    time = np.array([5, 3 * 2**25 + 1, 900 * 2**25 + 17, 2**25 * 40_000_000 + 99], np.int64)
    channel = np.array([0, 1, 2, 3])
    records = tttr.encode_t2(time, channel)
    # 900 - 3 wraps fit one overflow record; 4e7 wraps need two (at most 2^25 - 1 each)
    assert records.size == 4 + 1 + 1 + 2
    ref_time, ref_channel = _reference_decode_ht2_v2(records)
    np.testing.assert_array_equal(ref_time, time)
    np.testing.assert_array_equal(ref_channel, channel)
    t, c, _, _ = tttr.decode_t2(records, "HydraHarp2T2")
    np.testing.assert_array_equal(t, time)


def test_hydraharp_sync_records_are_consumed():
    sync_record = np.uint32(0x80000000 | 123)  # special, channel 0: a sync event
    photon = tttr.encode_t2([200], [1])
    dec = tttr.T2Decoder(tttr.RECORD_TYPES["HydraHarp2T2"])
    time, channel, _, _ = dec.decode(np.concatenate([[sync_record], photon]))
    assert time.tolist() == [200] and channel.tolist() == [1] and dec.n_sync == 1


def test_bad_input_is_refused_with_clear_errors():
    with pytest.raises(ValueError, match="0x00012345"):
        tttr.T3Decoder(0x00012345)
    with pytest.raises(ValueError, match="unknown TTTR record type name"):
        tttr.T2Encoder("HydraHarp9T2")
    with pytest.raises(ValueError, match="T3 format, not T2"):
        tttr.T2Decoder(tttr.RECORD_TYPES["HydraHarp2T3"])
    with pytest.raises(ValueError, match="time -3 out of range"):
        tttr.encode_t2([-3, 5], [0, 0])
    with pytest.raises(ValueError, match="sorted"):
        tttr.encode_t2([10, 5], [0, 0])
    with pytest.raises(ValueError, match="channel 64 out of range"):
        tttr.encode_t2([1, 2], [0, 64])
    with pytest.raises(ValueError, match="channel 4 out of range"):
        tttr.encode_t3([1, 2], [0, 0], [0, 4], record_type="PicoHarpT3")
    with pytest.raises(ValueError, match="dtime 32768 bins out of range"):
        tttr.encode_t3([1, 2], [0, 32768], [0, 0])
    with pytest.raises(ValueError, match="dtime 4096 bins out of range"):
        tttr.encode_t3([1, 2], [0, 4096], [0, 0], record_type="PicoHarpT3")
    with pytest.raises(ValueError, match="marker_bits 16 out of range"):
        tttr.encode_t3([1], [0], [0], marker_nsync=[1], marker_bits=[16])
    with pytest.raises(ValueError, match="integers"):
        tttr.encode_t2(np.array([1.5]), [0])
    enc = tttr.T2Encoder()
    enc.encode([100, 200], [0, 1])
    with pytest.raises(ValueError, match="go back in time"):
        enc.encode([150], [0])
    with pytest.raises(ValueError, match="unsigned 32-bit"):
        tttr.decode_t2(np.array([-1]), "HydraHarp2T2")
