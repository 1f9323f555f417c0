"""T3 photons to FLIM cubes: the pixel of each photon, from sync-index ranges (``pixels_from_sync``) or from
line / frame scanner markers (``pixels_from_markers``), and raw T3 records straight to a cube
(``decode_t3_to_flim``, by the compiled kernels when they are on, without storing the photons).

Sync indices count laser periods; the cube is binned by ``tepl.analysis.tcspc.flim_cube``.
"""

from __future__ import annotations

import numpy as np

from tepl import kernels
from tepl.analysis.photon_arrays import in_range, one_d, positive_int, sorted_times
from tepl.analysis.tcspc import bin_shift, cube_size, flim_cube


def pixels_from_sync(nsync: np.ndarray, sync_per_pixel: int, n_pixels: int, first_sync: int = 0) -> np.ndarray:
    """Pixel of each photon when pixel i spans sync pulses [first + i * sync_per_pixel, first + (i+1) * ...);
    -1 outside the n_pixels pixels."""
    nsync = one_d(nsync, "nsync")
    sync_per_pixel, n_pixels = positive_int(sync_per_pixel, "sync_per_pixel"), positive_int(n_pixels, "n_pixels")
    pixel = nsync.astype(np.int64)
    if first_sync:
        pixel -= int(first_sync)
    pixel //= sync_per_pixel
    if not in_range(pixel, n_pixels):
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
    nsync = sorted_times(nsync, "nsync")
    marker_nsync = one_d(marker_nsync, "marker_nsync").astype(np.int64, copy=False)
    marker_bits = one_d(marker_bits, "marker_bits")
    n_y, n_x = (positive_int(n, "image_shape") for n in image_shape)
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
        n_y, n_x = (positive_int(n, "image_shape") for n in image_shape)
        index, pixel, _ = _marker_lines(nsync, marker_nsync, marker_bits, n_y, n_x, line_start_mask,
                                        line_stop_mask, frame_mask, with_frame=False)
        cube = flim_cube(pixel, dtime[index], channel[index], n_y * n_x, n_bins, n_channels, bin_factor)
        return cube.reshape(cube.shape[0], n_y, n_x, cube.shape[-1])
    pixel = pixels_from_sync(nsync, sync_per_pixel, n_pixels)
    return flim_cube(pixel, dtime, channel, n_pixels, n_bins, n_channels, bin_factor)


def _decode_t3_to_flim_compiled(records, record_type, n_bins, n_channels, sync_per_pixel, n_pixels, image_shape,
                                bin_factor, line_start_mask, line_stop_mask, frame_mask) -> np.ndarray:
    """``decode_t3_to_flim`` by the compiled kernels, without storing the photons: sync ranges in one pass over
    the records; markers: one pass picking out the markers, the line table from them (few), one pass binning."""
    from tepl.drivers.tttr import record_layout
    from tepl.kernels import tttr as kt

    layout = record_layout(record_type)
    if image_shape is not None:
        n_y, n_x = (positive_int(n, "image_shape") for n in image_shape)
        n_channels, n_pix, n_bins, bin_factor = cube_size(n_channels, n_y * n_x, n_bins, bin_factor)
    else:
        sync_per_pixel = positive_int(sync_per_pixel, "sync_per_pixel")
        n_channels, n_pix, n_bins, bin_factor = cube_size(n_channels, n_pixels, n_bins, bin_factor)
    if layout.mode != "T3":
        raise ValueError(f"record type {layout.name} (0x{layout.code:08X}) is a {layout.mode} format, not T3")
    b = layout.bits
    fields = (b.special, b.time_mask, b.dtime_shift, b.dtime_mask, b.channel_shift, b.channel_base, layout.n_channels,
              b.kind_shift, b.kind_mask, b.overflow, layout.wrap, layout.multi_wrap)
    if image_shape is None:
        return kt.flim_from_sync(records, *fields, sync_per_pixel, n_pix, bin_shift(bin_factor), bin_factor, n_bins,
                                 n_channels)
    marker_nsync, marker_bits, _ = kt.t3_markers(records, 0, b.special, b.time_mask, b.kind_shift, b.kind_mask,
                                                 b.overflow, b.last_marker, layout.wrap, layout.multi_wrap)
    starts, ends, y, _ = _line_table(marker_nsync, marker_bits, n_y, line_start_mask, line_stop_mask, frame_mask)
    cube = kt.flim_from_records_lines(records, *fields, starts, ends, y * n_x, n_x, bin_shift(bin_factor),
                                      bin_factor, n_bins, n_channels, n_pix)
    return cube.reshape(n_channels, n_y, n_x, n_bins)
