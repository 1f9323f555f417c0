"""Histograms and correlations from photon tags (numpy, vectorised; plain arrays in, arrays out).

* ``decay_histogram``: TCSPC decay per detector channel from T3 ``dtime`` bins.
* ``flim_cube`` / ``decode_t3_to_flim``: decay per channel and pixel (FLIM), pixels from sync-index ranges
  (``pixels_from_sync``) or from line / frame scanner markers (``pixels_from_markers``).
* ``cross_correlate`` / ``g2_from_tags``: histogram of t2 - t1 over all photon pairs within a lag window
  (Hanbury Brown-Twiss g2 when the two inputs see one emitter through a 50:50 splitter).
* ``bin_trace``: photon counts per channel in time bins (intensity trace, blinking).

Times in ps (``*_ps``, int64 from tags), TCSPC delays in bins, sync indices in laser periods.
"""

from __future__ import annotations

import math

import numpy as np

from tepl import kernels


def _1d(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def _positive_int(value, name: str) -> int:
    n = int(value)
    if n < 1 or n != value:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def _bins(dtime: np.ndarray, bin_factor: int) -> np.ndarray:
    """Coarse TCSPC bins ``dtime // bin_factor`` (a shift for powers of two), as an integer array. The divisor
    goes in as int64: a Python int beyond int16 would not combine with an int16 dtime (numpy 2 raises)."""
    if bin_factor == 1:
        return dtime
    if bin_factor & (bin_factor - 1) == 0:
        return dtime >> (bin_factor.bit_length() - 1)  # a shift past the type's width gives 0 (or -1 below 0)
    return dtime // np.int64(bin_factor)


def _in_range(arr: np.ndarray, high: int) -> bool:
    return arr.size == 0 or (int(arr.min()) >= 0 and int(arr.max()) < high)


def _histogram(indices: list[tuple[np.ndarray, int]], minlength: int) -> np.ndarray:
    """bincount of the row-major flat index of (index array, size) pairs, leaving out-of-range entries out."""
    ok = None
    for arr, size in indices:
        if not _in_range(arr, size):
            bad = (arr < 0) | (arr >= size)
            ok = ~bad if ok is None else ok & ~bad
    flat = None
    for arr, size in indices:
        if ok is not None:
            arr = arr[ok]
        if flat is None:
            flat = arr.astype(np.int64)
        else:
            flat *= size
            flat += arr
    return np.bincount(flat, minlength=minlength)


def decay_histogram(dtime: np.ndarray, channel: np.ndarray, n_bins: int, n_channels: int,
                    bin_factor: int = 1) -> np.ndarray:
    """Counts per (channel, TCSPC bin), int64 of shape (n_channels, n_bins).

    ``dtime``: TCSPC bins after the sync pulse; with ``bin_factor`` k, bin ``dtime // k`` (``n_bins`` counts the
    coarse bins). Photons outside [0, n_bins) or on channels outside [0, n_channels) are left out.
    """
    dtime, channel = _1d(dtime, "dtime"), _1d(channel, "channel")
    if dtime.size != channel.size:
        raise ValueError(f"dtime ({dtime.size}) and channel ({channel.size}) differ in length")
    n_bins, n_channels = _positive_int(n_bins, "n_bins"), _positive_int(n_channels, "n_channels")
    bin_factor = _positive_int(bin_factor, "bin_factor")
    counts = _histogram([(channel, n_channels), (_bins(dtime, bin_factor), n_bins)], n_channels * n_bins)
    return counts.reshape(n_channels, n_bins)


def flim_cube(pixel_index: np.ndarray, dtime: np.ndarray, channel: np.ndarray, n_pixels: int, n_bins: int,
              n_channels: int, bin_factor: int = 1) -> np.ndarray:
    """Counts per (channel, pixel, TCSPC bin), int64. Photons with a pixel index outside [0, n_pixels)
    (e.g. -1 for line returns) and bins or channels out of range are left out."""
    pixel_index, dtime, channel = _1d(pixel_index, "pixel_index"), _1d(dtime, "dtime"), _1d(channel, "channel")
    if not pixel_index.size == dtime.size == channel.size:
        raise ValueError(f"pixel_index ({pixel_index.size}), dtime ({dtime.size}) and channel ({channel.size}) "
                         "differ in length")
    n_pixels, n_bins = _positive_int(n_pixels, "n_pixels"), _positive_int(n_bins, "n_bins")
    n_channels, bin_factor = _positive_int(n_channels, "n_channels"), _positive_int(bin_factor, "bin_factor")
    size = n_channels * n_pixels * n_bins
    if size > 2**31:
        raise ValueError(f"FLIM cube of {n_channels} x {n_pixels} x {n_bins} bins is too large; use bin_factor")
    counts = _histogram([(channel, n_channels), (pixel_index, n_pixels), (_bins(dtime, bin_factor), n_bins)], size)
    return counts.reshape(n_channels, n_pixels, n_bins)


def pixels_from_sync(nsync: np.ndarray, sync_per_pixel: int, n_pixels: int, first_sync: int = 0) -> np.ndarray:
    """Pixel of each photon when pixel i spans sync pulses [first + i * sync_per_pixel, first + (i+1) * ...);
    -1 outside the n_pixels pixels."""
    nsync = _1d(nsync, "nsync")
    sync_per_pixel, n_pixels = _positive_int(sync_per_pixel, "sync_per_pixel"), _positive_int(n_pixels, "n_pixels")
    pixel = nsync.astype(np.int64)
    if first_sync:
        pixel -= int(first_sync)
    pixel //= sync_per_pixel
    if not _in_range(pixel, n_pixels):
        pixel[(pixel < 0) | (pixel >= n_pixels)] = -1
    return pixel


def _line_table(marker_nsync: np.ndarray, marker_bits: np.ndarray, n_y: int, line_start_mask: int,
                line_stop_mask: int, frame_mask: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scan lines from markers: (start, end sync index, y, frame) of each line kept (see ``pixels_from_markers``)."""
    starts = marker_nsync[(marker_bits & line_start_mask) != 0]
    stops = marker_nsync[(marker_bits & line_stop_mask) != 0]
    frames = marker_nsync[(marker_bits & frame_mask) != 0] if frame_mask else marker_nsync[:0]
    if starts.size == 0 or stops.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    j = np.searchsorted(stops, starts, "left")
    end = stops[np.minimum(j, stops.size - 1)]
    next_start = np.append(starts[1:], np.iinfo(np.int64).max)
    line = np.arange(starts.size)
    if frames.size:
        line_frame = np.searchsorted(frames, starts, "right")
        y = line - np.searchsorted(line_frame, line_frame, "left")
    else:
        line_frame, y = line // n_y, line % n_y
    keep = (j < stops.size) & (end > starts) & (end <= next_start) & (y < n_y)
    return starts[keep], end[keep], y[keep], line_frame[keep]


def _marker_lines(nsync: np.ndarray, marker_nsync: np.ndarray, marker_bits: np.ndarray, n_y: int, n_x: int,
                  line_start_mask: int, line_stop_mask: int, frame_mask: int,
                  with_frame: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Photons inside scan lines: (their indices into ``nsync``, pixel y * n_x + x, frame or None).
    ``nsync`` must be sorted."""
    empty = np.zeros(0, np.int64)
    if nsync.size == 0:
        return empty, empty, empty
    starts, end, y, line_frame = _line_table(marker_nsync, marker_bits, n_y, line_start_mask, line_stop_mask,
                                             frame_mask)
    # nsync is sorted: the photons of a line are one index range
    first = np.searchsorted(nsync, starts, "left")
    counts = np.searchsorted(nsync, end, "left") - first
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    index = np.arange(total, dtype=np.int64)
    index += np.repeat(first - offsets, counts)
    x = nsync[index] - np.repeat(starts, counts)
    x *= n_x
    x //= np.repeat(end - starts, counts)
    x += np.repeat(y * n_x, counts)
    return index, x, np.repeat(line_frame, counts) if with_frame else None


def pixels_from_markers(nsync: np.ndarray, marker_nsync: np.ndarray, marker_bits: np.ndarray,
                        image_shape: tuple[int, int], line_start_mask: int = 1, line_stop_mask: int = 2,
                        frame_mask: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (y * n_x + x) and frame of each photon from scanner markers; -1 outside the image.

    A line runs from a line-start marker to the next line-stop marker and is cut into ``n_x`` equal pixels
    (pixel x holds sync indices with (nsync - start) * n_x // (stop - start) = x); lines count from 0 after
    each frame marker (without frame markers, every ``n_y`` lines make a frame). Lines beyond ``n_y`` in a frame,
    and photons between lines, get pixel -1. Times are sync indices; ``nsync`` must be sorted.
    """
    nsync = _sorted_times(nsync, "nsync")
    marker_nsync = _1d(marker_nsync, "marker_nsync").astype(np.int64, copy=False)
    marker_bits = _1d(marker_bits, "marker_bits")
    n_y, n_x = (_positive_int(n, "image_shape") for n in image_shape)
    index, pixel_in, frame_in = _marker_lines(nsync, marker_nsync, marker_bits, n_y, n_x, line_start_mask,
                                              line_stop_mask, frame_mask)
    pixel = np.full(nsync.size, -1, np.int64)
    frame = np.full(nsync.size, -1, np.int64)
    pixel[index] = pixel_in
    frame[index] = frame_in
    return pixel, frame


def decode_t3_to_flim(records: np.ndarray, record_type: int | str, n_bins: int, n_channels: int, *,
                      sync_per_pixel: int | None = None, n_pixels: int | None = None,
                      image_shape: tuple[int, int] | None = None, bin_factor: int = 1, line_start_mask: int = 1,
                      line_stop_mask: int = 2, frame_mask: int = 4) -> np.ndarray:
    """Raw T3 records straight to a FLIM cube.

    Either ``sync_per_pixel`` and ``n_pixels`` (pixels are consecutive sync-index ranges from the stream start;
    returns (channel, pixel, bin)) or ``image_shape`` (n_y, n_x) with line/frame markers (frames summed;
    returns (channel, y, x, bin)). ``n_bins`` counts bins after ``bin_factor``.
    """
    from tepl.drivers.tttr import decode_t3

    if image_shape is None and (sync_per_pixel is None or n_pixels is None):
        raise ValueError("decode_t3_to_flim needs sync_per_pixel and n_pixels, or image_shape")
    records = np.asarray(records)
    if kernels.ENABLED and records.dtype == np.uint32 and records.ndim == 1:
        return _decode_t3_to_flim_compiled(records, record_type, n_bins, n_channels, sync_per_pixel, n_pixels,
                                           image_shape, bin_factor, line_start_mask, line_stop_mask, frame_mask)
    nsync, dtime, channel, marker_nsync, marker_bits = decode_t3(records, record_type)
    if image_shape is not None:
        n_y, n_x = (_positive_int(n, "image_shape") for n in image_shape)
        index, pixel, _ = _marker_lines(nsync, marker_nsync, marker_bits, n_y, n_x, line_start_mask,
                                        line_stop_mask, frame_mask, with_frame=False)
        cube = flim_cube(pixel, dtime[index], channel[index], n_y * n_x, n_bins, n_channels, bin_factor)
        return cube.reshape(cube.shape[0], n_y, n_x, cube.shape[-1])
    pixel = pixels_from_sync(nsync, sync_per_pixel, n_pixels)
    return flim_cube(pixel, dtime, channel, n_pixels, n_bins, n_channels, bin_factor)


def _cube_size(n_channels, n_pixels: int, n_bins, bin_factor) -> tuple[int, int, int, int]:
    n_pixels, n_bins = _positive_int(n_pixels, "n_pixels"), _positive_int(n_bins, "n_bins")
    n_channels, bin_factor = _positive_int(n_channels, "n_channels"), _positive_int(bin_factor, "bin_factor")
    if n_channels * n_pixels * n_bins > 2**31:
        raise ValueError(f"FLIM cube of {n_channels} x {n_pixels} x {n_bins} bins is too large; use bin_factor")
    return n_channels, n_pixels, n_bins, bin_factor


def _bin_shift(bin_factor: int) -> int:
    """log2(bin_factor) for a power of two, else -1 (the kernels divide)."""
    return bin_factor.bit_length() - 1 if bin_factor & (bin_factor - 1) == 0 else -1


def _decode_t3_to_flim_compiled(records, record_type, n_bins, n_channels, sync_per_pixel, n_pixels, image_shape,
                                bin_factor, line_start_mask, line_stop_mask, frame_mask) -> np.ndarray:
    """``decode_t3_to_flim`` by the compiled kernels, without storing the photons: sync ranges in one pass over
    the records; markers: one pass picking out the markers, the line table from them (few), one pass binning."""
    from tepl.drivers.tttr import record_layout
    from tepl.kernels import tttr as kt

    layout = record_layout(record_type)
    if image_shape is not None:
        n_y, n_x = (_positive_int(n, "image_shape") for n in image_shape)
        n_channels, n_pix, n_bins, bin_factor = _cube_size(n_channels, n_y * n_x, n_bins, bin_factor)
    else:
        sync_per_pixel = _positive_int(sync_per_pixel, "sync_per_pixel")
        n_channels, n_pix, n_bins, bin_factor = _cube_size(n_channels, n_pixels, n_bins, bin_factor)
    if layout.mode != "T3":
        raise ValueError(f"record type {layout.name} (0x{layout.code:08X}) is a {layout.mode} format, not T3")
    b = layout.bits
    fields = (b.special, b.time_mask, b.dtime_shift, b.dtime_mask, b.channel_shift, b.channel_base, layout.n_channels,
              b.kind_shift, b.kind_mask, b.overflow, layout.wrap, layout.multi_wrap)
    if image_shape is None:
        return kt.flim_from_sync(records, *fields, sync_per_pixel, n_pix, _bin_shift(bin_factor), bin_factor, n_bins,
                                 n_channels)
    marker_nsync, marker_bits, _ = kt.t3_markers(records, 0, b.special, b.time_mask, b.kind_shift, b.kind_mask,
                                                 b.overflow, b.last_marker, layout.wrap, layout.multi_wrap)
    starts, ends, y, _ = _line_table(marker_nsync, marker_bits, n_y, line_start_mask, line_stop_mask, frame_mask)
    cube = kt.flim_from_records_lines(records, *fields, starts, ends, y * n_x, n_x, _bin_shift(bin_factor),
                                      bin_factor, n_bins, n_channels, n_pix)
    return cube.reshape(n_channels, n_y, n_x, n_bins)


# ------------------------------------------------------------------------------------------------------
def lag_bins(bin_ps: float, window_ps: float) -> int:
    """K such that the lag bins, centred on k * bin_ps for k = -K..K, cover at least +-window_ps."""
    if not (np.isfinite(bin_ps) and bin_ps > 0):
        raise ValueError(f"bin_ps must be a positive number of ps, got {bin_ps!r}")
    if not (np.isfinite(window_ps) and window_ps >= 0):
        raise ValueError(f"window_ps must be a non-negative number of ps, got {window_ps!r}")
    return max(0, math.ceil(window_ps / bin_ps - 0.5 - 1e-12))


def _sorted_times(values, name: str) -> np.ndarray:
    arr = _1d(values, name)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric times in ps, got dtype {arr.dtype}")
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)  # what astype gives, without the copy
    arr = np.ascontiguousarray(arr, np.int64 if arr.dtype.kind in "iu" else np.float64)
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        unsorted = kt.unsorted(arr)
    else:
        unsorted = arr.size > 1 and bool(np.any(arr[1:] < arr[:-1]))
    if unsorted:
        raise ValueError(f"{name} must be sorted in time")
    return arr


def _searchsorted_sorted(haystack: np.ndarray, keys: np.ndarray, block: int = 1 << 14) -> np.ndarray:
    """``np.searchsorted(haystack, keys, "left")`` for sorted keys, block by block: each block of keys searches
    only its slice of the haystack, which stays in cache (a loop over blocks, not over photons)."""
    if keys.size <= 4 * block:
        return np.searchsorted(haystack, keys, "left")
    out = np.empty(keys.size, np.int64)
    edges = np.append(np.searchsorted(haystack, keys[::block], "left"), haystack.size)
    for i in range(edges.size - 1):
        lo, hi = int(edges[i]), int(edges[i + 1])
        out[i * block:(i + 1) * block] = np.searchsorted(haystack[lo:hi], keys[i * block:(i + 1) * block], "left")
        out[i * block:(i + 1) * block] += lo
    return out


def _correlate_merged(time: np.ndarray, code: np.ndarray, bin_ps: float, k_max: int) -> np.ndarray:
    """Lag histogram (as ``cross_correlate``) from one sorted stream with ``code`` 0 = start channel,
    1 = stop channel, 2 = neither: loops over the neighbour rank r, pairing tag i with tag i + r."""
    half = (k_max + 0.5) * bin_ps
    n_bins = 2 * k_max + 1
    if time.dtype.kind == "i":
        hi_pos, hi_neg = math.ceil(half), math.floor(half)  # start->stop: dt < hi_pos; stop->start: dt <= hi_neg
        reach = max(hi_pos - 1, hi_neg)
    else:
        hi_pos = hi_neg = reach = half
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        return kt.correlate_merged(time, code, hi_pos, hi_neg, reach, float(half), float(bin_ps), n_bins)
    counts = np.zeros(n_bins, np.int64)
    dt = time[1:] - time[:-1]
    idx = np.flatnonzero(dt <= reach)
    dt = dt[idx]
    r = 1
    while idx.size:
        j = idx + r
        if r > 1:
            ok = j < time.size
            idx, j = idx[ok], j[ok]
            dt = time[j] - time[idx]
            near = dt <= reach
            idx, j, dt = idx[near], j[near], dt[near]
        c_i, c_j = code[idx], code[j]
        forward = (c_i == 0) & (c_j == 1) & ((dt < hi_pos) if time.dtype.kind == "i" else (dt < half))
        backward = (c_i == 1) & (c_j == 0) & (dt <= hi_neg)
        lag = np.concatenate([dt[forward], -dt[backward]]).astype(np.float64)
        b = np.floor((lag + half) / bin_ps).astype(np.int64)
        np.clip(b, 0, n_bins - 1, out=b)
        counts += np.bincount(b, minlength=n_bins)
        r += 1
    return counts


def cross_correlate(t1_ps: np.ndarray, t2_ps: np.ndarray, bin_ps: float,
                    window_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of t2 - t1 over all pairs with the lag inside the window: (lag_ps bin centres, counts int64).

    Bins are ``bin_ps`` wide and centred on k * bin_ps, k = -K..K with K = ``lag_bins(bin_ps, window_ps)``, so
    zero lag is a bin centre and pairs with -(K+1/2)·bin <= t2 - t1 < (K+1/2)·bin are counted. Both inputs
    must be sorted. Vectorised: a loop over the neighbour rank inside the window, not over photons.
    """
    t1, t2 = _sorted_times(t1_ps, "t1_ps"), _sorted_times(t2_ps, "t2_ps")
    k_max = lag_bins(bin_ps, window_ps)
    half = (k_max + 0.5) * bin_ps
    n_bins = 2 * k_max + 1
    lag_ps = np.arange(-k_max, k_max + 1) * float(bin_ps)
    counts = np.zeros(n_bins, np.int64)
    if t1.size == 0 or t2.size == 0:
        return lag_ps, counts
    if t1.dtype.kind == "i" and t2.dtype.kind == "i":
        lo, hi = -math.floor(half), math.ceil(half)  # integer lags in [-half, half)
    else:
        t1, t2 = t1.astype(np.float64, copy=False), t2.astype(np.float64, copy=False)
        lo, hi = -half, half
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        return lag_ps, kt.cross_correlate(t1, t2, lo, hi, float(half), float(bin_ps), n_bins)
    start = _searchsorted_sorted(t2, t1 + lo)
    stop = _searchsorted_sorted(t2, t1 + hi)
    idx = np.flatnonzero(stop > start)
    j, stop, t1 = start[idx], stop[idx], t1[idx]
    while j.size:
        dt = (t2[j] - t1).astype(np.float64)
        b = np.floor((dt + half) / bin_ps).astype(np.int64)
        np.clip(b, 0, n_bins - 1, out=b)
        counts += np.bincount(b, minlength=n_bins)
        j += 1
        more = j < stop
        if not more.all():
            j, stop, t1 = j[more], stop[more], t1[more]
    return lag_ps, counts


def g2_normalisation(n_a: int, n_b: int, bin_ps: float, duration_s: float) -> float:
    """Coincidences per lag bin that uncorrelated light gives: N_a N_b bin / T (``bin_ps`` in ps, T in s);
    0 when T is not positive (nothing measured yet)."""
    return float(n_a) * float(n_b) * float(bin_ps) * 1e-12 / duration_s if duration_s > 0 else 0.0


def g2_from_tags(time_ps: np.ndarray, channel: np.ndarray, bin_ps: float, window_ps: float, duration_s: float,
                 ch_a: int = 0, ch_b: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-order correlation of channels ``ch_a`` (start) and ``ch_b`` (stop) from T2 tags.

    Returns (lag_ns bin centres, g2 = counts / (N_a N_b bin / T), raw coincidence counts). The lag is
    t_b - t_a; ``time_ps`` must be sorted; ``duration_s`` is the measurement time T.
    """
    time_ps, channel = _1d(time_ps, "time_ps"), _1d(channel, "channel")
    if time_ps.size != channel.size:
        raise ValueError(f"time_ps ({time_ps.size}) and channel ({channel.size}) differ in length")
    if not (duration_s > 0):
        raise ValueError(f"duration_s must be positive, got {duration_s!r} s")
    n_a, n_b = int(np.count_nonzero(channel == ch_a)), int(np.count_nonzero(channel == ch_b))
    if ch_a == ch_b or not (0 <= ch_a < 256 and 0 <= ch_b < 256):
        lag_ps, counts = cross_correlate(time_ps[channel == ch_a], time_ps[channel == ch_b], bin_ps, window_ps)
    else:
        times = _sorted_times(time_ps, "time_ps")
        k_max = lag_bins(bin_ps, window_ps)
        lookup = np.full(256, 2, np.int8)
        lookup[ch_a], lookup[ch_b] = 0, 1
        code = lookup[channel.astype(np.uint8)]
        lag_ps = np.arange(-k_max, k_max + 1) * float(bin_ps)
        counts = _correlate_merged(times, code, float(bin_ps), k_max)
    norm = g2_normalisation(n_a, n_b, bin_ps, duration_s)
    g2 = counts / norm if norm > 0 else np.full(counts.size, np.nan)
    return lag_ps / 1000.0, g2, counts


def bin_trace(time_ps: np.ndarray, channel: np.ndarray, bin_s: float, duration_s: float,
              n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per channel in consecutive ``bin_s`` bins over [0, duration_s): (time_s bin centres,
    counts[channel, bin] int64). A last partial bin is kept; photons outside are left out."""
    time_ps, channel = _1d(time_ps, "time_ps"), _1d(channel, "channel")
    if time_ps.size != channel.size:
        raise ValueError(f"time_ps ({time_ps.size}) and channel ({channel.size}) differ in length")
    if not (np.isfinite(bin_s) and bin_s > 0):
        raise ValueError(f"bin_s must be a positive number of s, got {bin_s!r}")
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of s, got {duration_s!r}")
    n_channels = _positive_int(n_channels, "n_channels")
    n = max(1, math.ceil(duration_s / bin_s - 1e-9))
    if n * n_channels > 2**31:
        raise ValueError(f"{n} bins of {bin_s:g} s over {duration_s:g} s are too many; use a longer bin_s")
    bin_ps = bin_s * 1e12
    if time_ps.dtype.kind in "iu" and abs(bin_ps - round(bin_ps)) < 1e-6 * bin_ps:
        idx = time_ps.astype(np.int64, copy=False) // int(round(bin_ps))
    else:
        idx = np.floor(time_ps / bin_ps).astype(np.int64)
    flat = channel.astype(np.int64) * n + idx
    ok = (idx >= 0) & (idx < n) & (channel >= 0) & (channel < n_channels)
    if not ok.all():
        flat = flat[ok]
    counts = np.bincount(flat, minlength=n_channels * n).reshape(n_channels, n)
    return (np.arange(n) + 0.5) * bin_s, counts


def dead_time_correction(decay: np.ndarray, n_cycles, bin_ns: float, dead_time_ns: float,
                         period_ns: float | None = None) -> np.ndarray:
    """Undo the pile-up a detector's dead time leaves in a TCSPC decay (generalised Coates correction).

    ``decay[..., bin]`` counts photons per bin of ``bin_ns`` after ``n_cycles`` laser pulses (a number, or an
    array that broadcasts against ``decay``, e.g. pulses per pixel with a trailing axis of 1). A photon in bin
    i is lost when the detector clicked in the ``dead_time_ns`` before it (in this cycle, or at the end of the
    previous one when ``period_ns`` is given and the histogram covers the whole period). Each bin is divided
    by the fraction of cycles in which the detector was live at that bin: ``1 - (clicks in the dead window
    before it) / n_cycles``. Returns float counts with the same shape."""
    counts = np.asarray(decay, float)
    if counts.ndim < 1 or counts.shape[-1] < 1:
        raise ValueError(f"decay must have a time axis, got shape {counts.shape}")
    n_cycles = np.asarray(n_cycles, float)
    if not np.all(n_cycles > 0) or not bin_ns > 0 or dead_time_ns < 0:
        raise ValueError(f"n_cycles ({n_cycles}), bin_ns ({bin_ns} ns) must be positive and dead_time_ns "
                         f"({dead_time_ns} ns) not negative")
    n = counts.shape[-1]
    window = int(np.ceil(dead_time_ns / bin_ns))
    if window == 0:
        return counts.copy()
    wrap = period_ns is not None and n * bin_ns >= period_ns - bin_ns
    padded = np.concatenate([counts[..., n - window:] if wrap else np.zeros(counts.shape[:-1] + (window,)),
                             counts], axis=-1)
    csum = np.cumsum(padded, axis=-1)
    csum = np.concatenate([np.zeros(counts.shape[:-1] + (1,)), csum], axis=-1)
    # clicks in the `window` bins before each bin i (bins i-window .. i-1 of the padded axis)
    before = csum[..., window:window + n] - csum[..., 0:n]
    live = 1.0 - before / n_cycles
    if np.any(live <= 0):
        raise ValueError("the detector is dead in every cycle at some bin: too many counts for this n_cycles")
    return counts / live
