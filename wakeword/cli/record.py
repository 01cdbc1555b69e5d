"""Record your own takes from the microphone into a phone's local store.

For each take: a prompt ("say: hey computer"), a countdown, a live level meter, then the take is
trimmed to its speech and checked; a silent, clipped or too-short take is rejected with the reason
and recorded again. Each accepted take is saved at once (Ctrl-C loses only the take in progress).
Audio is recorded at the device's native rate and resampled to 16 kHz. Two `wakeword record`
processes may write to one store: the store's lock keeps both takes.

Examples:
  wakeword record --list-devices
  wakeword record --store my-phone --label positive --count 10
  wakeword record --store my-phone --label negative --count 20 --seconds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HELP = "record takes from the microphone into a phone's store (prompts, level meter, checks)"
DEFAULT_PHRASE = "hey computer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, help="the phone's store folder (created if missing)")
    parser.add_argument("--label", choices=("positive", "negative"), default="positive",
                        help="positive = say the phrase, negative = anything else")  # fmt: skip
    parser.add_argument("--count", type=int, default=10, help="takes to save (default 10)")
    parser.add_argument(
        "--phrase", help=f"wake phrase to prompt (default: the store's, else {DEFAULT_PHRASE!r})"
    )
    parser.add_argument("--device", help="input device: index or part of its name (default: system default)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each take (default 2.0)")
    parser.add_argument(
        "--countdown", type=int, default=3, help="seconds of countdown before a take (default 3)"
    )
    parser.add_argument("--retries", type=int, default=5,
                        help="give up after this many rejected takes in a row (default 5)")  # fmt: skip
    parser.add_argument("--list-devices", action="store_true", help="list input devices and exit")


def run(args: argparse.Namespace) -> int:
    from device_client.microphone import Microphone, input_devices
    from wakeword.errors import ParameterError

    if args.list_devices:
        devices = input_devices()
        if not devices:
            print("no input devices (is a microphone connected and the sound server running?)")
        for device in devices:
            print(device.describe())
        return 0
    if args.store is None:
        raise ParameterError("--store is required (the phone's store folder), or use --list-devices")
    if args.count < 1:
        raise ParameterError(f"--count must be >= 1, got {args.count}")
    if not 0.5 <= args.seconds <= 30:
        raise ParameterError(f"--seconds must be between 0.5 and 30, got {args.seconds}")
    store, phrase = _open_store(args.store, args.phrase)
    with Microphone(args.device) as mic:
        _say(f"recording from input {mic.device.index} ({mic.device.name}, {mic.native_rate} Hz -> 16 kHz) "
             f"into {store.root}")  # fmt: skip
        saved = _session(args, store, phrase, mic)
    counts = {label: len(store.clips(label=label)) for label in ("positive", "negative")}
    print(f"saved {saved} {args.label} take{'s' * (saved != 1)}; {store.root} now holds "
          f"{counts['positive']} positive and {counts['negative']} negative takes")  # fmt: skip
    return 0


def _say(message: str, end: str = "\n") -> None:
    print(message, file=sys.stderr, end=end, flush=True)


def _open_store(root: Path, phrase: str | None):
    import os
    import re

    from device_client.store import MANIFEST, PhoneStore
    from wakeword.errors import StoreError

    if (root / MANIFEST).exists():
        store = PhoneStore(root)
    else:
        phone_id = re.sub(r"[^A-Za-z0-9._-]", "-", root.resolve().name).strip("-.") or "phone"
        store = PhoneStore.create(root, phone_id=phone_id, info={"source": "recorded"})
    probe = store.root / "audio" / f".write-test-{os.getpid()}"
    try:  # fail now, not after the user has spoken
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"{store.root}: not writable ({exc.strerror}); choose another --store") from None
    return store, phrase or store.info.get("phrase") or DEFAULT_PHRASE


def _session(args, store, phrase: str, mic) -> int:
    from device_client.takes import check_take, level_dbfs
    from wakeword.constants import SAMPLE_RATE
    from wakeword.errors import WakewordError

    meter = _LevelMeter(enabled=sys.stderr.isatty())
    saved, rejected = 0, 0
    while saved < args.count:
        if args.label == "positive":
            _say(f'take {saved + 1}/{args.count}: say "{phrase}"')
        else:
            _say(f'take {saved + 1}/{args.count}: say anything except "{phrase}"')
        for i in range(args.countdown, 0, -1):
            _say(f"  {i}...", end="")
            time.sleep(1)
        mic.discard()
        _say("  ● recording")
        audio = mic.record(args.seconds, on_block=lambda b: meter.show(level_dbfs(b)))
        meter.done()
        take, problem = check_take(audio)
        if problem is not None:
            rejected += 1
            _say(f"  ✗ rejected: {problem}; again")
            if rejected >= args.retries:
                raise WakewordError(f"{rejected} takes in a row rejected (last: {problem})")
            continue
        rejected = 0
        clip = store.add(
            take,
            label=args.label,
            kind="recorded",
            text=phrase if args.label == "positive" else "",
            speaker="owner",
            params={
                "device": mic.device.name,
                "native_rate": mic.native_rate,
                "level_dbfs": round(level_dbfs(take), 1),
            },
        )
        saved += 1
        _say(f"  ✓ saved {clip.file} ({take.size / SAMPLE_RATE:.2f} s, {level_dbfs(take):.0f} dBFS)")
    return saved


class _LevelMeter:
    """A one-line live level meter on a terminal (nothing when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled

    def show(self, db: float) -> None:
        if not self.enabled:
            return
        filled = round(self.WIDTH * min(1.0, max(0.0, (db + 60) / 60)))
        _say(f"\r  level [{'#' * filled}{' ' * (self.WIDTH - filled)}] {db:6.1f} dBFS", end="")

    def done(self) -> None:
        if self.enabled:
            _say("\r" + " " * (self.WIDTH + 30) + "\r", end="")
