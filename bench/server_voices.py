"""What the server's own voices buy on real people: its pre-trained model alone, scored on real clips.

    python -m bench.server_voices [--keyword computer] [--variants 122:1.0,366:0.33,1000:0.12]
                                  [--seeds 1,2,3] [--pool]

Each variant ``VOICES:SHARE`` is a :class:`~orchestrator.pretraining.PretrainConfig`: the server
synthesizes ``VOICES`` speakers with ``SHARE`` of a phone's clips each (the default recipe's phase 1;
``122:1.0`` is the default), and central training makes its model, once per ``--seeds`` seed (the
fleet and its embeddings are made once). ``--pool`` adds a run on every variant's speakers together.
Every model is exported as ``wakeword export`` does and the keyword's real clips of
``../shared/speech`` are streamed through it against LibriSpeech (1.09 h of real read speech): the
FRR read off the DET curve at <= 0.5 / 1 / 2 / 5 / 10 / 20 FA/h, per seed and averaged (seeds move
it by several points). No phone and no federated round: this measures the server's model alone.
Results: runs/bench/server_voices-KEYWORD-VARIANTS-SEEDS[-SETTINGS].json, one file per measurement
(:func:`results_name`). Skips cleanly where ../shared/speech is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from bench.common import RESULTS, record, wakeword

OUT = RESULTS / "server-voices"
BUDGETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)  # FA/h at which the DET curve is read


def parse_variant(text: str) -> tuple[int, float]:
    """``"366:0.33"`` -> (366, 0.33); argparse turns a bad one into a one-line error."""
    from orchestrator.pretraining import PretrainConfig
    from wakeword.errors import ParameterError

    try:
        voices, share = text.split(":")
        PretrainConfig(server_voices=int(voices), server_clip_share=float(share))  # checks the ranges
    except ParameterError as error:  # a ValueError too: first
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give VOICES:SHARE, e.g. 366:0.33") from None
    return int(voices), float(share)


def parse_variants(text: str) -> list[tuple[int, float]]:
    return [parse_variant(v) for v in text.split(",")]


def parse_setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` for a :class:`~orchestrator.pretraining.PretrainConfig` field, VALUE of its type."""
    from orchestrator.pretraining import PretrainConfig

    name, _, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(PretrainConfig)}
    if name not in fields or not value:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=VALUE, NAME one of {', '.join(fields)}")
    kind = type(getattr(PretrainConfig(), name))
    try:
        return name, kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {name} takes a {kind.__name__}") from None


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers, e.g. 1,2,3") from None


def server_fleet(keyword: str, voices: int, share: float, settings: dict | None = None) -> Path:
    """The variant's server fleet (kept, unlike the recipe's, so seeds reuse its embeddings);
    ``settings``: other :class:`~orchestrator.pretraining.PretrainConfig` fields than the defaults."""
    from data_tools.fleet import Fleet
    from data_tools.synth import synth_fleet
    from orchestrator.pretraining import PretrainConfig, fleet_key_settings, with_public_speech
    from wakeword.progress import ProgressBars

    config = PretrainConfig(server_voices=voices, server_clip_share=share, **(settings or {}))
    # every setting that shapes the fleet names its folder: a new default makes a new fleet (a
    # setting at the value it had before it existed does not)
    shaping = json.dumps([fleet_key_settings(config.fleet_config(keyword)), config.server_public_speech])
    digest = hashlib.sha256(shaping.encode()).hexdigest()[:8]
    folder = OUT / keyword.replace(" ", "-") / f"{voices}x{share:g}-{digest}" / "fleet"
    if not (folder / ".complete").exists():
        with ProgressBars() as bars:  # one bar for all the speakers (synthesis names each phone)
            progress = lambda _phone, done, total: bars.update(f"{voices} server voices", done, total)  # noqa: E731
            synth_fleet(config.fleet_config(keyword), folder, progress=progress)
        if config.server_public_speech != "none":  # the recipe's server adds real prompts too
            with_public_speech(Fleet(folder), share=share)
        (folder / ".complete").touch()
    return folder


def pooled_fleet(fleets: list[Path]) -> Path:
    """One fleet listing every given fleet's phones (linked, not copied)."""
    from data_tools.fleet import PUBLIC_SPLIT

    folder = fleets[0].parents[1] / "pooled" / "fleet"
    (folder / "phones").mkdir(parents=True, exist_ok=True)
    merged: dict = {}
    phones = []
    for k, fleet in enumerate(fleets):
        merged = json.loads((fleet / "fleet.json").read_text())
        for phone in merged["phones"]:
            if k and phone["split"] == PUBLIC_SPLIT:  # the same public prompts: listed once
                continue
            phone_id = f"v{k}-{phone['phone_id']}"
            link = folder / "phones" / phone_id
            if not link.exists():
                link.symlink_to((fleet / phone["path"]).resolve())
            phones.append({**phone, "phone_id": phone_id, "path": f"phones/{phone_id}"})
    (folder / "fleet.json").write_text(json.dumps({**merged, "phones": phones}, indent=1))
    return folder


def seed_model(fleet: Path, seed: int, epochs: int) -> Path:
    """Central training of the server's model on ``fleet`` with ``seed``, exported (the default form)."""
    folder = fleet.parent / f"seed-{seed}"
    run, model = folder / "run", folder / "model.tflite"
    if not (run / "run.json").exists():
        wakeword("train", "--central", "--fleet", fleet, "--out", run, "--seed", seed, "--epochs", epochs)
    if not model.exists():  # DET curves only: the threshold in the file is not used
        wakeword("export", run, "--out", model, "--threshold", 0.5)
    return model


def det_readings(model: Path, sets: dict) -> dict:
    from bench.real_speech import evaluate_model, frr_at

    result = evaluate_model(model, sets)
    return {str(b): frr_at(result["det_curve"], b) for b in BUDGETS}


def real_sets(keyword: str) -> dict:
    """The keyword's real clips and LibriSpeech (the other sets left empty: DET curves only)."""
    from bench.real_speech import _sets

    sets = _sets(keyword, None, np.random.default_rng(0))
    return {"positives": sets["positives"], "noisy": [], "others": [], "negatives": sets["negatives"]}


def row(name: str, fleet: Path, seeds: list[int], sets: dict, epochs: int) -> dict:
    per_seed = {seed: det_readings(seed_model(fleet, seed, epochs), sets) for seed in seeds}
    mean = {b: round(float(np.mean([r[b] for r in per_seed.values()])), 4) for b in map(str, BUDGETS)}
    line = " / ".join(f"{100 * mean[str(b)]:.1f}" for b in BUDGETS)
    budgets = "/".join(f"{b:g}" for b in BUDGETS)
    print(f"{name}: FRR at <= {budgets} FA/h, mean of {len(seeds)} seeds: {line}%")
    return {"variant": name, "fleet": str(fleet), "per_seed": per_seed, "mean": mean}


def results_name(keyword: str, variants, seeds, settings: dict) -> str:
    """The results file of one run, named by what it measured (runs at once keep theirs apart):
    ``server_voices-computer-122x1-seeds1_2_3-server_confusables=20``."""
    parts = [keyword.replace(" ", "-"), *(f"{v}x{s:g}" for v, s in variants)]
    parts += ["seeds" + "_".join(map(str, seeds)), *(f"{k}={v}" for k, v in sorted(settings.items()))]
    return "-".join(["server_voices", *parts])


def main(argv: list[str] | None = None) -> int:
    from data_tools.shared_data import shared_speech_dir

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keyword", default="computer", help="a Picovoice keyword, or 'hey computer'")
    parser.add_argument(
        "--variants", type=parse_variants, default="122:1.0,366:0.33,1000:0.12",
        help="server fleets as VOICES:SHARE, comma-separated (default: the recipe's, then 3x and 8x the "
        "speakers at about the same number of clips)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=parse_seeds, default="1,2,3", help="training seeds, comma-separated")
    parser.add_argument("--epochs", type=int, default=20, help="central epochs at most (the recipe's)")
    parser.add_argument("--pool", action="store_true", help="also train on all variants' speakers together")
    parser.add_argument(
        "--set",
        dest="settings",
        type=parse_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another server setting for every variant (a PretrainConfig field, e.g. server_confusables=20)",
    )
    args = parser.parse_args(argv)
    settings = dict(args.settings)
    if shared_speech_dir() is None:
        print("skipped: ../shared/speech is absent")
        return 0
    sets = real_sets(args.keyword)
    named = "".join(f", {k}={v}" for k, v in settings.items())
    fleets = {
        f"{v} voices x {s:g}{named}": server_fleet(args.keyword, v, s, settings) for v, s in args.variants
    }
    if args.pool and len(fleets) > 1:
        fleets["all of them pooled"] = pooled_fleet(list(fleets.values()))
    rows = [row(name, fleet, args.seeds, sets, args.epochs) for name, fleet in fleets.items()]
    name = results_name(args.keyword, args.variants, args.seeds, settings)
    path = record(name, {"keyword": args.keyword, "budgets": BUDGETS, "rows": rows})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
