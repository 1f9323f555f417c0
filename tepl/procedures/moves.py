"""Moves procedures share: bring a spot under the focus, with or without the tip in contact."""

from __future__ import annotations

from typing import Any


def move_to_spot(ctx: Any, x_um: float, y_um: float) -> None:
    """Move the sample so (x, y) µm is under the focus (stations without a tip)."""
    ctx.station.stage.move_and_wait_um(x=x_um, y=y_um)
    ctx.log(f"at ({x_um:.4f}, {y_um:.4f}) µm")


def approach_spot(ctx: Any, x_um: float, y_um: float) -> float:
    """Withdraw, move the sample so (x, y) µm is under the tip, engage the shear-force loop; return the
    contact z (nm)."""
    st = ctx.station
    st.zcontrol.retract()
    st.stage.move_and_wait_um(x=x_um, y=y_um)
    contact_z_nm = st.zcontrol.engage()
    ctx.log(f"engaged at ({x_um:.4f}, {y_um:.4f}) µm, contact z = {contact_z_nm:.2f} nm")
    return contact_z_nm
