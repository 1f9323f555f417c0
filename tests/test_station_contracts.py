"""The role contracts on the stations of issue 3, each built from its shipped config with the new simulators
behind the drivers: the HydraHarp counter on the confocal twin (FLIM reference film, rates from its truth),
the E-727 stage on the confocal twin, the Andor spectrometer and Kymera shutter on the cryogenic twin."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tepl.config import CONFIG_DIR, parse_config
from tepl.station import build_station
from tests.contracts.roles import PhotonCounterContract, ShutterContract, SpectrometerContract, StageContract


def _station(config_name: str, **simulation):
    data = yaml.safe_load((CONFIG_DIR / config_name).read_text())
    data["simulation"].update(simulation)
    return build_station(parse_config(yaml.safe_dump(data), config_name))


@pytest.fixture
def confocal():
    st = _station("confocal-sim.yaml", sample="flim-reference", drift_nm_per_s=[0.0, 0.0])
    st.stage.move_and_wait_um(x=48.0, y=50.0)  # the left half of the reference film
    st.open_excitation()  # the laser on the film: the roles are used directly, not through a run
    yield st
    st.close()


class TestHydraHarpOnTheConfocalTwin(PhotonCounterContract):
    @pytest.fixture
    def world(self, confocal):
        return confocal.world

    @pytest.fixture
    def counter(self, confocal):
        confocal.tcspc.max_count_rate_per_s = None  # the contract sets its own limits
        return confocal.tcspc

    def true_rates_per_s(self, world) -> np.ndarray:
        """Film photons in each SPAD's band x its efficiency, plus its dark counts (from the World's truth)."""
        sample = world.sample
        film = sample.ground_truth()["film"]
        rates = []
        for channel in world.detection.channels:
            low, high = channel.band_nm
            in_band = sample.film.spectrum.fraction_between(low, high)
            rates.append(film["total_rate_per_s"] * in_band * channel.efficiency + channel.dark_counts_per_s)
        return np.asarray(rates)


class TestE727StageOnTheConfocalTwin(StageContract):
    @pytest.fixture
    def world(self, confocal):
        return confocal.world

    @pytest.fixture
    def stage(self, confocal):
        return confocal.stage


@pytest.fixture
def cryo():
    st = _station("cryo-sim.yaml")
    yield st
    st.close()


class TestAndorOnTheCryoTwin(SpectrometerContract):
    @pytest.fixture
    def world(self, cryo):
        cryo.stage.move_and_wait_um(x=90.0, y=90.0)  # away from the nanocrystals: lamp and dark only
        return cryo.world

    @pytest.fixture
    def spectrometer(self, cryo, world):
        return cryo.spectrometer


class TestKymeraShutterOnTheCryoTwin(ShutterContract):
    @pytest.fixture
    def shutter(self, cryo):
        return cryo.shutter
