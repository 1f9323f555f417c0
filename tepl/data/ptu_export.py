"""Export a run's photon tags (``/entry/tags``, ``tepl.data.tags``) as a PicoQuant PTU file.

``export_ptu`` writes a PTU file that ptufile reads back with the same records: an imported run gives its
original record type and raw records (header tags carried over), a run recorded by tepl is encoded as
HydraHarp2T2 (1 ps time tags) or HydraHarp2T3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.ptu import write_ptu
from tepl.data.ptu_header import stored_header
from tepl.data.tags import StoredT2, read_tags
from tepl.drivers.tttr import RECORD_TYPES, T2Encoder, T3Encoder, record_layout


def export_ptu(h5_path, ptu_path, overwrite: bool = False) -> Path:
    """Write the photon tags of the run file ``h5_path`` as a PTU file at ``ptu_path`` and return its path.

    Imported runs are written with their original record type, raw records and header tags; runs recorded by
    tepl are encoded as HydraHarp2T2 (1 ps time tags) or HydraHarp2T3 (sync period and TCSPC bin width from
    the tags). Raises ValueError when the run has no tags or they cannot be represented; an existing
    ``ptu_path`` is refused (FileExistsError) unless ``overwrite``.
    """
    h5_path, ptu_path = Path(h5_path), Path(ptu_path)
    if ptu_path.exists() and not overwrite:
        raise FileExistsError(f"{ptu_path} already exists; pass overwrite=True to replace it")
    tags = read_tags(h5_path)
    attrs = tags.attrs
    n_channels = int(attrs.get("n_channels", 1))
    duration_ms = tags.duration_s * 1e3 if tags.duration_s > 0 else None
    if tags.raw_records is not None and attrs.get("record_type") is not None:
        header = stored_header(h5_path)
        code = int(attrs["record_type"])
        layout = record_layout(code)

        def original(key: str, fallback: float) -> float:
            return float(header[key][1]) if key in header else fallback

        global_res_s = original("MeasDesc_GlobalResolution", float(attrs.get("global_resolution_ps", 0.0)) * 1e-12)
        res_s = original("MeasDesc_Resolution", tags.resolution_ps * 1e-12)
        sync_rate = original("TTResult_SyncRate", 1e12 / tags.sync_period_ps if layout.mode == "T3" else 0.0)
        acq_ms = original("MeasDesc_AcquisitionTime", duration_ms or 0.0) or None
        return write_ptu(ptu_path, tags.raw_records, code, global_res_s, res_s, acq_ms, sync_rate, None,
                         extra_tags=header, overwrite=overwrite)
    if isinstance(tags, StoredT2):
        enc = T2Encoder(RECORD_TYPES["HydraHarp2T2"])
        try:
            records = enc.encode(tags.time_ps, tags.channel, tags.marker_time_ps, tags.marker_bits)
        except ValueError as exc:
            raise ValueError(f"{h5_path}: T2 tags cannot be written as HydraHarp2T2 records: {exc}") from None
        sync_period_ps = float(attrs.get("sync_period_ps", float("inf")))
        sync_rate = 1e12 / sync_period_ps if np.isfinite(sync_period_ps) else 0.0
        return write_ptu(ptu_path, records, enc.layout.code, 1e-12, tags.resolution_ps * 1e-12, duration_ms,
                         sync_rate, n_channels, overwrite=overwrite)
    if not np.isfinite(tags.sync_period_ps) or tags.sync_period_ps <= 0:
        raise ValueError(f"{h5_path}: T3 tags need a finite sync_period_ps, got {tags.sync_period_ps!r}")
    enc3 = T3Encoder(RECORD_TYPES["HydraHarp2T3"])
    try:
        records = enc3.encode(tags.sync, tags.dtime, tags.channel, tags.marker_sync, tags.marker_bits)
    except ValueError as exc:
        raise ValueError(f"{h5_path}: T3 tags cannot be written as HydraHarp2T3 records: {exc}") from None
    return write_ptu(ptu_path, records, enc3.layout.code, tags.sync_period_ps * 1e-12, tags.resolution_ps * 1e-12,
                     duration_ms, 1e12 / tags.sync_period_ps, n_channels, overwrite=overwrite)
