"""Locate the real recordings in ``../shared/speech`` (read in place, never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "WAKEWORD_SHARED_SPEECH"


def shared_speech_dir() -> Path | None:
    """The shared real-speech folder, or ``None`` where it is absent.

    Looks at ``$WAKEWORD_SHARED_SPEECH``, then ``shared/speech`` beside the repository and beside
    the current folder's parent.
    """
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    repo = Path(__file__).resolve().parents[1]
    candidates += [repo.parent / "shared" / "speech", Path.cwd().parent / "shared" / "speech"]
    for path in candidates:
        if (path / "README.md").is_file():
            return path
    return None
