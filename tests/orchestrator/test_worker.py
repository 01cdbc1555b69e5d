"""The orchestrator owns TFF's C++ worker: loopback only, never orphaned, never on our stdout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("worker_script.py")
REPO = Path(__file__).resolve().parents[2]


def start(mode: str) -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    line = proc.stdout.readline().split()
    assert line, proc.stderr.read()
    return proc, int(line[0]), int(line[1])


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return True
        if state == "Z":  # exited, waiting to be reaped by its (dead) parent's reaper
            return True
        time.sleep(0.1)
    return False


def listeners(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6, hex as the kernel writes)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@pytest.fixture
def started():
    """Start worker_script.py; whatever happens in the test, nothing it started outlives it."""
    procs = []

    def run(mode: str) -> tuple[subprocess.Popen, int, int]:
        proc, pid, port = start(mode)
        procs.append((proc, pid))
        return proc, pid, port

    yield run
    for proc, pid in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if not gone(pid, timeout=5):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["exit", "with", "raise"])
def test_worker_stops_with_the_orchestrator_and_never_holds_its_stdout(mode, started):
    proc, pid, _ = started(mode)
    # communicate() returns only when every holder of the stdout pipe has closed it:
    # a worker that inherited stdout would keep it open and this would time out
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == (1 if mode == "raise" else 0), err
    assert gone(pid), f"worker {pid} outlived the orchestrator ({mode})"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_worker_dies_on_ctrl_c_and_kill_9(sig, started):
    proc, pid, _ = started("wait")
    assert Path(f"/proc/{pid}").exists()
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert gone(pid), f"worker {pid} outlived an orchestrator killed by {sig!r}"


def test_worker_listens_on_loopback_only_and_runs_computations():
    import tensorflow_federated as tff

    from orchestrator.context import install_context
    from orchestrator.worker import OwnedWorker

    with OwnedWorker() as worker:
        addresses = listeners(worker.port)
        assert addresses, "the worker is not listening"
        assert set(addresses) <= LOOPBACK, f"non-loopback listener: {addresses}"
        install_context([worker.target])

        @tff.tensorflow.computation(np.float32)
        def double(x):
            return x * 2

        @tff.federated_computation(tff.FederatedType(np.float32, tff.CLIENTS))
        def total(x):
            return tff.federated_sum(tff.federated_map(double, x))

        assert total([1.0, 2.0, 3.0]) == pytest.approx(12.0)
        pid = worker.process.pid
    assert gone(pid)


def test_a_requested_bind_address_is_used():
    from orchestrator.worker import OwnedWorker

    with OwnedWorker(bind="::1") as worker:
        assert listeners(worker.port) == ["00000000000000000000000001000000"]
