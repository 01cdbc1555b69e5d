"""call_isolated: a call in a spawned child, its progress, log, result and errors forwarded, and
no orphan when the caller is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.isolated import call_isolated
from wakeword.errors import AudioReadError, ParameterError, WakewordError


def _report(first: int, *, second: int, progress=None, log=None) -> tuple[int, int]:
    for done in range(1, 4):
        progress("steps", done, 3)
    log(f"sum {first + second}")
    return os.getpid(), first + second


def _fail(kind: str, *, progress=None, log=None) -> None:
    if kind == "parameter":
        raise ParameterError("`server_voices` must be at least 2")
    if kind == "audio":  # its constructor takes three arguments: it does not unpickle as itself
        raise AudioReadError("voice.onnx", "not readable", "run `make setup`")
    os._exit(3)


def _sleep(pid_file: str, *, progress=None, log=None) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(120)


def test_the_call_runs_in_another_process_and_reports_here():
    calls = []
    pid, total = call_isolated(
        _report, 2, second=5, progress=lambda *a: calls.append(a), log=lambda line: calls.append(line)
    )
    assert pid != os.getpid() and total == 7
    assert calls == [("steps", 1, 3), ("steps", 2, 3), ("steps", 3, 3), "sum 7"]


def test_errors_come_back_as_one_line_errors():
    with pytest.raises(ParameterError) as caught:
        call_isolated(_fail, "parameter", log=print)
    assert str(caught.value) == "`server_voices` must be at least 2"
    with pytest.raises(WakewordError) as caught:
        call_isolated(_fail, "audio", log=print)
    assert str(caught.value) == "voice.onnx: not readable; run `make setup`"
    assert "AudioReadError" in "".join(caught.value.__notes__)  # the child's traceback, for a bug report
    with pytest.raises(RuntimeError, match="ended without an answer \\(exit code 3\\)"):
        call_isolated(_fail, "exit", log=print)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # ended, not yet reaped by whoever adopted it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_caller_leaves_no_child_behind(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = (
        "from orchestrator.isolated import call_isolated\n"
        "from tests.orchestrator.test_isolated import _sleep\n"
        f"call_isolated(_sleep, {str(pid_file)!r}, log=print)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 120
    while not pid_file.exists():
        assert parent.poll() is None and time.monotonic() < deadline, "the child never started"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert not _gone(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not _gone(child):
        assert time.monotonic() < deadline, f"child {child} outlived its killed parent"
        time.sleep(0.1)
