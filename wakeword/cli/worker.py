"""Run a TensorFlow Federated worker on this machine for `wakeword train --workers`.

The worker executes the client work of the phones assigned to it (reading their stores from this
machine's disk: give the fleet the same path on every machine) up to the aggregation; the
orchestrator merges the partial aggregates (TFF's mergeable execution context). It runs until
Ctrl-C or SIGTERM, and takes its TFF worker_binary down with it.

It listens on 127.0.0.1 unless told otherwise. TFF 0.87's gRPC service has no TLS and no
authentication: whoever can reach the port can run computations on this machine. To use workers on
other machines, keep them on loopback and reach them through an SSH tunnel
(`ssh -N -L 8001:127.0.0.1:8000 worker-host`, then `--workers 127.0.0.1:8001`), or bind them to a
private network only you can reach.

Example:  wakeword worker --port 8000
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "serve a TFF worker for multi-machine federated training (loopback by default)"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--log", type=Path, help="file for the worker's own output (default: discarded)")


def run(args: argparse.Namespace) -> int:
    import signal
    import sys
    import time

    from orchestrator.worker import OwnedWorker, WorkerError
    from wakeword.errors import ParameterError

    if not 0 < args.port < 65536:
        raise ParameterError(f"--port must be 1-65535, got {args.port}")
    if args.bind not in LOOPBACK:
        print(
            f"warning: listening on {args.bind}: TFF's worker service has no TLS or authentication, anyone "
            "who can reach this port can run code here; prefer --bind 127.0.0.1 with an SSH tunnel "
            "(ssh -N -L LOCAL:127.0.0.1:PORT HOST) or a private network",
            file=sys.stderr,
        )

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with OwnedWorker(port=args.port, bind=args.bind, log_path=args.log) as worker:
        try:  # the announcement inside: a signal right after it (a busy machine) is a clean stop too
            print(f"TFF worker listening on {args.bind}:{args.port} (pid {worker.process.pid}); "
                  "Ctrl-C or SIGTERM stops it", file=sys.stderr, flush=True)  # fmt: skip
            while worker.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping the worker", file=sys.stderr, flush=True)
            return 0
        hint = f"; see {args.log}" if args.log else ""
        code = worker.process.returncode
        raise WorkerError(f"the TFF worker on port {args.port} exited unexpectedly (code {code}){hint}")
