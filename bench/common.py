"""Shared bits of the benchmarks: machine description and result recording."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "runs" / "bench"


def machine() -> dict:
    """What the numbers were measured on."""
    mem_kb = 0
    try:
        with open("/proc/meminfo") as handle:
            mem_kb = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line for line in handle if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def wakeword(*args) -> None:
    """Run ``wakeword ARGS`` (this checkout's code) in a subprocess, echoing the command; a failed
    step (it printed its own one-line error) ends the benchmark with one line too."""
    command = [sys.executable, "-m", "wakeword.cli.main", *map(str, args)]
    print("$ wakeword " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    code = subprocess.run(command, check=False).returncode
    if code != 0:
        raise SystemExit(f"bench: `wakeword {args[0]}` failed (exit {code}); its message is above")


def record(name: str, results: dict) -> Path:
    """Write ``runs/bench/NAME.json`` with the machine, date and command line."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(
            shlex.quote(a) for a in ["python", "-m", f"bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]]
        ),
        "machine": machine(),
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path
