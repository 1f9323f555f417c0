"""The role server's wire: arrays travel as bytes, photon blocks stream as blocks, only serpent and msgpack are
answered, and an instrument made safe when its client stops beating (an in-process server)."""

from __future__ import annotations

import threading
import time

import numpy as np
import Pyro5.api
import Pyro5.errors
import pytest

from tepl.remote.client import connect_role
from tepl.remote.server import InstrumentServer
from tepl.remote.wire import decode, encode
from tepl.roles import Instrument, T2Block


class Source(Instrument):
    safe_group = "counting"

    def __init__(self):
        self.safe_calls = 0
        self.gain = 2.0

    def scaled(self, values: np.ndarray) -> np.ndarray:
        return self.gain * values

    def iter_t2(self, blocks: int, records: int):
        for i in range(blocks):
            yield T2Block(np.arange(records, dtype=np.int64) + i * records, np.full(records, i % 2, np.int8),
                          0.1, 1.0)

    def make_safe(self) -> str:
        self.safe_calls += 1
        return "stopped"


@pytest.fixture
def server():
    source = Source()
    srv = InstrumentServer({"source": source}, make_safe=lambda: {"source": source.make_safe()},
                           heartbeat_timeout_s=0.5)
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    yield srv, source
    srv.shutdown()
    thread.join(timeout=10)


def test_arrays_travel_as_bytes_not_lists():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    wire = encode({"spectrum": values, "axes": (1, 2), "keys": {1: 0.5}})
    assert isinstance(wire["spectrum"]["data"], bytes) and len(wire["spectrum"]["data"]) == values.nbytes
    back = decode(wire)
    np.testing.assert_array_equal(back["spectrum"], values)
    assert back["spectrum"].dtype == np.float32 and back["axes"] == (1, 2) and back["keys"] == {1: 0.5}


@pytest.mark.parametrize("serializer", ["msgpack", "serpent"])
def test_photon_blocks_stream_through_the_server(server, serializer):
    srv, _ = server
    source = connect_role(srv.uri("source"), serializer=serializer)
    try:
        blocks = list(source.iter_t2(3, 1000))
        assert [type(b) for b in blocks] == [T2Block] * 3
        np.testing.assert_array_equal(np.concatenate([b.time_ps for b in blocks]), np.arange(3000))
        assert [int(b.channel[0]) for b in blocks] == [0, 1, 0]
        np.testing.assert_array_equal(source.scaled(np.array([1.0, 2.0])), [2.0, 4.0])
        assert source.gain == 2.0
    finally:
        source.close()


@pytest.mark.parametrize("serializer", ["marshal", "json"])
def test_other_serializers_are_refused(server, serializer):
    srv, _ = server
    proxy = Pyro5.api.Proxy(f"PYRO:source@{srv.address}")
    proxy._pyroSerializer = serializer
    with pytest.raises(Pyro5.errors.SecurityError, match="serpent or msgpack"):
        proxy.describe()
    proxy._pyroRelease()


def test_a_silent_client_gets_the_instruments_made_safe(server):
    srv, source = server
    session = Pyro5.api.Proxy(f"PYRO:_session@{srv.address}")
    session.hello("silent-client")  # and never beats
    start = time.monotonic()
    while source.safe_calls == 0:
        assert time.monotonic() - start < 2.0, "not made safe"
        time.sleep(0.01)
    assert time.monotonic() - start >= 0.4
    assert "silent-client" in srv.safe_reports[-1]["why"]
    session._pyroRelease()


def test_a_beating_client_is_left_alone(server):
    srv, source = server
    proxy = connect_role(srv.uri("source"))
    time.sleep(1.2)  # more than twice the timeout: the heartbeat thread keeps the session
    assert source.safe_calls == 0
    proxy.close()
