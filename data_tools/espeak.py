"""The espeak-ng command line: phoneme transcriptions (its own codes or IPA), and the synthesis error.

Shared by :mod:`data_tools.tts` (homophone checks) and :mod:`data_tools.neural_tts` (Kokoro and
Piper read espeak-ng's IPA), so neither imports the other for it.
"""

from __future__ import annotations

import shutil
import subprocess

from wakeword.errors import WakewordError

__all__ = ["SynthesisError", "espeak_transcription", "espeak_words"]


class SynthesisError(WakewordError):
    """The speech engine is missing, failed, or produced no audio for the text."""


def espeak_transcription(text: str, *, flag: str, voice: str) -> str:
    """espeak-ng's transcription of ``text``: ``flag`` "-x" for its own phoneme codes, "--ipa" for IPA."""
    return _run(["--", text], flag=flag, voice=voice, what=repr(text), timeout=30)


def espeak_words(words: list[str], *, flag: str, voice: str) -> list[str]:
    """One transcription per word (one espeak-ng call for all of them, each word a sentence)."""
    if not words:
        return []
    text = ".\n".join(words) + "."
    out = _run(["--stdin"], flag=flag, voice=voice, what=f"{len(words)} words", text=text, timeout=300)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if len(lines) != len(words):
        raise SynthesisError(
            f"espeak-ng gave {len(lines)} transcriptions for {len(words)} words: "
            "give plain words (letters only)"
        )
    return lines


def _run(
    args: list[str], *, flag: str, voice: str, what: str, timeout: float, text: str | None = None
) -> str:
    if shutil.which("espeak-ng") is None:
        raise SynthesisError("espeak-ng is not installed: run `make setup` (Debian package espeak-ng)")
    proc = subprocess.run(
        ["espeak-ng", "-q", flag, "-v", voice, *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SynthesisError(f"espeak-ng could not transcribe {what}: {proc.stderr.strip()}")
    return proc.stdout
