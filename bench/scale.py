"""Fleet scale: peak memory and round time of federated training at 100, 1,000 and 5,000 phones.

    python -m bench.scale [--sizes 100,1000,5000] [--rounds 8] [--clients-per-round 10]

Builds (or reuses) one fleet of the largest size with small phones (10 clips each: 4 positives,
1 partial, 1 sound-alike, 3 other speech, 1 noise; no background streams) and views its first N
phones as a fleet of N (a folder with its own fleet.json and a link to the big fleet's phones).
Each size trains in a fresh process so that peak memory is its own: the orchestrator's peak RSS
(``ru_maxrss``) and the TFF worker's (``VmHWM``), read before the worker stops. Round time is the
mean training time of the rounds after the first (which also traces the computations); the
federated evaluation at the end (at most ``eval_clients`` validation phones: 8 at 100 phones, 50
above) and the feature caching of newly sampled phones (the device-side step) are timed apart.
Goals (issue 8): round time flat in fleet size; peak RSS under 3 GB at 5,000 phones.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import record

OUT = Path("runs/bench/scale")
BIG_FLEET = Path("runs/bench/scale-fleet-5000")
# Small phones: the benchmark measures the orchestrator, not the size of each phone's data.
PHONE_CLIPS = {"positives": 4, "in_sentence": 1, "partials": 1, "soundalikes": 1, "speech": 3, "noise": 1}


def ensure_big_fleet(path: Path, devices: int):
    """The fleet every size is cut from (synthesized once; re-running finishes an interrupted run)."""
    from data_tools.fleet import FLEET_FILE, Fleet
    from data_tools.synth import FleetConfig, synth_fleet
    from device_client.store import MANIFEST
    from wakeword.progress import ProgressBars

    if (path / FLEET_FILE).exists():
        fleet = Fleet(path)
        if len(fleet.phones) >= devices and all((path / p.path / MANIFEST).exists() for p in fleet.phones):
            return fleet
    print(f"synthesizing {devices} small phones into {path} (about 2.5 phones/s per core) ...")
    config = FleetConfig(devices=devices, background_minutes=0, **PHONE_CLIPS)
    with ProgressBars() as bars:
        return synth_fleet(
            config, path, progress=lambda what, done, total: bars.update("synthesizing", done, total, what)
        )


def fleet_view(big, size: int, folder: Path) -> Path:
    """A fleet of the first ``size`` phones of ``big``, keeping its share of held-out phones."""
    from data_tools.fleet import write_fleet_description

    test_share = len(big.phone_ids("test")) / len(big.phones)
    n_test = round(size * test_share)
    train = [p for p in big.phones if p.split == "train"][: size - n_test]
    test = [p for p in big.phones if p.split == "test"][:n_test]
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "phones"
    if not link.is_symlink():
        link.symlink_to((big.root / "phones").resolve(), target_is_directory=True)
    description = {k: v for k, v in big.description.items() if k not in ("format", "version")}
    description["phones"] = [{"phone_id": p.phone_id, "split": p.split, "path": p.path} for p in train + test]
    write_fleet_description(folder, description)
    return folder


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure_one(fleet_path: Path, rounds: int, clients_per_round: int, out: Path) -> dict:
    """Train ``rounds`` rounds on one fleet in this process; returns times and peak memory."""
    t_start = time.perf_counter()
    from data_tools.fleet import Fleet
    from orchestrator.federated import FederatedConfig, train_federated
    from orchestrator.worker import OwnedWorker

    shutil.rmtree(out, ignore_errors=True)
    worker = OwnedWorker(log_path=None).start()
    try:
        fleet = Fleet(fleet_path)
        config = FederatedConfig(rounds=rounds, clients_per_round=clients_per_round, eval_every=rounds)
        description = train_federated(fleet, out, config, workers=[worker.target], log=lambda _m: None)
        worker_peak_kb = _peak_kb(worker.process.pid)
    finally:
        worker.stop()
    history = description.history
    later = history[1:] or history
    return {
        "phones": len(fleet.phones),
        "training_phones": len(fleet.training_ids()),
        "rounds": rounds,
        "clients_per_round": clients_per_round,
        "first_round_seconds": round(history[0]["round_seconds"] - history[0].get("eval_seconds", 0.0), 2),
        "mean_round_seconds": round(
            sum(r["round_seconds"] - r.get("eval_seconds", 0.0) for r in later) / len(later), 2
        ),
        "eval_phones": len(description.validation_phones[: config.eval_clients]),
        "eval_seconds": history[-1].get("eval_seconds"),
        "mean_prepare_seconds": round(sum(r["prepare_seconds"] for r in history) / len(history), 2),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "orchestrator_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "worker_peak_rss_mb": round(worker_peak_kb / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="fleet sizes (default 100,1000,5000)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per size (default 8)")
    parser.add_argument("--clients-per-round", type=int, default=10, help="(default 10)")
    parser.add_argument("--fleet", type=Path, default=BIG_FLEET, help=f"the big fleet (default {BIG_FLEET})")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # child: measure this fleet view
    args = parser.parse_args(argv)
    if args.one is not None:
        result = measure_one(args.one, args.rounds, args.clients_per_round, args.one / "run")
        print("RESULT " + json.dumps(result))
        return 0

    sizes = sorted(int(s) for s in args.sizes.split(","))
    big = ensure_big_fleet(args.fleet, sizes[-1])
    rows = []
    for size in sizes:
        view = fleet_view(big, size, OUT / f"fleet-{size}")
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scale",
                "--one",
                str(view),
                "--rounds",
                str(args.rounds),
                "--clients-per-round",
                str(args.clients_per_round),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        if child.returncode != 0 or not lines:
            print(child.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"bench.scale: the run on {size} phones failed (exit {child.returncode})")
        rows.append(json.loads(lines[-1][len("RESULT ") :]))
        r = rows[-1]
        print(
            f"{size} phones: round {r['mean_round_seconds']:.2f} s, peak RSS orchestrator "
            f"{r['orchestrator_peak_rss_mb']} MB + worker {r['worker_peak_rss_mb']} MB",
            flush=True,
        )
    print(
        f"\n{'phones':>7}{'round s':>9}{'1st round s':>12}{'caching s':>10}{'eval s (phones)':>16}"
        f"{'orch. MB':>10}{'worker MB':>10}{'total MB':>10}"
    )
    for r in rows:
        total = r["orchestrator_peak_rss_mb"] + r["worker_peak_rss_mb"]
        evaluation = f"{r['eval_seconds'] or 0:.1f} ({r['eval_phones']})"
        print(
            f"{r['phones']:>7,}{r['mean_round_seconds']:>9.2f}{r['first_round_seconds']:>12.1f}"
            f"{r['mean_prepare_seconds']:>10.2f}{evaluation:>16}{r['orchestrator_peak_rss_mb']:>10,}"
            f"{r['worker_peak_rss_mb']:>10,}{total:>10,}"
        )
    base = rows[0]["mean_round_seconds"]
    print(
        f"round time at {rows[-1]['phones']:,} phones / at {rows[0]['phones']:,}: "
        f"{rows[-1]['mean_round_seconds'] / base:.2f}x (goal: flat)"
    )
    print(f"results: {record('scale', {'rows': rows, 'phone_clips': PHONE_CLIPS})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
