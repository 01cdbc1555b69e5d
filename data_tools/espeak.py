"""The espeak-ng command line: phoneme transcriptions (its own codes or IPA), and the synthesis error.

Shared by :mod:`data_tools.tts` (homophone checks) and :mod:`data_tools.neural_tts` (Kokoro and
Piper read espeak-ng's IPA), so neither imports the other for it.
"""

from __future__ import annotations

import shutil
import subprocess

from wakeword.errors import WakewordError

__all__ = ["SynthesisError", "espeak_transcription"]


class SynthesisError(WakewordError):
    """The speech engine is missing, failed, or produced no audio for the text."""


def espeak_transcription(text: str, *, flag: str, voice: str) -> str:
    """espeak-ng's transcription of ``text``: ``flag`` "-x" for its own phoneme codes, "--ipa" for IPA."""
    if shutil.which("espeak-ng") is None:
        raise SynthesisError("espeak-ng is not installed: run `make setup` (Debian package espeak-ng)")
    proc = subprocess.run(
        ["espeak-ng", "-q", flag, "-v", voice, "--", text],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise SynthesisError(f"espeak-ng could not transcribe {text!r}: {proc.stderr.strip()}")
    return proc.stdout
