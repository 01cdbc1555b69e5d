"""`wakeword worker` and `wakeword train --workers`: TFF's mergeable context over worker processes.

Two `wakeword worker` processes on this machine act as two machines (loopback): killing a worker
mid-run gives a clear error naming it, and once it is back `--resume` finishes the run, at the same
model as a run on one worker.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import numpy as np
import portpicker
import pytest

from orchestrator.run import load_run
from tests.helpers import LiveCommand, run_wakeword

ROUNDS = ["--rounds", "2", "--clients-per-round", "4", "--eval-every", "2", "--from-scratch"]


def _listeners(port: int) -> list[str]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines() if line.strip()]


class Worker:
    def __init__(self, port: int | None = None, *extra: str) -> None:
        self.port = port or portpicker.pick_unused_port()
        self.cmd = LiveCommand("worker", "--port", str(self.port), *extra)
        self.cmd.wait_for("listening on", timeout=60)
        self.target = f"127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        if self.cmd.proc.poll() is None:
            self.cmd.proc.send_signal(sig)
        return self.cmd.finish(timeout=30)


@pytest.fixture
def workers():
    started = [Worker(), Worker()]
    yield started
    for worker in started:
        worker.stop()


def test_worker_serves_on_loopback_and_stops_clean():
    worker = Worker()
    listening = _listeners(worker.port)
    assert listening and all(a.startswith(("127.0.0.1", "[::ffff:127.0.0.1]")) for a in listening), listening
    result = worker.stop(signal.SIGINT)
    assert result.code == 0 and "Traceback" not in result.stderr
    assert _listeners(worker.port) == []  # the worker_binary went with it
    warned = LiveCommand("worker", "--port", str(portpicker.pick_unused_port()), "--bind", "0.0.0.0")
    line = warned.wait_for("warning")
    assert "no TLS or authentication" in line and "SSH tunnel" in line
    warned.wait_for("listening on")
    warned.proc.send_signal(signal.SIGTERM)
    assert warned.finish(timeout=30).code == 0


def test_a_dead_worker_is_named_and_resume_ends_where_one_worker_does(tiny_fleet, tmp_path, workers):
    """A run over two workers loses one after round 1: a one-line error names it; once it is back,
    `--resume` finishes the run at the model a run on one worker makes (the shards add up, and
    nothing is lost or doubled across the restart)."""
    out = tmp_path / "run"
    targets = ",".join(w.target for w in workers)
    train = LiveCommand("train", "--fleet", tiny_fleet.root, "--out", out, *ROUNDS, "--workers", targets)
    latest = out / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 300
    while not (latest.exists() and json.loads(latest.read_text())["round"] >= 1):
        assert time.monotonic() < deadline and train.proc.poll() is None, "".join(train.stderr_lines)
        time.sleep(0.1)
    victim = workers[1]
    victim.cmd.proc.kill()  # kill -9 of `wakeword worker`
    # the worker_binary dies with its `wakeword worker` (PR_SET_PDEATHSIG)
    deadline = time.monotonic() + 20
    while _listeners(victim.port) and time.monotonic() < deadline:
        time.sleep(0.1)
    result = train.finish(timeout=300)
    last = result.stderr.strip().splitlines()[-1]
    assert result.code == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert victim.target in last and "--resume" in last, last
    workers[1] = Worker(victim.port)
    one = tmp_path / "one"
    for run, extra in ((out, ["--workers", targets, "--resume"]), (one, ["--workers", workers[0].target])):
        done = run_wakeword("train", "--fleet", tiny_fleet.root, "--out", run, *ROUNDS, *extra, timeout=600)
        assert done.code == 0, done.stderr[-2000:]
    history = json.loads((out / "run.json").read_text())["history"]
    assert len(history) == 2 and np.isfinite(history[-1]["eval_loss"])
    # the merged partial sums add in another order than one worker's sum (float32), and Adam's
    # normalised step can magnify that: 1.1e-6 and 1.3e-6 have been seen. A lost or doubled shard
    # would move weights by about a server step (3e-3 per round), far above the bound.
    alone, shared = (load_run(run)[0].get_weights() for run in (one, out))
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(alone, shared))
    assert worst <= 1e-5, worst


# dp over two workers runs by default (issue 24's test); robust and secure are slow-marked
@pytest.mark.parametrize(
    "aggregator",
    [pytest.param("robust", marks=pytest.mark.slow), "dp", pytest.param("secure", marks=pytest.mark.slow)],
)
def test_every_aggregator_over_two_workers(tiny_fleet, tmp_path, workers, aggregator):
    targets = ",".join(w.target for w in workers)
    dp = ["--dp-target-epsilon", "20", "--dp-clipping", "adaptive"] if aggregator == "dp" else []
    result = run_wakeword(
        "train", "--fleet", tiny_fleet.root, "--out", tmp_path / "run", "--rounds", "1", "--from-scratch",
        "--clients-per-round", "4", "--aggregator", aggregator, "--workers", targets, *dp, timeout=600,
    )  # fmt: skip
    assert result.code == 0, result.stderr[-2000:]
    if aggregator == "dp":
        assert "chosen for --dp-target-epsilon 20.0, adaptive clipping" in result.stdout
    assert len(json.loads((tmp_path / "run" / "run.json").read_text())["history"]) == 1
