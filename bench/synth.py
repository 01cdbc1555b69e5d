"""Synthesis throughput: clips per second of `wakeword data synth`, one job vs all cores (same run).

    python -m bench.synth [--devices 8] [--out runs/bench/synth]

Goal (issue 3): at least 50 clips per second on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from bench.common import record
from data_tools.synth import FleetConfig, synth_fleet


def measure(config: FleetConfig, out: Path, jobs: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    fleet = synth_fleet(config, out, jobs=jobs)
    seconds = time.perf_counter() - started
    clips = config.devices * config.clips_per_phone
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    audio_hours = sum(c.duration for p in fleet.phone_ids() for c in fleet.store(p).clips()) / 3600
    return {
        "jobs": jobs,
        "phones": config.devices,
        "clips": clips,
        "seconds": round(seconds, 2),
        "clips_per_second": round(clips / seconds, 1),
        "audio_hours": round(audio_hours, 3),
        "realtime_factor": round(seconds / (audio_hours * 3600), 4),
        "mb_on_disk": round(size / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=8, help="phones per measurement (default 8)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/synth"))
    args = parser.parse_args(argv)
    config = FleetConfig(devices=args.devices, background_minutes=0)  # phones only: clips/s
    cores = os.cpu_count() or 1
    rows = [measure(config, args.out / f"jobs{j}", j) for j in sorted({1, cores})]
    speedup = rows[-1]["clips_per_second"] / rows[0]["clips_per_second"]
    print(f"{'jobs':>4} {'phones':>6} {'clips':>6} {'seconds':>8} {'clips/s':>8} {'MB':>7}")
    for r in rows:
        print(
            f"{r['jobs']:>4} {r['phones']:>6} {r['clips']:>6} {r['seconds']:>8.1f} "
            f"{r['clips_per_second']:>8.1f} {r['mb_on_disk']:>7.1f}"
        )
    print(f"speed-up with {cores} jobs: {speedup:.2f}x; goal >= 50 clips/s on 2 cores: "
          f"{'met' if rows[-1]['clips_per_second'] >= 50 else 'NOT met'}")  # fmt: skip
    print(f"results: {record('synth', {'rows': rows, 'speedup': round(speedup, 2)})}")
    shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
