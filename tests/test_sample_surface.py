"""Every simulated sample answers the height of one point as its array topography does (the World asks the
single point under the tip apex several times per scan pixel)."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.sims.confocal_sample import ConfocalSample
from tepl.sims.cryo_sample import CryoSample
from tepl.sims.film_sample import FilmSample
from tepl.sims.sample import Sample
from tepl.sims.tepl_sample import TeplSample
from tepl.sims.world import World
from tests.standins import BumpSample


@pytest.mark.parametrize("make", [lambda: TeplSample.generate(seed=3), lambda: FilmSample.generate(seed=3),
                                  lambda: ConfocalSample.generate(seed=3), lambda: CryoSample.generate(seed=3),
                                  BumpSample], ids=["tepl", "film", "confocal", "cryo", "bump"])
def test_height_of_one_point_is_the_topography_there(make):
    sample = make()
    assert isinstance(sample, Sample)
    rng = np.random.default_rng(1)
    x_nm, y_nm = rng.uniform(49_000.0, 51_000.0, 40), rng.uniform(49_000.0, 51_000.0, 40)
    if isinstance(sample, TeplSample):  # on and around its dots, where the height changes fastest
        e = sample.emitters
        x_nm, y_nm = np.r_[x_nm, e.x_nm, e.x_nm + 7.0], np.r_[y_nm, e.y_nm, e.y_nm - 3.0]
    expected = sample.topography_nm(x_nm, y_nm)
    got = np.array([sample.height_at_nm(float(x), float(y)) for x, y in zip(x_nm, y_nm, strict=True)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_the_world_asks_the_point_under_the_apex():
    world = World(sample=BumpSample(), seed=0)
    world.stage_um[:2] = (50.1, 50.0)  # the bump's centre under the focus
    x_nm, y_nm = world.tip_xy_nm()
    assert world.surface_nm() == pytest.approx(float(BumpSample().topography_nm(np.array([x_nm]),
                                                                                np.array([y_nm]))[0]), abs=1e-12)
    assert world.surface_nm() > 1.0  # on the bump, not the flat substrate
