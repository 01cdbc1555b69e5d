"""Helpers for tests that run the real ``wakeword`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def run_wakeword(*args: str, timeout: float = 300, cwd=None) -> Result:
    """Run ``python -m wakeword ARGS`` (the installed console script's code) and capture it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "wakeword", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """A user error: exit code 1, one line on stderr naming the problem, no traceback."""
    assert result.code == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


class LiveCommand:
    """``python -m wakeword ARGS`` running in the background; its stderr lines are collected as they
    come, so a test can wait for a prompt and act (play audio, send Ctrl-C)."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        import queue
        import threading

        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wakeword", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        self.stdout_chunks: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=lambda: self.stdout_chunks.append(self.proc.stdout.read()))
        self._out_reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            self.lines.put(line)
        self.lines.put("")  # end of stream

    def wait_for(self, fragment: str, timeout: float = 60) -> str:
        """Block until a stderr line contains ``fragment``; return it (AssertionError on exit/timeout)."""
        import queue
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                seen = "".join(self.stderr_lines)
                raise AssertionError(f"no {fragment!r} within {timeout} s: {seen}") from None
            if line == "":
                raise AssertionError(f"exited before {fragment!r}: {''.join(self.stderr_lines)}")
            if fragment in line:
                return line

    def finish(self, timeout: float = 60) -> Result:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self._out_reader.join(timeout=10)
        return Result(self.proc.returncode, "".join(self.stdout_chunks), "".join(self.stderr_lines))
