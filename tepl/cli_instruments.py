"""``tepl serve | serve-instruments | check-rig``: a protocol simulator on a TCP port, this PC's instruments
served to a station on another PC, and the config's RHK R9 asked about each word of the driver's vocabulary."""

from __future__ import annotations

import argparse


def cmd_serve(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.twin import build_world

    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port} is not a TCP port (1-65535)")
    world = build_world(load_config(args.config), real_time=True)
    if world is None:
        raise ValueError(f"{args.config}: a station without a 'simulation' section has nothing to serve")
    if args.simulator == "pi-e727":
        from tepl.sims.pi_e727 import serve
    elif args.simulator == "thorlabs-sc10":
        from tepl.sims.thorlabs_sc10 import serve
    elif args.simulator == "newport-8742":
        from tepl.sims.newport_8742 import serve
    elif args.simulator == "lakeshore-336":
        from tepl.sims.lakeshore_336 import serve
    else:
        from tepl.sims.rhk_r9 import serve
    server = serve(world, args.port).start()
    host, port = server.address
    print(f"{args.simulator} simulator on {host}:{port} (Ctrl-C stops)", flush=True)
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def cmd_serve_instruments(args: argparse.Namespace) -> int:
    from tepl.config import load_config
    from tepl.remote.server import serve_station

    if not 0 <= args.port < 65536:
        raise ValueError(f"--port {args.port} is not a TCP port (0-65535; 0: any free port)")
    tls = {"cert": args.tls_cert, "key": args.tls_key, "ca": args.tls_ca} \
        if (args.tls_cert or args.tls_key or args.tls_ca) else None
    server = serve_station(load_config(args.config), args.host, args.port, args.heartbeat_timeout_s, tls)

    def ready(srv) -> None:
        print(f"serving {', '.join(srv.uri(r) for r in sorted(srv.instruments))} "
              f"({'TLS' if tls else 'loopback, no TLS'}; a silent client is made safe after "
              f"{srv.heartbeat_timeout_s:g} s; SIGTERM or Ctrl-C stops)", flush=True)

    server.serve(on_ready=ready)
    print(f"stopped; safe state: {server.safe_reports[-1]['report']}", flush=True)
    return 0


def cmd_check_rig(args: argparse.Namespace) -> int:
    """Ask the config's R9 about each word of the driver's vocabulary, read-only; exit 1 if one did not answer."""
    from tepl.config import ConfigError, load_config
    from tepl.drivers.rhk_r9_check import NOT_ANSWERED, check_words, format_checks
    from tepl.instruments.rhk_r9 import connect_r9

    config = load_config(args.config)
    cfg = config.data["instruments"].get("zcontrol")
    if cfg is None or cfg.get("driver") != "rhk-r9":
        raise ConfigError(f"{config.source}: instruments.zcontrol is not an RHK R9 (driver: rhk-r9): nothing to "
                          f"check")
    r9 = connect_r9(cfg, timeout_s=args.timeout_s)
    try:
        checks = check_words(r9)
    finally:
        r9.close()
    print(format_checks(checks, r9.where.removeprefix("R9 at ")), flush=True)
    return 1 if any(c.result == NOT_ANSWERED for c in checks) else 0
