"""A phone's local store: its recordings and a manifest, the contract every other part reads.

On disk (documented in README.md, "The store format")::

    PHONE_DIR/
      manifest.json     format, version, phone_id, info (speaker, room, noise...), quota, clips
      audio/<clip_id>.wav   16 kHz mono 16-bit PCM
      .lock             advisory lock serialising manifest updates between processes

Each clip entry holds: ``clip_id``, ``file`` (relative path), ``label`` (positive/negative),
``kind`` (phrase, phrase_in_sentence, partial, soundalike, confusable, speech, noise, stream, recorded,
imported), ``text``, ``speaker``, ``duration`` (s), ``sha256`` of the file, ``span`` (start and end
of the wake phrase in seconds, for positives) and ``params`` (how it was made or where it came from).

Every change is atomic: the audio file is written first (temp file + rename), then the manifest is
rewritten under an exclusive lock (temp file + rename), so concurrent writers keep every take and a
crash leaves the previous manifest intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wakeword.audio import load_audio, write_wav
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError, StoreError, StoreFullError
from wakeword.fileio import atomic_write

__all__ = ["HARD_KINDS", "KINDS", "LABELS", "MANIFEST", "Clip", "PhoneStore", "sha256_file"]

STORE_FORMAT = "wakeword-store"
STORE_VERSION = 1
MANIFEST = "manifest.json"
AUDIO_DIR = "audio"
LOCK = ".lock"
LABELS = ("positive", "negative")
KINDS = (
    "phrase",  # the wake phrase alone (positive)
    "phrase_in_sentence",  # the wake phrase inside a longer sentence (positive, span marks it)
    "partial",  # part of the phrase alone, e.g. "hey" (hard negative)
    "soundalike",  # the phrase with one syllable changed (hard negative)
    "confusable",  # the phrase with a real word that sounds like one of its words (hard negative)
    "speech",  # other speech (negative)
    "noise",  # background noise (negative)
    "stream",  # long continuous background audio for false accepts per hour (negative)
    "recorded",  # recorded with `wakeword record`
    "imported",  # imported from a real dataset
)
HARD_KINDS = ("partial", "soundalike", "confusable")  # negatives made to be confused with the phrase
_CLIP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Clip:
    """One take in a store (see the module docstring for the fields)."""

    clip_id: str
    file: str
    label: str
    kind: str
    duration: float
    sha256: str
    text: str = ""
    speaker: str = ""
    span: tuple[float, float] | None = None
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        entry = dataclasses.asdict(self)
        entry["span"] = list(self.span) if self.span is not None else None
        return entry

    @classmethod
    def from_json(cls, entry: dict) -> Clip:
        entry = dict(entry)
        if entry.get("span") is not None:
            entry["span"] = tuple(entry["span"])
        return cls(**entry)


class PhoneStore:
    """One phone's local store. Open an existing one with ``PhoneStore(path)``; make one with
    :meth:`create`.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        manifest = self._read_manifest()
        self.phone_id: str = manifest["phone_id"]
        self._batch: list[Clip] | None = None

    # --- creation and metadata --------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        *,
        phone_id: str,
        info: dict | None = None,
        quota_bytes: int | None = None,
    ) -> PhoneStore:
        """Create an empty store at ``root`` (the folder may exist but must hold no store).

        Parameters
        ----------
        root : str or os.PathLike
        phone_id : str
            Stable identifier of the phone.
        info : dict, optional
            Free-form description (speaker, room, noise, source); JSON-serialisable.
        quota_bytes : int, optional
            Maximum total size of the audio files; ``None`` for no limit.
        """
        root = Path(root)
        if not _CLIP_ID.match(phone_id):
            raise ParameterError(f"phone_id {phone_id!r}: use letters, digits, '.', '_' or '-'")
        if (root / MANIFEST).exists():
            raise StoreError(f"{root}: a store already exists here; open it or choose another folder")
        if quota_bytes is not None and quota_bytes <= 0:
            raise ParameterError(f"quota_bytes must be positive, got {quota_bytes}")
        try:
            (root / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{root}: cannot create the store ({exc.strerror})") from None
        manifest = {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "phone_id": phone_id,
            "info": info or {},
            "quota_bytes": quota_bytes,
            "clips": [],
        }
        _write_json(root / MANIFEST, manifest)
        return cls(root)

    @property
    def info(self) -> dict:
        return self._read_manifest()["info"]

    @property
    def quota_bytes(self) -> int | None:
        return self._read_manifest()["quota_bytes"]

    # --- reading ------------------------------------------------------------------------------------

    def clips(self, *, label: str | None = None, kind: str | None = None) -> list[Clip]:
        """The clips in manifest order, optionally only one label and/or kind."""
        clips = [Clip.from_json(entry) for entry in self._read_manifest()["clips"]]
        return [c for c in clips if (label is None or c.label == label) and (kind is None or c.kind == kind)]

    def path(self, clip: Clip) -> Path:
        """Absolute path of a clip's audio file."""
        return self.root / clip.file

    def read(self, clip: Clip) -> np.ndarray:
        """A clip's audio, mono float32 at 16 kHz (shape ``(n,)``)."""
        return load_audio(self.path(clip), min_seconds=0, allow_silent=True)

    def size_bytes(self) -> int:
        """Total size of the audio files on disk."""
        audio = self.root / AUDIO_DIR
        return sum(p.stat().st_size for p in audio.iterdir() if p.is_file()) if audio.is_dir() else 0

    # --- writing ------------------------------------------------------------------------------------

    def add(
        self,
        audio: np.ndarray,
        *,
        label: str,
        kind: str,
        text: str = "",
        speaker: str = "",
        span: tuple[float, float] | None = None,
        params: dict | None = None,
        clip_id: str | None = None,
        fsync: bool = True,
    ) -> Clip:
        """Store one take: write its WAV, then record it in the manifest (both atomic).

        Parameters
        ----------
        audio : np.ndarray [shape=(n,)], float32, 16 kHz
        label : {"positive", "negative"}
        kind : str
            One of :data:`KINDS`.
        text, speaker : str
            What is said (if known) and who says it.
        span : (float, float), optional
            Start and end of the wake phrase in seconds (positives).
        params : dict, optional
            How the clip was made (JSON-serialisable).
        clip_id : str, optional
            Unique id; a random one by default.
        fsync : bool
            Flush the WAV to disk before recording it (bulk writers committing a whole store with
            one rename may skip it).

        Raises
        ------
        ParameterError, StoreError, StoreFullError, wakeword.errors.AudioError
        """
        if label not in LABELS:
            raise ParameterError(f"label must be one of {LABELS}, got {label!r}")
        if kind not in KINDS:
            raise ParameterError(f"kind must be one of {KINDS}, got {kind!r}")
        clip_id = clip_id or f"{kind}-{uuid.uuid4().hex[:12]}"
        if not _CLIP_ID.match(clip_id):
            raise ParameterError(f"clip_id {clip_id!r}: use letters, digits, '.', '_' or '-'")
        relative = f"{AUDIO_DIR}/{clip_id}.wav"
        target = self.root / relative
        if target.exists():
            raise StoreError(f"{self.root}: clip {clip_id!r} already exists")
        quota = self.quota_bytes
        expected = 44 + 2 * int(np.size(audio))
        if quota is not None and self.size_bytes() + expected > quota:
            raise StoreFullError(
                f"{self.root}: store full ({self.size_bytes()} of {quota} bytes used); "
                "delete takes or raise the quota"
            )
        write_wav(target, audio, fsync=fsync)
        clip = Clip(
            clip_id=clip_id,
            file=relative,
            label=label,
            kind=kind,
            duration=round(int(np.size(audio)) / SAMPLE_RATE, 6),
            sha256=sha256_file(target),
            text=text,
            speaker=speaker,
            span=None if span is None else (round(float(span[0]), 4), round(float(span[1]), 4)),
            params=params or {},
        )
        if self._batch is not None:
            self._batch.append(clip)
            return clip
        try:
            with self._locked():
                manifest = self._read_manifest()
                if any(entry["clip_id"] == clip_id for entry in manifest["clips"]):
                    raise StoreError(f"{self.root}: clip {clip_id!r} already exists")
                manifest["clips"].append(clip.to_json())
                _write_json(self.root / MANIFEST, manifest)
        except BaseException:
            target.unlink(missing_ok=True)  # no audio without a manifest entry
            raise
        return clip

    @contextlib.contextmanager
    def batch(self) -> Iterator[PhoneStore]:
        """Add many clips with one manifest update at the end (all or none are recorded)."""
        if self._batch is not None:
            raise StoreError("batches do not nest")
        self._batch = []
        try:
            yield self
            with self._locked():
                manifest = self._read_manifest()
                manifest["clips"].extend(clip.to_json() for clip in self._batch)
                _write_json(self.root / MANIFEST, manifest)
        except BaseException:
            for clip in self._batch:
                (self.root / clip.file).unlink(missing_ok=True)
            raise
        finally:
            self._batch = None

    def delete(self, clip_id: str) -> None:
        """Delete one take (manifest first, then its file)."""
        with self._locked():
            manifest = self._read_manifest()
            kept = [entry for entry in manifest["clips"] if entry["clip_id"] != clip_id]
            if len(kept) == len(manifest["clips"]):
                raise StoreError(f"{self.root}: no clip {clip_id!r}")
            removed = next(e for e in manifest["clips"] if e["clip_id"] == clip_id)
            manifest["clips"] = kept
            _write_json(self.root / MANIFEST, manifest)
        (self.root / removed["file"]).unlink(missing_ok=True)

    def erase(self) -> None:
        """Delete the whole store: every recording and the manifest (the owner's right to erasure)."""
        with self._locked():
            (self.root / MANIFEST).unlink()
            shutil.rmtree(self.root / AUDIO_DIR, ignore_errors=True)
        (self.root / LOCK).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()

    # --- internals ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            handle = open(self.root / LOCK, "a")  # noqa: SIM115 - held for the with block
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot lock the store ({exc.strerror})") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_manifest(self) -> dict:
        path = self.root / MANIFEST
        if not path.is_file():
            raise StoreError(f"{self.root}: not a phone store (no {MANIFEST}); create one first")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable or corrupt manifest ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
            raise StoreError(f"{path}: not a wakeword store manifest")
        if manifest.get("version") != STORE_VERSION:
            raise StoreError(f"{path}: store version {manifest.get('version')}, expected {STORE_VERSION}")
        return manifest


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
