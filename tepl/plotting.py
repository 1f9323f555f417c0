"""PNG figures of a run file, of the kinds the papers show, chosen by the run's procedure.

``plot_run(h5_path, out_dir)`` writes, named ``<file stem>_<kind>.png``:

==================  =====================================================================================
raster              peak_energy (fitted peak energy map), intensity (integrated counts map), height map
line-scan           contour (position vs photon energy, colour = counts), height (topography profile)
distance-sweep      spectra (spectra coloured by gap), approach (integrated intensity vs gap)
pressure-ramp       contour (photon energy vs step, colour = counts, fitted peak overlaid), shift
                    (peak shift and fitted intensity vs gap, pressing and releasing distinguished)
calibrate           lamp (lamp spectrum with the identified lines marked)
import-sif / other  spectrum (the spectrum, or each frame)
==================  =====================================================================================

Unfilled pixels (NaN, e.g. a stopped run) are left blank. Figures are drawn with matplotlib's Agg
canvas, without pyplot, so this is safe to call from any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tepl.data.runfile import Run, read_run

HC_EV_NM = 1239.84198
FIT_WINDOW_NM = (640.0, 800.0)


def _figure(n_rows: int = 1, n_cols: int = 1, size=(6.4, 4.8), **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, **kw)
    return fig, axes


def _save(fig, out_dir: Path, stem: str, kind: str, run: Run) -> Path:
    status = run.status if not run.reason else f"{run.status}: {run.reason}"
    fig.suptitle(f"{run.path.name} — {run.procedure} ({status})", fontsize=9)
    path = out_dir / f"{stem}_{kind}.png"
    fig.savefig(path, dpi=110)
    return path


def _energy_eV(run: Run) -> np.ndarray:
    if "energy_eV" in run.data:
        return np.asarray(run.data["energy_eV"], float)
    return HC_EV_NM / np.asarray(run.data["wavelength_nm"], float)


def _window(wavelength_nm: np.ndarray, window_nm=FIT_WINDOW_NM) -> np.ndarray:
    inside = (wavelength_nm >= window_nm[0]) & (wavelength_nm <= window_nm[1])
    return inside if np.count_nonzero(inside) >= 3 else np.ones_like(wavelength_nm, bool)


def integrated_counts(wavelength_nm: np.ndarray, spectra: np.ndarray, window_nm=FIT_WINDOW_NM) -> np.ndarray:
    """Counts summed over ``window_nm`` above each spectrum's baseline (its 5th percentile in the window);
    shape ``spectra.shape[:-1]``, NaN where a spectrum is unfilled."""
    s = np.asarray(spectra, float)[..., _window(np.asarray(wavelength_nm, float), window_nm)]
    filled = np.all(np.isfinite(s), axis=-1)
    total = np.full(s.shape[:-1], np.nan)
    rows = s[filled]
    total[filled] = np.sum(rows - np.percentile(rows, 5, axis=-1, keepdims=True), axis=-1)
    return total


def fitted_peaks(wavelength_nm: np.ndarray, spectra: np.ndarray) -> dict[str, np.ndarray]:
    """``tepl.analysis.peaks.fit_peaks`` over the filled spectra: {"center_eV", "amplitude", "fwhm_eV"},
    each shaped ``spectra.shape[:-1]``, NaN where unfilled or where the fit failed."""
    from tepl.analysis.peaks import fit_peaks

    spectra = np.asarray(spectra, float)
    flat = spectra.reshape(-1, spectra.shape[-1])
    filled = np.all(np.isfinite(flat), axis=1)
    out = {k: np.full(flat.shape[0], np.nan) for k in ("center_eV", "amplitude", "fwhm_eV")}
    if np.any(filled):
        fit = fit_peaks(np.asarray(wavelength_nm, float), flat[filled], window_nm=FIT_WINDOW_NM)
        ok = np.asarray(fit.ok, bool).reshape(-1)
        for key in out:
            values = np.asarray(getattr(fit, key), float).reshape(-1)
            out[key][filled] = np.where(ok, values, np.nan)
    return {k: v.reshape(spectra.shape[:-1]) for k, v in out.items()}


def _relative(axis: np.ndarray) -> tuple[np.ndarray, float]:
    axis = np.asarray(axis, float)
    return axis - axis[0], float(axis[0])


def _plot_raster(run: Run, out_dir: Path, stem: str) -> list[Path]:
    wl = run.data["wavelength_nm"]
    spectra = run.data["spectra"]
    x, x0 = _relative(run.data.get("x_nm", np.arange(spectra.shape[1])))
    y, y0 = _relative(run.data.get("y_nm", np.arange(spectra.shape[0])))
    peaks = fitted_peaks(wl, spectra)
    maps = [
        ("peak_energy", peaks["center_eV"], "fitted peak energy (eV)", "viridis"),
        ("intensity", integrated_counts(wl, spectra), "integrated counts above baseline", "inferno"),
    ]
    if "height_nm" in run.data:
        maps.append(("height", run.data["height_nm"], "height (nm)", "copper"))
    paths = []
    for kind, image, label, cmap in maps:
        fig, ax = _figure()
        mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(np.asarray(image, float)), cmap=cmap,
                             shading="nearest")
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_aspect("equal")
        ax.set_xlabel(f"x − {x0:.1f} nm (nm)")
        ax.set_ylabel(f"y − {y0:.1f} nm (nm)")
        paths.append(_save(fig, out_dir, stem, kind, run))
    return paths


def _plot_line_scan(run: Run, out_dir: Path, stem: str) -> list[Path]:
    spectra = np.asarray(run.data["spectra"], float)
    x, x0 = _relative(run.data.get("x_nm", np.arange(spectra.shape[0])))
    energy = _energy_eV(run)
    fig, ax = _figure()
    mesh = ax.pcolormesh(x, energy, np.ma.masked_invalid(spectra.T), cmap="inferno", shading="nearest")
    fig.colorbar(mesh, ax=ax, label="counts")
    ax.set_xlabel(f"position along the line, x − {x0:.1f} nm (nm)")
    ax.set_ylabel("photon energy (eV)")
    paths = [_save(fig, out_dir, stem, "contour", run)]
    if "height_nm" in run.data:
        fig, ax = _figure(size=(6.4, 3.2))
        ax.plot(x, run.data["height_nm"], "-o", ms=3)
        ax.set_xlabel(f"position along the line, x − {x0:.1f} nm (nm)")
        ax.set_ylabel("height (nm)")
        paths.append(_save(fig, out_dir, stem, "height", run))
    return paths


def _gap(run: Run, n: int) -> np.ndarray:
    return np.asarray(run.data.get("gap_nm", np.arange(n)), float)


def _plot_distance_sweep(run: Run, out_dir: Path, stem: str) -> list[Path]:
    from matplotlib import cm, colors

    spectra = np.asarray(run.data["spectra"], float)
    gap = _gap(run, spectra.shape[0])
    energy = _energy_eV(run)
    done = np.all(np.isfinite(spectra), axis=1) & np.isfinite(gap)
    fig, ax = _figure()
    if np.any(done):
        norm = colors.Normalize(np.min(gap[done]), max(np.max(gap[done]), np.min(gap[done]) + 1e-9))
        for i in np.flatnonzero(done):
            ax.plot(energy, spectra[i], color=cm.viridis(norm(gap[i])), lw=1)
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="tip-sample gap (nm)")
    ax.set_xlabel("photon energy (eV)")
    ax.set_ylabel("counts")
    paths = [_save(fig, out_dir, stem, "spectra", run)]
    fig, ax = _figure()
    ax.plot(gap[done], integrated_counts(run.data["wavelength_nm"], spectra[done]), "o-")
    ax.set_xlabel("tip-sample gap (nm)")
    ax.set_ylabel("integrated counts above baseline")
    paths.append(_save(fig, out_dir, stem, "approach", run))
    return paths


def _plot_pressure_ramp(run: Run, out_dir: Path, stem: str) -> list[Path]:
    spectra = np.asarray(run.data["spectra"], float)
    n = spectra.shape[0]
    step = np.arange(n)
    gap = _gap(run, n)
    direction = np.asarray(run.data.get("direction", np.ones(n)), float)
    energy = _energy_eV(run)
    peaks = fitted_peaks(run.data["wavelength_nm"], spectra)
    fig, ax = _figure()
    mesh = ax.pcolormesh(step, energy, np.ma.masked_invalid(spectra.T), cmap="inferno", shading="nearest")
    fig.colorbar(mesh, ax=ax, label="counts")
    ax.plot(step, peaks["center_eV"], "o", ms=3, mfc="none", color="cyan", label="fitted peak")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("step (pressing, then releasing)")
    ax.set_ylabel("photon energy (eV)")
    paths = [_save(fig, out_dir, stem, "contour", run)]

    fig, (ax_shift, ax_int) = _figure(2, 1, size=(6.4, 6.4), sharex=True)
    finite = np.flatnonzero(np.isfinite(peaks["center_eV"]))
    reference = peaks["center_eV"][finite[0]] if finite.size else np.nan
    shift_meV = (peaks["center_eV"] - reference) * 1000.0
    styles = ((1, "pressing", dict(marker="v", ls="-", color="tab:red", ms=6)),
              (-1, "releasing", dict(marker="^", ls="--", color="tab:blue", ms=4, mfc="none")))
    for sign, label, style in styles:
        sel = direction == sign
        if np.any(sel):
            ax_shift.plot(gap[sel], shift_meV[sel], label=label, **style)
            ax_int.plot(gap[sel], peaks["amplitude"][sel], label=label, **style)
    ax_shift.set_ylabel("peak shift from the first step (meV)")
    ax_int.set_ylabel("fitted peak area (counts)")
    ax_int.set_xlabel("tip-sample gap (nm)")
    ax_int.invert_xaxis()
    ax_shift.legend(fontsize=8)
    paths.append(_save(fig, out_dir, stem, "shift", run))
    return paths


def _mean_spectrum(spectra: np.ndarray) -> np.ndarray:
    spectra = np.asarray(spectra, float)
    if spectra.ndim == 1:
        return spectra
    with np.errstate(all="ignore"):
        return np.nanmean(spectra.reshape(-1, spectra.shape[-1]), axis=0)


def _plot_calibrate(run: Run, out_dir: Path, stem: str) -> list[Path]:
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectrum = _mean_spectrum(run.data["spectra"])
    fig, ax = _figure(size=(8.0, 4.8))
    ax.plot(wl, spectrum, lw=1, color="k")
    lines = None
    for name in ("line_wavelength_nm", "lines_nm"):
        if name in run.data:
            lines = np.asarray(run.data[name], float)
            break
    for i, line in enumerate(lines[np.isfinite(lines)] if lines is not None else []):
        ax.axvline(line, color="tab:red", lw=0.8, ls="--", label="identified lines" if i == 0 else None)
        ax.annotate(f"{line:.2f}", (line, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=7, color="tab:red")
    if lines is not None and lines.size:
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("counts")
    return [_save(fig, out_dir, stem, "lamp", run)]


def _plot_spectrum(run: Run, out_dir: Path, stem: str) -> list[Path]:
    if run.signal is None or run.signal not in run.data or "wavelength_nm" not in run.data:
        raise ValueError(f"{run.path}: no spectra with a wavelength_nm axis to plot "
                         f"(procedure {run.procedure!r})")
    wl = np.asarray(run.data["wavelength_nm"], float)
    spectra = np.asarray(run.data[run.signal], float).reshape(-1, wl.size)
    fig, ax = _figure()
    if spectra.shape[0] <= 10:
        for i, spectrum in enumerate(spectra):
            ax.plot(wl, spectrum, lw=1, label=f"frame {i}" if spectra.shape[0] > 1 else None)
        if spectra.shape[0] > 1:
            ax.legend(fontsize=8)
    else:
        ax.plot(wl, _mean_spectrum(spectra), lw=1, label=f"mean of {spectra.shape[0]} spectra")
        ax.legend(fontsize=8)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(run.units.get(run.signal) or "counts")
    top = ax.secondary_xaxis("top", functions=(_nm_to_eV, _nm_to_eV))
    top.set_xlabel("photon energy (eV)")
    return [_save(fig, out_dir, stem, "spectrum", run)]


def _nm_to_eV(x):
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x > 0, HC_EV_NM / np.where(x > 0, x, 1.0), np.inf)


PLOTTERS = {
    "raster": _plot_raster,
    "line-scan": _plot_line_scan,
    "distance-sweep": _plot_distance_sweep,
    "pressure-ramp": _plot_pressure_ramp,
    "calibrate": _plot_calibrate,
    "import-sif": _plot_spectrum,
}


def plot_run(h5_path, out_dir) -> list[Path]:
    """Write the PNG figures of the run at ``h5_path`` into ``out_dir`` (created if needed); return their
    paths. Procedures without a dedicated plot get their spectrum; a file with nothing plottable raises
    ValueError naming it."""
    run = read_run(h5_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if "spectra" not in run.data and run.procedure in PLOTTERS:
        raise ValueError(f"{run.path}: {run.procedure} run has no /entry/data/spectra to plot")
    plotter = PLOTTERS.get(run.procedure, _plot_spectrum)
    return plotter(run, out_dir, Path(h5_path).stem)
