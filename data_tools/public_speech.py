"""Real recorded speech the server may train on: Debian's Asterisk voice prompt packages.

Every other sound the server hears is synthesized, so the only real people a model meets before
it ships are its phones' owners. These prompts are recordings of people (2,780 telephone prompts,
4 people in 5 languages, about 2 hours, 8 kHz), public and installed by ``make setup``: the server's
pre-training adds them as negatives (``wakeword``'s phones never see them). Measured on the 411
real "computer" clips (docs/BENCHMARKS.md, section 1, three seeds): 0.5-2 points fewer misses at
1-20 FA/h on real read speech.

Packages (Debian 12; licenses in each package's ``copyright`` file):

- ``asterisk-core-sounds-en-wav``, ``-es-wav``: Allison Smith (US English, Mexican Spanish), CC BY-SA 3.0
- ``asterisk-core-sounds-fr-wav``: June Wallack (Canadian French), CC BY-SA 3.0
- ``asterisk-core-sounds-it-wav``: Carlo Flora (Italian), CC BY-SA 3.0
- ``asterisk-core-sounds-ru-wav``: Maxim Topal's IVR voice (Russian), CC BY 3.0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from data_tools.fleet import PUBLIC_SPLIT
from data_tools.importers import MIN_SECONDS, store_aside, trim_for_import
from wakeword.audio import load_audio
from wakeword.errors import AudioError, StoreError

__all__ = ["PACKAGES", "SOUNDS_DIR", "add_public_speech", "public_speech_files"]

SOUNDS_DIR = Path("/usr/share/asterisk/sounds")
# Debian package -> its voice's folder under SOUNDS_DIR
PACKAGES = {
    "asterisk-core-sounds-en-wav": "en_US_f_Allison",
    "asterisk-core-sounds-es-wav": "es_MX_f_Allison",
    "asterisk-core-sounds-fr-wav": "fr_CA_f_June",
    "asterisk-core-sounds-it-wav": "it_IT_m_Carlo",
    "asterisk-core-sounds-ru-wav": "ru_RU_f_IvrvoiceRU",
}
SKIPPED_FOLDERS = ("silence",)  # digital silence of set lengths, not speech
CLIPS_PER_PHONE = 100  # prompts per public "phone" (a phone's cache is one file)


def public_speech_files(root: Path = SOUNDS_DIR) -> dict[str, list[Path]]:
    """The prompts of each voice folder (sorted), by folder name.

    Raises
    ------
    StoreError
        If a package's folder is missing or empty (names the package and how to install it).
    """
    voices = {}
    for package, folder in PACKAGES.items():
        files = sorted(
            p
            for p in (root / folder).rglob("*.wav")
            if not set(p.relative_to(root).parts) & set(SKIPPED_FOLDERS)
        )
        if not files:
            raise StoreError(
                f"{root / folder}: no recorded prompts; run `make setup` (Debian package {package})"
            )
        voices[folder] = files
    return voices


def _spread(files: list[Path], share: float) -> list[Path]:
    """``share`` of ``files``, evenly spaced (at least one)."""
    count = max(1, round(share * len(files)))
    return [files[i] for i in sorted({round(k * (len(files) - 1) / max(1, count - 1)) for k in range(count)})]


def _clip(path: Path):
    """A prompt at 16 kHz, trimmed as ``wakeword data import`` trims, or None if unusable."""
    try:
        audio = load_audio(path, min_seconds=MIN_SECONDS)
    except AudioError:
        return None  # e.g. an empty prompt file: skipped, as an import skips it
    return trim_for_import(audio)


def add_public_speech(
    fleet_root: str | os.PathLike,
    *,
    share: float = 1.0,
    root: Path = SOUNDS_DIR,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """Store the public prompts as negative phones of ``fleet_root`` (``phones/public-*``).

    Each store is built aside and renamed into place, so an interrupted call resumes. Returns the
    phones' fleet.json entries (split :data:`PUBLIC_SPLIT`), for the caller to list. ``share``
    (0-1] keeps that share of each voice's prompts, spread evenly over them.
    """
    voices = {folder: _spread(files, share) for folder, files in public_speech_files(root).items()}
    chunks = [
        (folder, k // CLIPS_PER_PHONE, files[k : k + CLIPS_PER_PHONE])
        for folder, files in voices.items()
        for k in range(0, len(files), CLIPS_PER_PHONE)
    ]
    entries = []
    for done, (folder, index, files) in enumerate(chunks):
        phone_id = f"public-{folder}-{index}"
        final = Path(fleet_root) / "phones" / phone_id
        if not (final / "manifest.json").exists():
            _store(final, folder, files, root)
        entries.append({"phone_id": phone_id, "split": PUBLIC_SPLIT, "path": f"phones/{phone_id}"})
        if progress is not None:
            progress("public speech", done + 1, len(chunks))
    return entries


def _store(final: Path, voice: str, files: list[Path], root: Path) -> None:
    with store_aside(final, {"source": str(root / voice), "speaker": voice}) as store:
        for path in files:
            audio = _clip(path)
            if audio is None:
                continue
            store.add(
                audio, label="negative", kind="imported", text="", speaker=voice,
                params={"source": str(path.relative_to(root))}, fsync=False,
            )  # fmt: skip
