"""Owning TFF's C++ worker process.

TFF 0.87 runs every computation in ``tensorflow_federated/data/worker_binary``, which TFF starts
itself, leaves orphaned when Python exits, lets inherit stdout, and which listens on every network
interface without authentication (see ../shared/notes/tff-0.87.md). Here the orchestrator starts it
instead:

- it binds loopback only (``WAKEWORD_BIND_ADDRESS`` through the ``libloopback_bind.so`` shim;
  another address only when asked, e.g. by ``wakeword worker --bind``);
- it dies with its parent: ``PR_SET_PDEATHSIG`` (SIGKILL) covers even ``kill -9`` of the
  orchestrator; a normal exit, an exception or Ctrl-C stop it in :meth:`OwnedWorker.stop`;
- it runs in its own session (a terminal's Ctrl-C reaches only the orchestrator, which then stops
  it) and its output goes to a log file, never to the orchestrator's stdout.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from wakeword.errors import WakewordError

__all__ = ["GRPC_OPTIONS", "OwnedWorker", "WorkerError", "shim_path", "worker_binary"]

PR_SET_PDEATHSIG = 1
GRPC_OPTIONS = [
    ("grpc.max_message_length", 2_000_000_000),
    ("grpc.max_receive_message_length", 2_000_000_000),
    ("grpc.max_send_message_length", 2_000_000_000),
]
START_TIMEOUT_S = 60.0


class WorkerError(WakewordError):
    """The TFF worker could not be started, died, or cannot be reached."""


def worker_binary() -> Path:
    """Path of TFF's C++ worker inside the installed package."""
    import importlib.util

    spec = importlib.util.find_spec("tensorflow_federated")
    if spec is None or spec.origin is None:
        raise WorkerError("tensorflow_federated is not installed: run `make setup`")
    path = Path(spec.origin).parent / "data" / "worker_binary"
    if not path.is_file():
        raise WorkerError(f"{path}: TFF's worker binary is missing: run `make setup`")
    return path


def shim_path() -> Path:
    """The bind shim; built by `make setup` (scripts/build-native.sh)."""
    path = Path(__file__).parent / "native" / "libloopback_bind.so"
    if not path.is_file():
        raise WorkerError(
            f"{path} is missing: run `make setup` (it builds the shim that keeps the worker on loopback)"
        )
    return path


def _die_with_parent(parent: int):
    """preexec_fn: SIGKILL this child when the process that started it dies (even by kill -9)."""

    def prepare() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(121)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(122)

    return prepare


class OwnedWorker:
    """A TFF worker this process starts, owns and stops.

    Parameters
    ----------
    port : int, optional
        TCP port; a free one by default.
    bind : str
        Address to listen on (default loopback). Anything else is reachable by whoever can route
        to it: TFF's gRPC service has no TLS or authentication.
    log_path : path, optional
        Where the worker's output goes (default: discarded).
    max_concurrent_computation_calls : int
        Passed to the worker (-1: no limit).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        bind: str = "127.0.0.1",
        log_path: str | os.PathLike | None = None,
        max_concurrent_computation_calls: int = -1,
    ) -> None:
        import portpicker

        self.port = port or portpicker.pick_unused_port()
        self.bind = bind
        self.log_path = Path(log_path) if log_path else None
        self.max_concurrent = max_concurrent_computation_calls
        self.process: subprocess.Popen | None = None

    @property
    def target(self) -> str:
        """gRPC target to connect to."""
        host = "127.0.0.1" if self.bind in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost") else self.bind
        host = "[::1]" if self.bind == "::1" else host
        return f"{host}:{self.port}"

    def start(self) -> OwnedWorker:
        if self.process is not None:
            return self
        env = {**os.environ, "LD_PRELOAD": str(shim_path()), "WAKEWORD_BIND_ADDRESS": self.bind}
        args = [
            str(worker_binary()),
            f"--port={self.port}",
            f"--max_concurrent_computation_calls={self.max_concurrent}",
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        atexit.register(self.stop)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import grpc

        channel = grpc.insecure_channel(self.target, GRPC_OPTIONS)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise WorkerError(
                        f"the TFF worker exited at start (code {self.process.returncode}){self._log_hint()}"
                    )
                with contextlib.suppress(grpc.FutureTimeoutError):
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    return
            self.stop()
            raise WorkerError(
                f"the TFF worker did not answer on {self.target} within {START_TIMEOUT_S:.0f} s"
                f"{self._log_hint()}"
            )
        finally:
            channel.close()

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker (SIGTERM, then SIGKILL after ``timeout``); safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> OwnedWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
