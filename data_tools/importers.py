"""``wakeword data import``: real recordings into the store format, one phone per speaker.

Layouts:

- ``speech-commands``: ``WORD/SPEAKERHASH_nohash_N.wav`` (also the flattened
  ``_unknown_/WORD_SPEAKERHASH_nohash_N.wav``; ``_silence_`` and ``_background_noise_`` become noise);
- ``fsdd``: free spoken digits, ``DIGIT_SPEAKER_INDEX.wav`` (in ``recordings/`` or the folder itself);
- ``precise``: Mycroft Precise, ``wake-word/`` and ``not-wake-word/`` folders (anywhere below);
- ``csv``: any folder plus a CSV with path, label and speaker columns.

Audio is read in place (never modified), resampled to 16 kHz, downmixed and trimmed; files that
fail validation are skipped and reported with the reason. Speakers are split train/test by a
stable hash, so no voice is on both sides.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_tools.fleet import FLEET_FILE, Fleet, write_fleet_description
from device_client.store import PhoneStore, sha256_file
from wakeword.audio import load_audio, trim_silence
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import AudioError, ParameterError, StoreError
from wakeword.progress import Progress

__all__ = [
    "LAYOUTS", "ImportReport", "SourceClip", "import_dataset", "scan", "store_aside", "trim_for_import",
]  # fmt: skip

LAYOUTS = ("speech-commands", "fsdd", "precise", "csv")
NOISE_LABELS = ("_silence_", "_background_noise_")
TRIM_MARGIN = 0.05  # seconds of context kept around trimmed speech
TRIM_TOP_DB = 40.0  # what is this far below the clip's loudest frame is silence to trim
MIN_SECONDS = 0.1  # a clip shorter than this (before or after trimming) is not imported
TEST_FRACTION = 0.2  # share of speakers held out (stable hash of the speaker id)

_SC_NAME = re.compile(r"^(?:(?P<word>.+)_)?(?P<speaker>[0-9a-f]{8})_nohash_(?P<n>\d+)\.wav$", re.IGNORECASE)
_FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<n>\d+)\.wav$")


@dataclass(frozen=True)
class SourceClip:
    """One file found in a source dataset."""

    path: Path
    label: str  # the dataset's own label (word, digit, wake-word, ...)
    speaker: str  # speaker id ("" if the dataset has none)
    text: str = ""


@dataclass
class ImportReport:
    """What an import did."""

    imported: int = 0
    phones: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def scan(
    layout: str, source: Path, *, csv_path: Path | None = None, columns: dict | None = None
) -> list[SourceClip]:
    """List the clips of a dataset in one of :data:`LAYOUTS`, sorted by path."""
    source = Path(source)
    if not source.is_dir():
        raise ParameterError(f"{source}: not a folder; give the dataset's top folder")
    if layout == "speech-commands":
        clips = _scan_speech_commands(source)
    elif layout == "fsdd":
        clips = _scan_fsdd(source)
    elif layout == "precise":
        clips = _scan_precise(source)
    elif layout == "csv":
        clips = _scan_csv(source, csv_path, columns or {})
    else:
        raise ParameterError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not clips:
        raise ParameterError(f"{source}: no audio files in the {layout} layout found; check `layout`")
    found = {c.path for c in clips}
    unmatched = [
        (str(p), f"name does not follow the {layout} layout")
        for p in sorted(source.rglob("*.wav"))
        if p not in found and layout in ("speech-commands", "fsdd")
    ]
    return sorted(clips, key=lambda c: str(c.path)), unmatched


def _scan_speech_commands(source: Path) -> list[SourceClip]:
    clips = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.wav")):
            if folder.name in NOISE_LABELS:
                clips.append(SourceClip(path, folder.name, "noise"))
                continue
            match = _SC_NAME.match(path.name)
            if match is None:
                continue
            word = match["word"] if folder.name.startswith("_") and match["word"] else folder.name
            clips.append(SourceClip(path, word, match["speaker"].lower(), word))
    return clips


def _scan_fsdd(source: Path) -> list[SourceClip]:
    folder = source / "recordings" if (source / "recordings").is_dir() else source
    clips = []
    for path in sorted(folder.glob("*.wav")):
        match = _FSDD_NAME.match(path.name)
        if match:
            clips.append(SourceClip(path, match["digit"], match["speaker"], match["digit"]))
    return clips


def _scan_precise(source: Path) -> list[SourceClip]:
    clips = []
    for path in sorted(source.rglob("*.wav")):
        parts = path.relative_to(source).parts
        if "wake-word" in parts:
            clips.append(SourceClip(path, "wake-word", source.name))
        elif "not-wake-word" in parts:
            clips.append(SourceClip(path, "not-wake-word", source.name))
    return clips


def _scan_csv(source: Path, csv_path: Path | None, columns: dict) -> list[SourceClip]:
    csv_path = Path(csv_path) if csv_path is not None else source / "metadata.csv"
    if not csv_path.is_file():
        raise ParameterError(f"{csv_path}: no such CSV file; give `csv` (columns path, label, speaker)")
    names = {"path": "path", "label": "label", "speaker": "speaker", "text": "text", **columns}
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [names[k] for k in ("path", "label") if names[k] not in (reader.fieldnames or [])]
        if missing:
            raise ParameterError(f"{csv_path}: missing column(s) {missing}; found {reader.fieldnames}")
        clips = []
        for row in reader:
            label = (row.get(names["label"]) or "").strip()
            speaker = (row.get(names["speaker"]) or "").strip() or "unknown"
            clips.append(
                SourceClip(
                    source / row[names["path"]], label, speaker, (row.get(names["text"]) or "").strip()
                )
            )
    return clips


def held_out_speakers(speakers: list[str]) -> set[str]:
    """The speakers held out for testing: the TEST_FRACTION (at least one, if there are two or more)
    whose stable hash ranks lowest, so the split never depends on file order."""

    def rank(speaker: str) -> bytes:
        return hashlib.sha256(f"wakeword-speaker:{speaker}".encode()).digest()

    real = sorted((s for s in set(speakers) if s != "noise"), key=rank)
    count = max(1, round(len(real) * TEST_FRACTION)) if len(real) >= 2 else 0
    return set(real[:count])


def _phone_id(speaker: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", speaker).strip("-") or "unknown"
    return f"spk-{safe}"[:100]


@contextmanager
def store_aside(final: Path, info: dict) -> Iterator[PhoneStore]:
    """A new phone store for ``final``, built in a hidden folder beside it and renamed into place
    when the block ends without error: an interrupted import leaves nothing half-written at ``final``
    (the next run starts that store again). Clips added inside the block are batched."""
    partial = final.parent / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    store = PhoneStore.create(partial, phone_id=final.name, info=info)
    with store.batch():
        yield store
    os.replace(partial, final)


def trim_for_import(audio: np.ndarray) -> np.ndarray | None:
    """``audio`` (16 kHz) trimmed as an import trims it (:func:`wakeword.audio.trim_silence`, keeping
    :data:`TRIM_MARGIN` around the speech), or None if less than :data:`MIN_SECONDS` is left."""
    audio = trim_silence(audio, top_db=TRIM_TOP_DB, margin=TRIM_MARGIN)
    return audio if audio.size >= MIN_SECONDS * SAMPLE_RATE else None


def _import_speaker(final: Path, clips: list, speaker: str, source: Path, positive: str, first_of: dict,
                    report: ImportReport, *, progress) -> None:  # fmt: skip
    """One speaker's clips into a phone store at ``final`` (:func:`store_aside`); each clip imported
    or listed in ``report.skipped`` with the reason. ``progress(k)`` after each."""
    with store_aside(final, {"source": str(source), "speaker": speaker}) as store:
        for index, clip in enumerate(clips):
            original = first_of.get(clip.path)
            if original is not None:
                reason = f"byte-identical duplicate of {original}"
            else:
                reason = _import_one(store, clip, index, positive, source)
            if reason is None:
                report.imported += 1
            else:
                report.skipped.append((str(clip.path), reason))
            if progress is not None:
                progress(index + 1)


def import_dataset(
    layout: str,
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    positive: str,
    csv_path: str | os.PathLike | None = None,
    columns: dict | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a dataset into a fleet folder ``out`` (one phone store per speaker).

    Parameters
    ----------
    layout : str
        One of :data:`LAYOUTS`.
    source : str or os.PathLike
        The dataset's folder (read only).
    out : str or os.PathLike
        Fleet folder to create (or finish: phones already imported are kept).
    positive : str
        The dataset label that is the wake word (e.g. "yes", "wake-word", "positive").
    csv_path, columns
        For the ``csv`` layout: the CSV and a mapping of {"path", "label", "speaker", "text"} to
        its column names.
    progress : callable, optional
        Called as ``progress("importing", done, total)`` per file.
    """
    source, root = Path(source), Path(out)
    clips, unmatched = scan(layout, source, csv_path=csv_path, columns=columns)
    labels = {c.label for c in clips}
    if positive not in labels:
        raise ParameterError(
            f"`positive` {positive!r} is not a label of {source}; labels: {sorted(labels)[:20]}"
        )
    by_speaker: dict[str, list[SourceClip]] = {}
    for clip in clips:
        by_speaker.setdefault(clip.speaker, []).append(clip)
    test = held_out_speakers(list(by_speaker))
    phones = [
        {
            "phone_id": _phone_id(s),
            "split": "test" if s in test else "train",
            "path": f"phones/{_phone_id(s)}",
        }
        for s in sorted(by_speaker)
    ]
    settings = {"layout": layout, "source": str(source.resolve()), "positive": positive}
    if (root / FLEET_FILE).exists() and Fleet(root).description.get("settings") != settings:
        raise StoreError(f"{root}: holds another fleet or import; choose a new `out`")
    (root / "phones").mkdir(parents=True, exist_ok=True)
    write_fleet_description(
        root, {"phrase": positive, "seed": None, "settings": settings, "phones": phones, "background": []}
    )
    report = ImportReport(phones=len(phones), skipped=list(unmatched))
    first_of = _first_copies(clips)  # byte-identical source files are imported once
    done = 0
    for speaker in sorted(by_speaker):
        final = root / "phones" / _phone_id(speaker)
        if not (final / "manifest.json").exists():
            step = None if progress is None else lambda k, d=done: progress("importing", d + k, len(clips))
            _import_speaker(
                final, by_speaker[speaker], speaker, source, positive, first_of, report, progress=step
            )
        done += len(by_speaker[speaker])
    return report


def _first_copies(clips: list[SourceClip]) -> dict[Path, Path]:
    """Map each file that repeats an earlier file's bytes to that earlier file."""
    seen: dict[str, Path] = {}
    duplicates = {}
    for clip in clips:
        try:
            digest = sha256_file(clip.path)
        except OSError:
            continue  # unreadable: _import_one reports it
        if digest in seen:
            duplicates[clip.path] = seen[digest]
        else:
            seen[digest] = clip.path
    return duplicates


def _import_one(store: PhoneStore, clip: SourceClip, index: int, positive: str, source: Path) -> str | None:
    noise = clip.label in NOISE_LABELS
    try:
        audio = load_audio(clip.path, min_seconds=MIN_SECONDS)
    except AudioError as exc:
        return exc.problem
    if not noise:
        audio = trim_for_import(audio)
        if audio is None:
            return "too short after trimming silence"
    is_positive = clip.label == positive
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", clip.path.stem)[:80]
    store.add(
        audio,
        label="positive" if is_positive else "negative",
        kind="noise" if noise else "imported",
        text=clip.text or clip.label,
        speaker=clip.speaker,
        span=(0.0, audio.size / SAMPLE_RATE) if is_positive else None,
        params={"source": str(clip.path.relative_to(source)), "label": clip.label},
        clip_id=f"{index:05d}-{stem}",
        fsync=False,
    )
    return None
