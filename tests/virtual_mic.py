"""A real, virtual microphone for tests: a private PulseAudio server with a null sink.

Audio played into the sink (``paplay``) comes back from its monitor, which is the server's default
source, so PortAudio's ``pulse``/``default`` input devices record it through the whole real stack
(sounddevice -> PortAudio -> ALSA pulse plugin -> PulseAudio). Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SINK = "vmic"


class VirtualMicrophone:
    """Start with :meth:`start`, play with :meth:`play`, stop with :meth:`stop`.

    ``env`` holds the variables a process needs to reach this server (set in ``os.environ`` while
    it runs, so subprocesses inherit them).
    """

    def __init__(self) -> None:
        self.runtime = Path(tempfile.mkdtemp(prefix="wakeword-pulse-"))
        os.chmod(self.runtime, 0o700)
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime), "PULSE_SERVER": f"unix:{self.runtime}/pulse/native"}
        self._saved: dict[str, str | None] = {}
        self.pid: int | None = None

    def start(self) -> VirtualMicrophone:
        for tool in ("pulseaudio", "pactl", "paplay"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: `make setup` installs pulseaudio-utils")
        self._saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        # a child, not a daemon, that dies with this process: a test run killed before its
        # teardown (kill -9, a timeout) leaves no server behind
        self._server = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=yes",
             f"--load=module-null-sink sink_name={SINK}", "--load=module-native-protocol-unix"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.pid = self._server.pid
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the virtual PulseAudio server did not start")
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", SINK], check=True)
        subprocess.run(["pactl", "set-default-source", f"{SINK}.monitor"], check=True)
        _refresh_portaudio()
        return self

    def play(self, wav: str | os.PathLike) -> subprocess.Popen:
        """Start playing a WAV file into the sink (returns the ``paplay`` process)."""
        return subprocess.Popen(["paplay", f"--device={SINK}", str(wav)])

    def stop(self) -> None:
        if self.pid is not None:
            subprocess.run(["pactl", "exit"], capture_output=True, timeout=10)
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait(timeout=10)
            self.pid = None
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _refresh_portaudio()
        shutil.rmtree(self.runtime, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it ends (Linux prctl)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _refresh_portaudio() -> None:
    """PortAudio lists devices when it starts: restart it if this process already loaded it."""
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()
