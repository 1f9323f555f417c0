"""The plain message-based instrument classes (E-727, New Focus 8742, Lake Shore 336) follow pymeasure's
conventions (issue 11, item 5): no role imported by the instrument modules (the role adaptations live in
their own modules), validated properties that refuse a bad value before anything is sent, pymeasure's
property names, each judged on the simulator's own state."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from tepl.drivers.lakeshore_336 import LakeShore336
from tepl.drivers.newport_8742 import Picomotor8742
from tepl.drivers.pi_e727 import E727
from tepl.sims.lakeshore_336 import LakeShore336Adapter
from tepl.sims.lakeshore_336 import LakeShore336Controller as SimLakeShore
from tepl.sims.newport_8742 import Picomotor8742Adapter, Picomotor8742Controller
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.world import World

DRIVERS = Path(__file__).resolve().parent.parent / "drivers"
INSTRUMENT_MODULES = ("pi_e727.py", "pi_e727_link.py", "pi_e727_axis.py", "pi_gcs.py", "newport_8742.py",
                      "lakeshore_336.py", "line_instrument.py")


@pytest.fixture
def world() -> World:
    return World(sample=types.SimpleNamespace())


@pytest.mark.parametrize("module", INSTRUMENT_MODULES)
def test_instrument_modules_import_no_role(module):
    """Only the error type the station catches may come from ``tepl.roles``; no role class."""
    tree = ast.parse((DRIVERS / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tepl.roles"):
            assert [alias.name for alias in node.names] == ["DeviceError"], f"{module} imports {node.module}"


def test_lakeshore_outputs_and_inputs_by_pymeasure_names(world):
    sim = SimLakeShore(world)
    inst = LakeShore336(LakeShore336Adapter(sim), address="sim")
    inst.output_1.setpoint = 42.5
    inst.output_1.range = "medium"
    assert sim.loops[1].setpoint_k == 42.5 and sim.loops[1].heater_range == 2
    assert inst.output_1.setpoint == 42.5 and inst.output_1.range == "medium"
    inst.output_3.range = "on"
    assert sim.loops[3].heater_range == 1
    assert inst.input_A.kelvin == pytest.approx(inst.kelvin("A"))


@pytest.mark.parametrize(("prop", "value"), [("range", "max"), ("range", 2), ("setpoint", -1.0)])
def test_lakeshore_validators_refuse_before_sending(world, prop, value):
    sim = SimLakeShore(world)
    inst = LakeShore336(LakeShore336Adapter(sim), address="sim")
    before = (sim.loops[1].setpoint_k, sim.loops[1].heater_range)
    with pytest.raises(ValueError):
        setattr(inst.output_1, prop, value)
    assert (sim.loops[1].setpoint_k, sim.loops[1].heater_range) == before
    with pytest.raises(ValueError):
        inst.output_4.range = "high"  # outputs 3-4 are only off or on


def test_picomotor_axes_by_pymeasure_names(world):
    sim = Picomotor8742Controller(world)
    inst = Picomotor8742(Picomotor8742Adapter(sim), address="sim", telnet=True)
    inst.axis_2.velocity = 1500
    inst.axis_2.acceleration = 50000
    assert sim.axes[2].velocity == 1500 and sim.axes[2].acceleration == 50000
    assert inst.axis_2.velocity == 1500 and inst.axis_2.acceleration == 50000
    assert inst.velocity(2) == 1500
    assert inst.axis_1.motion_done is True and inst.axis_1.position == inst.position(1)
    sent = len(sim.commands)
    for bad in (0, 2001, 10.5, True):
        with pytest.raises(ValueError):
            inst.axis_2.velocity = bad
    assert len(sim.commands) == sent and sim.axes[2].velocity == 1500  # nothing reached the controller


def test_e727_target_range_is_the_controllers(world):
    controller = GCSController(world, travel_um=(0.0, 80.0))
    inst = E727(GCSAdapter(controller))
    inst.set_servo({"1": True})
    assert inst.travel_range_um(["1"]) == {"1": (0.0, 80.0)}
    with pytest.raises(ValueError):
        inst.axis_1.target_um = 90.0  # refused here, not by the controller's error 7
    assert controller.axes["1"].target_um != 90.0 and controller.error_code == 0
    inst.axis_1.target_um = 75.0
    assert controller.axes["1"].target_um == 75.0
