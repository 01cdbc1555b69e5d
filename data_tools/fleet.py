"""A fleet on disk: ``FLEET/fleet.json`` plus one phone store per phone (see README, "The fleet").

::

    FLEET/
      fleet.json          format, version, phrase, seed, settings, phones [{phone_id, split, path}]
      phones/phone-0000/  a device_client store (manifest.json + audio/)
      background/stream-000/  stores of long negative streams (false accepts per hour)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from device_client.store import PhoneStore
from wakeword.errors import ParameterError, StoreError
from wakeword.fileio import atomic_write

__all__ = ["FLEET_FILE", "PUBLIC_SPLIT", "SPLITS", "Fleet", "PhoneEntry", "voice_group"]

FLEET_FORMAT = "wakeword-fleet"
FLEET_VERSION = 1
FLEET_FILE = "fleet.json"
PUBLIC_SPLIT = "public"  # phones of public recordings no phone made: they train, never validate or test
SPLITS = ("train", "test", PUBLIC_SPLIT)


@dataclass(frozen=True)
class PhoneEntry:
    phone_id: str
    split: str  # "train", "test" (held out: speakers and rooms never seen in training) or "public"
    path: str  # relative to the fleet folder


class Fleet:
    """Read access to a fleet folder."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        path = self.root / FLEET_FILE
        if not path.is_file():
            raise StoreError(
                f"{self.root}: not a fleet (no {FLEET_FILE}); make one with `wakeword data synth`"
            )
        try:
            self.description = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable or corrupt ({exc})") from None
        if self.description.get("format") != FLEET_FORMAT:
            raise StoreError(f"{path}: not a wakeword fleet description")
        self.phones = [PhoneEntry(**entry) for entry in self.description["phones"]]

    @property
    def phrase(self) -> str:
        return self.description["phrase"]

    def phone_ids(self, split: str | None = None) -> list[str]:
        """Phone ids, optionally of one split."""
        if split is not None and split not in SPLITS:
            raise ParameterError(f"split must be one of {SPLITS}, got {split!r}")
        return [p.phone_id for p in self.phones if split is None or p.split == split]

    def validation_ids(self) -> list[str]:
        """Training-split phones held back for validation (early stopping, choosing the threshold):
        10% (at least one, if there are two or more) ranked by a stable hash of the phone id."""
        train = sorted(
            self.phone_ids("train"), key=lambda p: hashlib.sha256(f"wakeword-val:{p}".encode()).digest()
        )
        count = max(1, round(0.1 * len(train))) if len(train) >= 2 else 0
        return sorted(train[:count])

    def training_ids(self) -> list[str]:
        """Phones that train: the training split but :meth:`validation_ids`, then any public ones
        (recordings of the server's, :mod:`data_tools.public_speech`)."""
        held = set(self.validation_ids())
        return [p for p in self.phone_ids("train") if p not in held] + self.phone_ids(PUBLIC_SPLIT)

    def streams(self, split: str) -> list[PhoneStore]:
        """Background streams of a split: the first third (at least one if there are two or more)
        for "validation", the rest for "test"."""
        return [PhoneStore(path) for path in self.stream_paths(split)]

    def stream_paths(self, split: str) -> list[Path]:
        """The store folders of :meth:`streams` (nothing in them opened)."""
        streams = [self.root / rel for rel in self.description.get("background", [])]
        n_val = max(1, len(streams) // 3) if len(streams) >= 2 else 0
        return streams[:n_val] if split == "validation" else streams[n_val:]

    def store(self, phone_id: str) -> PhoneStore:
        """Open one phone's store (reads its manifest: the phone's side only)."""
        return PhoneStore(self.store_path(phone_id))

    def store_path(self, phone_id: str) -> Path:
        """A phone's store folder as ``fleet.json`` gives it, without opening anything in it (what
        the server may know of a phone: where its client computation finds its own data)."""
        for entry in self.phones:
            if entry.phone_id == phone_id:
                return self.root / entry.path
        raise ParameterError(f"{self.root}: no phone {phone_id!r}")

    def background(self) -> list[PhoneStore]:
        """The stores of long background streams (one stream each); empty if the fleet has none."""
        return [PhoneStore(self.root / rel) for rel in self.description.get("background", [])]


def voice_group(info: dict) -> str:
    """The kind of voice a phone's store holds, from its manifest ``info``: for synthetic phones the
    engine and, for espeak-ng, its accent (``"espeak-ng en-gb-x-gbcwmd"``, ``"flite"``); for imported
    or recorded audio the name of its source (a dataset folder's name, ``"recorded"``); ``"other"``
    when the store does not say.

    Used to report errors by voice group: a model can do well on average and fail one accent.
    """
    speaker = info.get("profile", {}).get("speaker", {})
    engine, voice = speaker.get("engine"), speaker.get("voice", "")
    if engine == "espeak-ng":
        return f"espeak-ng {voice.split('+', 1)[0]}"
    if engine:
        return str(engine)
    if info.get("source"):
        return Path(str(info["source"])).name
    return "other"


def write_fleet_description(root: Path, description: dict) -> None:
    """Write ``fleet.json`` atomically (deterministic bytes: sorted keys, no timestamps)."""
    description = {"format": FLEET_FORMAT, "version": FLEET_VERSION, **description}
    with atomic_write(root / FLEET_FILE, "w") as handle:
        json.dump(description, handle, indent=1, sort_keys=True)
        handle.write("\n")
