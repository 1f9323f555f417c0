"""Compiled kernels for the TEPL twin's per-pixel physics (``sims/tepl_sample.py``, ``sims/andor.py``).

The twin answers one exposure per raster pixel; in numpy each answer is some fifty calls on arrays of six dots,
each costing about a microsecond whatever its size. These kernels do the same arithmetic in one call. The
numpy code in the simulators stays the reference (and the path without numba); the formulas here follow it
step by step, so the two agree to the last bits of ``exp`` / ``cos`` (see tests/test_twin_fast.py).

Lengths nm, energies eV, rates photons/s, times s.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.kernels import jit

FOUR_LN2 = 4.0 * math.log(2.0)

# The tip-sample parameters a kernel needs, in this order (``tip_vector`` in sims/tepl_sample.py fills it).
TIP_PARAMS = ("apex_radius_nm", "cone_tangent_nm", "cone_tan_alpha", "lateral_fwhm_nm", "focus_fwhm_nm",
              "quench_gap_nm", "purcell_length_nm", "quench_fall_length_nm", "peak_enhancement", "far_field_rate",
              "strain_kappa_percent", "shift_eV_per_percent", "plasmon_rate_at_2nm", "plasmon_block_fwhm_nm",
              "plasmon_decay_nm")
(_RADIUS, _U_TANGENT, _TAN_ALPHA, _LATERAL_FWHM, _FOCUS_FWHM, _QUENCH_GAP, _PURCELL_LENGTH, _QUENCH_FALL,
 _PEAK, _FAR_RATE, _KAPPA, _SHIFT, _PLASMON_RATE, _BLOCK_FWHM, _PLASMON_DECAY) = range(len(TIP_PARAMS))


@jit
def _apex_height_nm(lateral_nm, radius_nm, u_tangent_nm, tan_alpha):
    """Height (nm) of the tip surface above its apex at ``lateral_nm`` from the axis (sphere + tangent cone)."""
    u = abs(lateral_nm)
    s = min(u, u_tangent_nm)
    sphere = radius_nm - math.sqrt(max(radius_nm * radius_nm - s * s, 0.0))
    cone = max(u - u_tangent_nm, 0.0) / tan_alpha
    return sphere + cone


@jit
def _coupling(distance_nm, fwhm_nm):
    r = distance_nm / fwhm_nm
    return math.exp(-FOUR_LN2 * (r * r))


@jit
def on_fractions(start_s, on_time_s, is_on, t1_s, t2_s, out):
    """Fraction of [t1_s, t2_s] each emitter is ON, for intervals inside the period that starts at ``start_s``
    (cumulative ON time ``on_time_s`` then, state ``is_on``): the sums of ``TelegraphProcess.on_fraction``."""
    span = t2_s - t1_s
    for i in range(out.size):
        on_k = on_time_s[i]
        if is_on[i]:
            out[i] = ((on_k + (t2_s - start_s[i])) - (on_k + (t1_s - start_s[i]))) / span
        else:
            out[i] = (on_k - on_k) / span
    return out


@jit
def dot_lines(x_nm, y_nm, height_nm, energy_eV, orientation, on_fraction, tip_x_nm, tip_y_nm, tip_z_nm,
              offset_x_nm, offset_y_nm, plasmon_center_eV, prm, rates, centres):
    """Photons/s and centre (eV) of every emission line for the tip apex ``tip_z_nm`` above (tip_x, tip_y) nm and
    (offset_x, offset_y) nm from the focus centre: rows 0..n-1 the dots, row n the gap plasmon (the model of
    ``TeplSample.dot_rates`` and ``TeplSample.plasmon_rate``; ``prm`` holds ``TIP_PARAMS``)."""
    n = x_nm.size
    d = tip_z_nm
    gain = prm[_PEAK] * math.exp(-(d - prm[_QUENCH_GAP]) / prm[_PURCELL_LENGTH])
    quench = math.exp(-max(prm[_QUENCH_GAP] - d, 0.0) * (1.0 / prm[_PURCELL_LENGTH] + 1.0 / prm[_QUENCH_FALL]))
    enhancement = gain * quench
    offset = offset_x_nm != 0.0 or offset_y_nm != 0.0
    focus = 1.0
    if offset:
        f = prm[_FOCUS_FWHM]
        focus = math.exp(-FOUR_LN2 * (offset_x_nm * offset_x_nm + offset_y_nm * offset_y_nm) / (f * f))
    covered = 0.0
    for i in range(n):
        lateral = math.hypot(tip_x_nm - x_nm[i], tip_y_nm - y_nm[i])
        near = _coupling(lateral, prm[_LATERAL_FWHM]) * enhancement
        from_focus = lateral
        if offset:
            near = near * focus
            from_focus = math.hypot((tip_x_nm - offset_x_nm) - x_nm[i], (tip_y_nm - offset_y_nm) - y_nm[i])
        far = _coupling(from_focus, prm[_FOCUS_FWHM])
        rates[i] = prm[_FAR_RATE] * orientation[i] * on_fraction[i] * (far + near)
        h = height_nm[i]
        gap_to_dot = d + _apex_height_nm(max(lateral - 0.5 * h, 0.0), prm[_RADIUS], prm[_U_TANGENT], prm[_TAN_ALPHA])
        indentation = min(max(h - gap_to_dot, 0.0), h)
        centres[i] = energy_eV[i] + prm[_SHIFT] * (prm[_KAPPA] * indentation / h)
        covered += _coupling(lateral, prm[_BLOCK_FWHM])
    plasmon = prm[_PLASMON_RATE] * math.exp(-(max(d, 0.0) - 2.0) / prm[_PLASMON_DECAY])
    plasmon = plasmon * max(0.0, 1.0 - covered)
    if offset:
        plasmon *= focus
    rates[n] = plasmon
    centres[n] = plasmon_center_eV


@jit
def line_spectrum(rates, densities, width, out):
    """Photons/s in each pixel: the lines' ``rates`` (photons/s) times their ``densities`` (1/eV, one row per
    line, one column per pixel), summed, times each pixel's ``width`` (eV)."""
    out[:] = 0.0
    for i in range(rates.size):
        r = rates[i]
        for j in range(out.size):
            out[j] += r * densities[i, j]
    for j in range(out.size):
        out[j] *= width[j]
    return out


@jit
def line_spectrum_from_table(rates, centres_eV, energy_eV, width, table, start_eV, step_eV, out):
    """``line_spectrum`` with each line's density read from its row of ``table`` at the pixel's offset from the
    line's centre, interpolated linearly as ``LineTable.density`` does (offsets beyond the table read its zero
    end columns)."""
    n_cols = table.shape[1]
    scale = 1.0 / step_eV
    out[:] = 0.0
    for i in range(rates.size):
        r = rates[i]
        c = centres_eV[i]
        for j in range(out.size):
            pos = ((energy_eV[j] - c) - start_eV) * scale + 1.0
            pos = min(max(pos, 0.0), n_cols - 1.001)
            lower = int(pos)
            frac = pos - lower
            below = table[i, lower]
            out[j] += r * (below + (table[i, lower + 1] - below) * frac)
    for j in range(out.size):
        out[j] *= width[j]
    return out


@jit
def topography_at(x_nm, y_nm, kx, ky, phase, roughness_nm, dot_x_nm, dot_y_nm, dot_height_nm, radius_nm,
                  u_tangent_nm, tan_alpha):
    """Height (nm) the tip apex rests on above sample point (x, y): Au roughness (a sum of plane waves of
    amplitude ``roughness_nm``) plus the tallest dot dilated by the tip (``TeplSample._topography_nm``)."""
    rough = 0.0
    for w in range(kx.size):
        rough += math.cos(x_nm * kx[w] + y_nm * ky[w] + phase[w])
    bump = 0.0
    for i in range(dot_x_nm.size):
        h = dot_height_nm[i]
        r = math.hypot(x_nm - dot_x_nm[i], y_nm - dot_y_nm[i])
        bump = max(bump, h - _apex_height_nm(max(r - 0.5 * h, 0.0), radius_nm, u_tangent_nm, tan_alpha))
    return roughness_nm * rough + bump


@jit
def topography_nm(x_nm, y_nm, kx, ky, phase, roughness_nm, dot_x_nm, dot_y_nm, dot_height_nm,
                  radius_nm, u_tangent_nm, tan_alpha, out):
    """``topography_at`` of each point (x_nm[p], y_nm[p]) into ``out[p]``."""
    for p in range(x_nm.size):
        out[p] = topography_at(x_nm[p], y_nm[p], kx, ky, phase, roughness_nm, dot_x_nm, dot_y_nm, dot_height_nm,
                               radius_nm, u_tangent_nm, tan_alpha)
    return out


POISSON_BY_SEARCH_BELOW = 64.0  # mean electrons under which a pixel's count comes from one uniform number


@jit
def electrons_by_search(photons, quantum_efficiency, dark_e, uniform, mean_e, out):
    """Electrons of each CCD pixel: Poisson of mean ``mean_e`` = ``dark_e`` + QE x photons (negative photons
    count as none), drawn by inverting the Poisson CDF at ``uniform`` (one number in [0, 1) per pixel) where the
    mean is below ``POISSON_BY_SEARCH_BELOW``; the other pixels are left alone. Returns how many were left."""
    left = 0
    for i in range(out.size):
        lam = dark_e + quantum_efficiency[i] * max(photons[i], 0.0)
        mean_e[i] = lam
        if not lam < POISSON_BY_SEARCH_BELOW:  # bright, or not a number (left for Generator.poisson to refuse)
            left += 1
            continue
        p = math.exp(-lam)
        cdf = p
        k = 0
        u = uniform[i]
        while u > cdf:
            k += 1
            p *= lam / k
            grown = cdf + p
            if grown == cdf and k > lam:  # the tail no longer adds: u sits in the last ulp below 1
                break
            cdf = grown
        out[i] = k
    return left


@jit
def counts_from_electrons(electrons, noise, read_noise_e, gain_e_per_count, baseline_counts, saturation_counts, out):
    """ADC counts: baseline + (electrons + read noise) / gain, rounded half to even, within [0, saturation];
    the read noise of pixel i is ``read_noise_e`` x ``noise[i]`` (a standard normal number)."""
    for i in range(electrons.size):
        c = np.rint((electrons[i] + read_noise_e * noise[i]) / gain_e_per_count + baseline_counts)
        out[i] = int(min(max(c, 0.0), saturation_counts))
    return out
