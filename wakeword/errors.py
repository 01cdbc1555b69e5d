"""The project's one exception hierarchy.

Every error a user can cause (a bad file, a bad argument) is a :class:`WakewordError`. The command
line prints its message on one line and exits with a non-zero code; library callers can catch the
base class or one cause.
"""

from __future__ import annotations

import os


class WakewordError(Exception):
    """Base class of every error wakeword raises on bad input or a bad environment."""


class ParameterError(WakewordError, ValueError):
    """A function or command-line argument is invalid (names the argument and the fix)."""


class AudioError(WakewordError):
    """A problem with one audio input; ``source`` names the file (or array) it comes from."""

    def __init__(self, source: str | os.PathLike, problem: str, fix: str = "") -> None:
        self.source = os.fspath(source)
        self.problem = problem
        self.fix = fix
        message = f"{self.source}: {problem}"
        if fix:
            message += f"; {fix}"
        super().__init__(message)


class AudioReadError(AudioError):
    """The file is missing, unreadable, or not audio that can be decoded (corrupt)."""


class AudioTooShortError(AudioError):
    """The audio is empty or shorter than the minimum length."""


class AudioSilentError(AudioError):
    """The audio is all silence (its peak is below the silence level)."""


class AudioNonFiniteError(AudioError):
    """The audio contains NaN or infinite samples."""


class AudioShapeError(AudioError):
    """The audio array does not have a usable shape (1-D mono or 2-D frames x channels)."""


class WriteError(WakewordError):
    """A file could not be written (folder missing or not writable, disk full); nothing was replaced."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot write: {reason}")


class StoreError(WakewordError):
    """A phone's local store is missing, damaged, or was asked something it cannot do."""


class StoreFullError(StoreError):
    """Adding the clip would exceed the store's size quota."""


class AudioDeviceError(WakewordError):
    """No usable audio device: PortAudio missing, no input device, device busy or failing."""
