"""``python -m sim.explore [--host H] [--port P] [--dir D] [OVERRIDE ...]``: the explorer.

It serves on 127.0.0.1 (this machine only) unless ``--host`` says otherwise, prints its
address and stops cleanly on Ctrl-C (running arms are cancelled as Ctrl-C would cancel them at
the terminal). Overrides (``scenario=coupang_2025``) set what the form starts with.

``--host 0.0.0.0`` serves everyone who can reach the machine (a classroom): there is no login,
anyone can start runs (bounded by sim.core.limits, at most one per core at once, the rest
queued), see every arm and its config, and download its files; the server is Flask's
development server, not one to put on the internet. Use it on a trusted network only.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.explore",
        description="The insider-sim explorer in the browser: pick controls, run arms, compare.")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="what the form starts with, e.g. scenario=coupang_2025")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only). "
                             "0.0.0.0 serves the whole network with no login: anyone who "
                             "reaches it can run jobs and read every arm; trusted networks "
                             "only (a classroom), never the internet")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the arms' run dirs go (default explore/DATE_TIME)")
    args = parser.parse_args(argv)
    try:
        import dash  # noqa: F401
        import plotly  # noqa: F401
    except ImportError:
        print("error: the explorer needs its extra: pip install -e '.[explore]'",
              file=sys.stderr)
        return 2
    from sim.core.errors import SimError
    from sim.explore.app import create_app
    from sim.explore.arms import ArmRunner

    # Ctrl-C (SIGINT) is how the explorer stops and how it cancels an arm, so it must reach
    # Python even when the explorer was started with SIGINT ignored (a background job of a
    # non-interactive shell, `cmd &`, inherits SIG_IGN and Python then installs no handler).
    # A handled signal is reset to the default on exec, so the arms it starts get Python's
    # KeyboardInterrupt too, and a cancelled arm writes run.json "interrupted".
    signal.signal(signal.SIGINT, signal.default_int_handler)
    base = args.dir or Path("explore") / time.strftime("%Y-%m-%d_%H-%M-%S")
    runner = ArmRunner(base.resolve())
    try:
        app = create_app(runner, args.overrides)
    except SimError as err:
        runner.close()
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"insider-sim explorer: http://{shown}:{args.port}/  (runs in {runner.base_dir}; "
          f"Ctrl-C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach this machine can run "
              "jobs and read every arm (no login)", file=sys.stderr, flush=True)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"error: --port {args.port}: {err.strerror or err}", file=sys.stderr)
        return 2
    finally:
        runner.close()
    print("explorer stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
