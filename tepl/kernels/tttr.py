"""Compiled TTTR kernels: 32-bit PicoQuant records to photons in one pass, straight to FLIM cubes, and photon
pair histograms by a merge of sorted streams.

The field positions come in as plain integers (``tepl.drivers.tttr_layouts.BitFields``), so one compiled
kernel serves every record type. Results equal the numpy paths of ``tepl.drivers.tttr_decode`` and
``tepl.analysis`` (``tcspc``, ``flim_decode``, ``correlation``) exactly.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.kernels import jit


@jit
def _overflow_time(spec_time, wrap, multi_wrap):
    if multi_wrap:
        return (spec_time if spec_time > 1 else 1) * wrap
    return wrap


@jit
def _special(r, offset, time_mask, kind_shift, kind_mask, overflow, last_marker, wrap, multi_wrap):
    """A special T3 / T2 record ``r`` (int64): (offset after it, its marker bits, or 0 when it is no marker, and
    its time with the offset added)."""
    kind = (r >> kind_shift) & kind_mask
    t = r & time_mask
    if kind == overflow:
        return offset + _overflow_time(t, wrap, multi_wrap), 0, 0
    if 1 <= kind <= last_marker:
        return offset, kind, t + offset
    return offset, 0, 0


_STRIDE = 16  # records tested at once for a special record


@jit
def _next_special(records, i, special):
    """Index of the first special record at or after ``i`` (``records.size`` if none): blocks of ``_STRIDE``
    records are tested with one vectorised count, then the block that holds one record by record."""
    n = records.size
    j = i
    while j + _STRIDE <= n:
        c = 0
        for q in range(_STRIDE):
            c += records[np.uint64(j + q)] >= special  # unsigned index: no negative-index fix-up, vectorises
        if c:
            break
        j += _STRIDE
    while j < n and records[np.uint64(j)] < special:
        j += 1
    return j


@jit
def decode_t3(records, nsync, dtime, channel, offset, special, time_mask, dtime_shift, dtime_mask, channel_shift,
              channel_base, n_channels, kind_shift, kind_mask, overflow, last_marker, wrap, multi_wrap):
    """T3 records into (nsync, dtime, channel), arrays at least as long as ``records``; returns (n_photons,
    marker nsync, marker bits, offset after). The caller allocates the photon outputs with numpy, whose large
    allocations ask for huge pages (far fewer page faults).

    The photons between two special records are one straight vectorised loop, indexed without slices (no
    reference counting per run of photons); it is bound by memory traffic, not arithmetic (32-bit lanes instead
    of numba's 64-bit ones, tried with constant shifts, gained nothing). Markers wait at the end of ``nsync``
    and ``channel``, last first (photons + markers never outnumber the records read, so the two never meet): no
    scratch array, and no array passed to a function per special record, which cost as much as the photons."""
    n = records.size
    sp = np.uint32(special)
    tm, ds, dm, cs = np.uint32(time_mask), np.uint32(dtime_shift), np.uint32(dtime_mask), np.uint32(channel_shift)
    k = 0
    m = 0
    i = 0
    while i < n:
        j = _next_special(records, i, sp)
        if channel_base == 0:
            for q in range(j - i):
                r = records[np.uint64(i + q)]
                nsync[np.uint64(k + q)] = np.int64(r & tm) + offset
                dtime[np.uint64(k + q)] = np.int16((r >> ds) & dm)
                channel[np.uint64(k + q)] = np.int8(r >> cs)
        else:
            for q in range(j - i):
                r = records[np.uint64(i + q)]
                nsync[np.uint64(k + q)] = np.int64(r & tm) + offset
                dtime[np.uint64(k + q)] = np.int16((r >> ds) & dm)
                c = np.int64(r >> cs) - channel_base
                channel[np.uint64(k + q)] = c if 0 <= c < n_channels else n_channels
        k += j - i
        if j < n:
            offset, bits, t = _special(np.int64(records[j]), offset, time_mask, kind_shift, kind_mask, overflow,
                                       last_marker, wrap, multi_wrap)
            if bits:
                m += 1
                nsync[n - m] = t
                channel[n - m] = bits
        i = j + 1
    return k, nsync[n - m:n][::-1].copy(), channel[n - m:n][::-1].astype(np.uint8), offset


@jit
def decode_t2(records, time, channel, offset, special, time_mask, channel_shift, kind_shift, kind_mask, overflow,
              last_marker, wrap, multi_wrap):
    """T2 records into (time, channel) as ``decode_t3`` does (markers waiting at the end of both); returns
    (n_photons, marker times, marker bits, sync records, offset after)."""
    n = records.size
    sp = np.uint32(special)
    tm, cs = np.uint32(time_mask), np.uint32(channel_shift)
    k = 0
    m = 0
    n_sync = 0
    i = 0
    while i < n:
        j = _next_special(records, i, sp)
        for q in range(j - i):
            r = records[np.uint64(i + q)]
            time[np.uint64(k + q)] = np.int64(r & tm) + offset
            channel[np.uint64(k + q)] = np.int8(r >> cs)
        k += j - i
        if j < n:
            r = np.int64(records[j])
            n_sync += ((r >> kind_shift) & kind_mask) == 0
            offset, bits, t = _special(r, offset, time_mask, kind_shift, kind_mask, overflow, last_marker, wrap,
                                       multi_wrap)
            if bits:
                m += 1
                time[n - m] = t
                channel[n - m] = bits
        i = j + 1
    return k, time[n - m:n][::-1].copy(), channel[n - m:n][::-1].astype(np.uint8), n_sync, offset


@jit
def flim_from_sync(records, special, time_mask, dtime_shift, dtime_mask, channel_shift, channel_base,
                   n_channels_field, kind_shift, kind_mask, overflow, wrap, multi_wrap, sync_per_pixel, n_pixels,
                   bin_shift, bin_factor, n_bins, n_channels):
    """T3 records straight to counts[channel, pixel, bin] (int64) with pixel = nsync // sync_per_pixel, without
    storing the photons (records of one stream: nsync does not decrease). ``bin_shift`` >= 0 divides dtime by a
    power of two, else by ``bin_factor``."""
    cube = np.zeros((n_channels, n_pixels, n_bins), np.int64)
    offset = 0
    pixel = 0  # nsync only grows: step the pixel on instead of dividing (a 64-bit division is slow)
    pixel_end = sync_per_pixel
    for i in range(records.size):
        r = np.int64(records[i])
        if r < special:
            t = (r & time_mask) + offset
            if t >= pixel_end:
                if t - pixel_end < 4 * sync_per_pixel:
                    while t >= pixel_end:
                        pixel += 1
                        pixel_end += sync_per_pixel
                else:
                    pixel = t // sync_per_pixel
                    pixel_end = (pixel + 1) * sync_per_pixel
            elif t < pixel_end - sync_per_pixel:  # not one stream: divide
                pixel = t // sync_per_pixel
                pixel_end = (pixel + 1) * sync_per_pixel
            d = (r >> dtime_shift) & dtime_mask
            b = d >> bin_shift if bin_shift >= 0 else d // bin_factor
            c = r >> channel_shift
            if channel_base:
                c = c - channel_base if channel_base <= c < channel_base + n_channels_field else n_channels_field
            if pixel < n_pixels and b < n_bins and c < n_channels:
                cube[np.uint64(c), np.uint64(pixel), np.uint64(b)] += 1  # all >= 0: no fix-ups
        else:
            if ((r >> kind_shift) & kind_mask) == overflow:
                offset += _overflow_time(r & time_mask, wrap, multi_wrap)
    return cube


@jit
def t3_markers(records, offset, special, time_mask, kind_shift, kind_mask, overflow, last_marker, wrap, multi_wrap):
    """Only the markers of T3 (or T2) records: (marker times, marker bits, offset after), the photons skipped."""
    n_special = 0
    for i in range(records.size):  # a vectorised count sizes the outputs
        n_special += records[i] >= special
    m_time, m_bits = np.empty(n_special, np.int64), np.empty(n_special, np.uint8)
    m = 0
    for i in range(records.size):
        if records[i] >= special:
            offset, bits, t = _special(np.int64(records[i]), offset, time_mask, kind_shift, kind_mask, overflow,
                                       last_marker, wrap, multi_wrap)
            if bits:
                m_time[m] = t
                m_bits[m] = bits
                m += 1
    return m_time[:m], m_bits[:m], offset


@jit
def flim_from_records_lines(records, special, time_mask, dtime_shift, dtime_mask, channel_shift, channel_base,
                            n_channels_field, kind_shift, kind_mask, overflow, wrap, multi_wrap, starts, ends,
                            pixel_base, n_x, bin_shift, bin_factor, n_bins, n_channels, n_pixels):
    """T3 records of one stream straight to counts[channel, pixel, bin] for the scan lines [start, end) (sorted,
    not overlapping; line i starts at pixel ``pixel_base[i]``), without storing the photons. Within a line the
    pixel x = (nsync - start) * n_x // (end - start) steps on with nsync instead of dividing per photon."""
    cube = np.zeros((n_channels, n_pixels, n_bins), np.int64)
    n_lines = starts.size
    if n_lines == 0:
        return cube
    offset = 0
    line = 0
    s, e, base = starts[0], ends[0], pixel_base[0]
    span = e - s
    x, x_end = -1, s  # pixel in the line (-1: not yet known) and the first nsync of pixel x + 1
    last = np.int64(-1)
    for i in range(records.size):
        r = np.int64(records[i])
        if r >= special:
            if ((r >> kind_shift) & kind_mask) == overflow:
                offset += _overflow_time(r & time_mask, wrap, multi_wrap)
            continue
        t = (r & time_mask) + offset
        if t < last:  # not one stream: walk the lines again from the first
            line = 0
            s, e, base = starts[0], ends[0], pixel_base[0]
            span, x, x_end = e - s, -1, s
        last = t
        if t >= e:
            while line < n_lines - 1 and t >= ends[line]:
                line += 1
            if t >= ends[line]:  # past the last line
                continue
            s, e, base = starts[line], ends[line], pixel_base[line]
            span, x, x_end = e - s, -1, s
        if t < s:
            continue
        if t >= x_end:
            if x >= 0 and t - x_end < 4 * (span // n_x + 1):
                while t >= x_end:
                    x += 1
                    x_end = s + ((x + 1) * span + n_x - 1) // n_x
            else:
                x = (t - s) * n_x // span
                x_end = s + ((x + 1) * span + n_x - 1) // n_x
        d = (r >> dtime_shift) & dtime_mask
        b = d >> bin_shift if bin_shift >= 0 else d // bin_factor
        c = r >> channel_shift
        if channel_base:
            c = c - channel_base if channel_base <= c < channel_base + n_channels_field else n_channels_field
        pixel = base + x
        if b < n_bins and c < n_channels and 0 <= pixel < n_pixels:
            cube[np.uint64(c), np.uint64(pixel), np.uint64(b)] += 1
    return cube


@jit
def _bin_of(dt, half, bin_ps, n_bins):
    b = int(math.floor((float(dt) + half) / bin_ps))
    return 0 if b < 0 else (n_bins - 1 if b > n_bins - 1 else b)


@jit
def unsorted(values):
    """True when some value is below the one before it (NaN compares as sorted, as in numpy)."""
    bad = False
    for i in range(1, values.size):
        bad |= values[i] < values[i - 1]
    return bad


_PAIRS = 4096  # lags buffered before they are binned


@jit
def _bin_lags(lags, n, counts, half, bin_ps, n_bins):
    for q in range(n):
        counts[_bin_of(lags[q], half, bin_ps, n_bins)] += 1


@jit
def cross_correlate(t1, t2, lo, hi, half, bin_ps, n_bins):
    """Histogram of t2 - t1 over pairs with t1 + lo <= t2 < t1 + hi (both signs in one pass): a merge of the two
    sorted streams. For each t1 tag the pointer into t2 steps on past t1 + lo by comparisons added up rather
    than branched on, the next three t2 tags are the candidates (written to a lag buffer, its length stepped
    on by the test), and only a tag with more than three partners in its window, or an advance of more than
    two, takes a loop; the buffer is binned in batches."""
    counts = np.zeros(n_bins, np.int64)
    lags = np.empty(_PAIRS + 8, t2.dtype)
    nb = 0
    n1, n2 = t1.size, t2.size
    i = 0
    p = 0
    while i < n1 and p + 4 < n2:
        # unsigned indices: no negative-index fix-ups in the loop (every index here is >= 0)
        a = t1[np.uint64(i)]
        x, y = a + lo, a + hi
        if t2[np.uint64(p + 2)] < x:  # the window lies more than two tags on: step there, then look again
            p += 3
            continue
        p += (t2[np.uint64(p)] < x) + (t2[np.uint64(p + 1)] < x)  # t2 sorted: the first tag at or after x
        d0, d1, d2 = t2[np.uint64(p)], t2[np.uint64(p + 1)], t2[np.uint64(p + 2)]
        lags[np.uint64(nb)] = d0 - a
        nb += d0 < y
        lags[np.uint64(nb)] = d1 - a
        nb += d1 < y
        lags[np.uint64(nb)] = d2 - a
        nb += d2 < y
        if d2 < y:  # more partners than three
            j = p + 3
            while j < n2 and t2[j] < y:
                if nb == _PAIRS:
                    _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
                    nb = 0
                lags[nb] = t2[j] - a
                nb += 1
                j += 1
        if nb > _PAIRS - 4:
            _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
            nb = 0
        i += 1
    for k in range(i, n1):  # the last tags of t2: plain loops
        a = t1[k]
        x, y = a + lo, a + hi
        while p < n2 and t2[p] < x:
            p += 1
        j = p
        while j < n2 and t2[j] < y:
            if nb == _PAIRS:
                _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
                nb = 0
            lags[nb] = t2[j] - a
            nb += 1
            j += 1
    _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
    return counts


@jit
def _add_pair(lags, nb, ci, cj, dt, hi_pos, hi_neg):
    """Write the lag of tags coded ci, cj (dt >= 0 apart) to ``lags[nb]``; the count after it: nb + 1 for a
    start -> stop pair with dt < hi_pos (lag +dt) or a stop -> start pair with dt <= hi_neg (lag -dt), else nb."""
    lags[np.uint64(nb)] = dt if ci == 0 else -dt
    return nb + (((ci == 0) & (cj == 1) & (dt < hi_pos)) | ((ci == 1) & (cj == 0) & (dt <= hi_neg)))


@jit
def correlate_merged(time, code, hi_pos, hi_neg, reach, half, bin_ps, n_bins):
    """Lag histogram from one sorted stream, ``code`` 0 = start channel, 1 = stop, 2 = neither: a start tag
    followed by a stop within dt < hi_pos counts +dt, a stop followed by a start within dt <= hi_neg counts -dt
    (hi_pos - 1 and hi_neg <= reach for integer times, all three = half for float times). Each tag visits its
    window once for both signs: the next three tags are tested without branching (lags to a buffer, binned in
    batches), and only a tag with a fourth one within reach takes a loop."""
    counts = np.zeros(n_bins, np.int64)
    lags = np.empty(_PAIRS + 8, time.dtype)
    nb = 0
    n = time.size
    for i in range(n):
        ci = code[i]
        a = time[i]
        if i + 3 < n:
            u = np.uint64(i)  # unsigned: no negative-index fix-ups
            nb = _add_pair(lags, nb, ci, code[u + 1], time[u + 1] - a, hi_pos, hi_neg)
            nb = _add_pair(lags, nb, ci, code[u + 2], time[u + 2] - a, hi_pos, hi_neg)
            nb = _add_pair(lags, nb, ci, code[u + 3], time[u + 3] - a, hi_pos, hi_neg)
            j = i + 4 if time[u + 3] - a <= reach else n
        else:
            j = i + 1
        while j < n and time[j] - a <= reach:
            if nb >= _PAIRS:
                _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
                nb = 0
            nb = _add_pair(lags, nb, ci, code[j], time[j] - a, hi_pos, hi_neg)
            j += 1
        if nb > _PAIRS - 4:
            _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
            nb = 0
    _bin_lags(lags, nb, counts, half, bin_ps, n_bins)
    return counts
