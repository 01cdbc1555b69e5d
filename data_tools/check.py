"""``wakeword data check``: validate a fleet or a single store, naming every problem.

Checks counts per phone and label, durations and levels, duplicate audio (by checksum), files
missing from disk or missing from the manifest, checksum mismatches (a manifest that lies) and
audio that does not decode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from data_tools.fleet import FLEET_FILE, Fleet
from device_client.store import AUDIO_DIR, MANIFEST, PhoneStore, sha256_file
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import StoreError
from wakeword.progress import Progress

__all__ = ["CheckReport", "check"]


@dataclass
class CheckReport:
    rows: list[dict] = field(default_factory=list)  # one per store
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(path: str | os.PathLike, *, progress: Progress | None = None) -> CheckReport:
    """Check a fleet folder (with fleet.json) or a single store folder (with manifest.json)."""
    path = Path(path)
    report = CheckReport()
    if (path / FLEET_FILE).is_file():
        fleet = Fleet(path)
        stores = [(entry.phone_id, entry.split, path / entry.path) for entry in fleet.phones]
        stores += [(store.phone_id, "background", store.root) for store in fleet.background()]
        listed = {Path(entry.path).name for entry in fleet.phones}
        for extra in sorted((path / "phones").iterdir()) if (path / "phones").is_dir() else []:
            if extra.is_dir() and extra.name not in listed:
                what = (
                    "an unfinished phone (re-run the command to finish it)"
                    if extra.name.startswith(".")
                    else "not in fleet.json"
                )
                report.problems.append(f"{extra}: {what}")
    elif (path / MANIFEST).is_file():
        stores = [(path.name, "-", path)]
    else:
        raise StoreError(f"{path}: neither a fleet (no {FLEET_FILE}) nor a phone store (no {MANIFEST})")
    seen: dict[str, str] = {}
    for i, (phone_id, split, root) in enumerate(stores):
        report.rows.append(_check_store(phone_id, split, root, seen, report.problems))
        if progress is not None:
            progress("checking", i + 1, len(stores))
    return report


def _check_store(phone_id: str, split: str, root: Path, seen: dict[str, str], problems: list[str]) -> dict:
    row = {
        "phone": phone_id,
        "split": split,
        "positive": 0,
        "negative": 0,
        "minutes": 0.0,
        "level_dbfs": None,
    }
    if not (root / MANIFEST).is_file():
        problems.append(f"{root}: store missing (no {MANIFEST})")
        return row
    try:
        store = PhoneStore(root)
        clips = store.clips()
    except StoreError as exc:
        problems.append(str(exc))
        return row
    levels = []
    for clip in clips:
        file = store.path(clip)
        where = f"{root}/{clip.file}"
        if not file.is_file():
            problems.append(f"{where}: in the manifest but missing on disk")
            continue
        digest = sha256_file(file)
        if digest != clip.sha256:
            problems.append(f"{where}: checksum differs from the manifest (file changed or manifest wrong)")
        if digest in seen:
            problems.append(f"{where}: duplicate of {seen[digest]}")
        else:
            seen[digest] = where
        try:
            audio, rate = sf.read(str(file), dtype="float32")
        except (sf.LibsndfileError, RuntimeError) as exc:
            problems.append(f"{where}: corrupt audio ({str(exc).splitlines()[0]})")
            continue
        if rate != SAMPLE_RATE or audio.ndim != 1:
            problems.append(f"{where}: not 16 kHz mono ({rate} Hz, shape {audio.shape})")
        if abs(audio.shape[0] / rate - clip.duration) > 1.5 / rate:
            problems.append(
                f"{where}: duration {audio.shape[0] / rate:.3f} s, manifest says {clip.duration:.3f} s"
            )
        if clip.span is not None and not (0 <= clip.span[0] < clip.span[1] <= clip.duration + 1e-3):
            problems.append(f"{where}: phrase span {clip.span} outside the clip")
        row[clip.label] += 1
        row["minutes"] += clip.duration / 60
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
        levels.append(20 * np.log10(max(rms, 1e-10)))
    listed = {Path(c.file).name for c in clips}
    for extra in sorted((root / AUDIO_DIR).glob("*")) if (root / AUDIO_DIR).is_dir() else []:
        if extra.name not in listed:
            problems.append(f"{extra}: on disk but not in the manifest")
    row["level_dbfs"] = round(float(np.mean(levels)), 1) if levels else None
    row["minutes"] = round(row["minutes"], 2)
    return row
