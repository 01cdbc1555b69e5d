"""Federated rounds over one and over two TFF workers (`wakeword train --workers`), same run.

    python -m bench.workers [--fleet runs/fleet-200] [--rounds 3]

Starts the workers itself (loopback), trains the same rounds with one and with two, and reports the
mean round time (rounds after the first, which also traces the computations) and each worker's
share of the CPU time its processes used. On one machine both workers share its cores, so two
workers are not expected to be faster here; the numbers show how the work splits.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from bench.common import record


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fleet_path: Path, n_workers: int, rounds: int, out: Path) -> dict:
    from data_tools.fleet import Fleet
    from orchestrator.federated import FederatedConfig, train_federated
    from orchestrator.worker import OwnedWorker

    shutil.rmtree(out, ignore_errors=True)
    workers = [OwnedWorker(log_path=None).start() for _ in range(n_workers)]
    try:
        before = [_cpu_seconds(w.process.pid) for w in workers]
        config = FederatedConfig(rounds=rounds, clients_per_round=10, eval_every=rounds)
        description = train_federated(
            Fleet(fleet_path), out, config, workers=[w.target for w in workers], log=lambda _m: None
        )
        used = [_cpu_seconds(w.process.pid) - b for w, b in zip(workers, before)]
    finally:
        for w in workers:
            w.stop()
    times = [row["round_seconds"] for row in description.history][1:]
    return {
        "workers": n_workers,
        "rounds": rounds,
        "mean_round_seconds": round(sum(times) / len(times), 2),
        "worker_cpu_seconds": [round(u, 1) for u in used],
        "worker_cpu_share": [round(u / sum(used), 3) for u in used],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fleet", type=Path, default=Path("runs/fleet-200"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/workers"))
    args = parser.parse_args(argv)
    rows = [measure(args.fleet, n, args.rounds, args.out / f"workers-{n}") for n in (1, 2)]
    print(f"{'workers':>7} {'mean round s':>13}  CPU share per worker")
    for r in rows:
        share = ", ".join(
            f"{s:.0%} ({c:.0f} s)" for s, c in zip(r["worker_cpu_share"], r["worker_cpu_seconds"])
        )
        print(f"{r['workers']:>7} {r['mean_round_seconds']:>13.1f}  {share}")
    print(f"results: {record('workers', {'rows': rows})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
