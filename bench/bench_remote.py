"""Cost of serving instruments over Pyro5 on loopback: per-call overhead and photon-block throughput.

1. A second process serves the stage, spectrometer and shutter of config/sim.yaml (``tepl serve-instruments``);
   prints the median time of ``stage.on_target()`` called locally and through the server (without the twin's
   World sync, as on a real station, and with it, as on a simulated one). Target: overhead <= 1 ms median.
2. A second process serves a photon source role that returns T2 blocks (int64 time tags + int8 channels, as a
   photon counter's ``iter_t2`` yields them) through the same generic role server; prints records per second
   received by the client. Target: >= 20 M records/s.

Run: ``python bench/bench_remote.py [--calls 2000] [--block 2000000] [--blocks 20]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from tepl.roles import Instrument, T2Block


class PhotonReplay(Instrument):
    """A photon source role for the benchmark: T2 blocks of ``records`` tags."""

    safe_group = "counting"

    def __init__(self, records: int):
        rng = np.random.default_rng(0)
        self._block = T2Block(np.cumsum(rng.integers(1, 50_000, records)), rng.integers(0, 2, records, np.int8),
                              0.1, 1.0)

    def iter_t2(self, blocks: int):
        for _ in range(int(blocks)):
            yield self._block

    def make_safe(self) -> str:
        return "stopped"


def serve_replay(records: int) -> None:
    from tepl.remote.server import InstrumentServer

    server = InstrumentServer({"photons": PhotonReplay(records)}, make_safe=lambda: {}, port=0)
    server.serve(on_ready=lambda s: print(s.uri("photons"), flush=True))


def start(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"pyro://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, match.group(1)


def median_ms(call, n: int) -> float:
    for _ in range(20):
        call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def bench_calls(n: int) -> None:
    from tepl.config import CONFIG_DIR, parse_config
    from tepl.remote.client import connect_role
    from tepl.station import build_station

    sim = yaml.safe_load((CONFIG_DIR / "sim.yaml").read_text())
    pc = {**sim, "instruments": {k: v for k, v in sim["instruments"].items() if k in ("stage", "spectrometer",
                                                                                          "shutter")}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pc.yaml"
        path.write_text(yaml.safe_dump(pc))
        proc, port = start(["-m", "tepl.cli", "serve-instruments", "--config", str(path), "--port", "0"])
        try:
            local = build_station(parse_config((CONFIG_DIR / "sim.yaml").read_text(), "sim.yaml"))
            bare = connect_role(f"pyro://127.0.0.1:{port}/stage")
            synced = connect_role(f"pyro://127.0.0.1:{port}/stage", local.world)
            t_local = median_ms(local.stage.on_target, n)
            t_bare = median_ms(bare.on_target, n)
            t_sync = median_ms(synced.on_target, n)
            print(f"stage.on_target(): local {t_local:.3f} ms, served {t_bare:.3f} ms (overhead "
                  f"{t_bare - t_local:.3f} ms), served with the World synced {t_sync:.3f} ms (overhead "
                  f"{t_sync - t_local:.3f} ms) — median of {n} calls; target overhead <= 1 ms")
            bare.close()
            synced.close()
            local.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def bench_photons(records: int, blocks: int) -> None:
    from tepl.remote.client import connect_role

    proc, port = start([__file__, "--serve-replay", str(records)])
    try:
        for serializer in ("msgpack", "serpent"):
            source = connect_role(f"pyro://127.0.0.1:{port}/photons", serializer=serializer)
            list(source.iter_t2(1))  # warm-up
            t0 = time.perf_counter()
            received = sum(block.time_ps.size for block in source.iter_t2(blocks))
            elapsed = time.perf_counter() - t0
            print(f"photon blocks ({serializer}): {received / elapsed / 1e6:.1f} M records/s "
                  f"({received * 9 / elapsed / 1e6:.0f} MB/s, {blocks} blocks of {records} records); "
                  f"target >= 20 M records/s")
            source.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--block", type=int, default=2_000_000, help="records per photon block")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--serve-replay", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_replay:
        serve_replay(args.serve_replay)
        return
    bench_calls(args.calls)
    bench_photons(args.block, args.blocks)


if __name__ == "__main__":
    main()
