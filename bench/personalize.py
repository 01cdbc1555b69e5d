"""On-device personalization (issue 23): the owner's FRR before and after ``wakeword personalize``,
and false accepts per hour before and after.

    python -m bench.personalize --run RUN --fleet FLEET [--report EVAL/report.json]
                                [--takes 7] [--splits 5] [--weakest 2] [--steps 200]
                                [--windows-per-take 3] [--margin 0.5]

1. ``RUN`` exported as the trainable file (float; threshold from ``--report`` or the run's own
   evaluation). "Before" is that file; "after" is what ``personalize`` makes of it.
2. Owners: the real Precise speakers of the fleet's phrase ("hey computer": one, 10 takes;
   "computer": two, 10 and 47 takes; skipped where ``../shared/speech`` is absent) and the
   ``--weakest`` held-out phones of ``FLEET`` the model serves worst (most of their phrase takes
   missed at the shipped threshold).
3. For each owner, ``--splits`` random splits: ``--takes`` takes go into a fresh phone store (the
   owner's recordings), ``personalize`` trains on them, and the owner's other takes are streamed
   through the detector at each file's own threshold: FRR before and after.
4. FA/h of the base file and of each owner's first personalized file on LibriSpeech (real, 1.09 h)
   plus the fleet's test background streams, and on each apart (real people are the yardstick;
   the streams' sound-alikes may include the phrase said as written, "cumputer").

Goal (issue 23): the owner's FRR at least halves (or reaches <= 5%) while FA/h rises by <= 0.5.
Results: runs/bench/personalize.json.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import RESULTS, record

OUT = RESULTS / "personalize"


@dataclass
class Owner:
    """One phone's owner: their takes of the phrase and of other words (their own voice)."""

    name: str
    phrase: list[np.ndarray]
    other: list[np.ndarray]


def owners(fleet, base: Path, weakest: int) -> list[Owner]:
    """The real Precise speakers of the phrase (where present) and the ``weakest`` held-out
    phones of ``fleet`` (most phrase takes missed by ``base`` at its threshold); other words: the
    speaker's ``negative_speech`` clips, or the phone owner's speech, partial and sound-alike
    takes."""
    from data_tools import real_sets
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel

    found = []
    for speaker in real_sets.precise_speakers(fleet.phrase):
        paths = real_sets.precise_clips(fleet.phrase, speaker=speaker)
        other = real_sets.precise_other_speech(fleet.phrase, speaker=speaker)
        takes, other = ([a for _, a in real_sets.load_clips(x)] for x in (paths, other))
        found.append(Owner(f"precise {speaker} (real speaker)", takes, other))
    model = TFLiteModel(base)
    missed = {}
    for phone in fleet.phone_ids("test"):
        store = fleet.store(phone)
        takes = [store.read(c) for c in store.clips(label="positive", kind="phrase")]
        owner = {c.speaker for c in store.clips(label="positive", kind="phrase")}
        other = [store.read(c) for c in store.clips(label="negative") if c.speaker in owner]
        scored = score_files(model, model.detector_config(), [(str(i), t) for i, t in enumerate(takes)])
        missed[phone] = (1 - scored.found_rate(), Owner(f"{phone} (synthetic, held out)", takes, other))
    found += [missed[p][1] for p in sorted(missed, key=lambda p: -missed[p][0])[:weakest]]
    return found


def frr(model_path: Path, takes: list[np.ndarray]) -> float:
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel

    model = TFLiteModel(model_path)
    scored = score_files(model, model.detector_config(), [(str(i), t) for i, t in enumerate(takes)])
    return 1 - scored.found_rate()


def negative_features(run: Path, negatives: list, *, block: bool) -> np.ndarray:
    """The features (the tail's input) of every window the detector scores in ``negatives``, in
    its order, ``(windows, C)``: the run's Keras body over each file's features computed once
    (the trainable file's ``embed`` equals it within the export check's 1e-4, and would cost a
    whole window's embedding per stride: about an hour for these negatives)."""
    import tensorflow as tf

    from orchestrator.run import load_run
    from orchestrator.trainable_tail import find_tail
    from wakeword.scoring import KerasScorer

    classifier, _, window = load_run(run)
    tail = find_tail(classifier, block=block)
    body = KerasScorer(tf.keras.Model(classifier.input, tail.features), window)
    return np.concatenate([body(audio).reshape(-1, tail.channels) for _, audio in negatives])


def fa_per_hour(files: list[Path], negatives: list, features: np.ndarray) -> list[float]:
    """False accepts per hour of each trainable file on ``negatives`` at its own threshold: its
    tail (``logits``, with the file's personalized weights restored) scores ``features``, the
    detector runs on those scores as ``wakeword detect`` does."""
    from device_client.personalize import TrainableFile
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel
    from wakeword.tflite_format import read_metadata

    body = TrainableFile(files[0].read_bytes())
    rates, shipped = [], body.weights()
    for path in files:
        body.restore(read_metadata(path).get("personalized") or shipped)
        scores = iter(1 / (1 + np.exp(-body.logits(features))))
        config = TFLiteModel(path).detector_config()
        scored = score_files(lambda _window, s=scores: float(next(s)), config, negatives)
        if next(scores, None) is not None:
            raise RuntimeError("the detector scored fewer windows than the features hold")
        rates.append(scored.false_accepts() / max(scored.hours, 1e-9))
    return rates


def false_accepts(run: Path, fleet, files: list[Path], results: list[dict], *, block: bool) -> dict:
    """FA/h of the base file (``files[0]``) and each owner's first personalized file on LibriSpeech
    and on the fleet's test streams, apart and together, written into ``results``' rows with the
    goal's verdict; returns the hours of each."""
    from data_tools import real_sets

    real = list(real_sets.load_clips(real_sets.librispeech_files()))
    streams = [(s.root.name, s.read(c)) for s in fleet.streams("test") for c in s.clips()]
    counts, hours = np.zeros(len(files)), {}
    for name, negatives in (("librispeech", real), ("streams", streams)):  # real people apart
        features = negative_features(run, negatives, block=block)
        rates = np.array(fa_per_hour(files, negatives, features))
        hours[name] = sum(a.size for _, a in negatives) / 16000 / 3600
        counts += rates * hours[name]
        for row, rate in zip(results, rates[1:]):
            row[f"fa_per_hour_{name}"] = [round(float(rates[0]), 3), round(float(rate), 3)]
    base_rate, *rates = counts / sum(hours.values())
    for row, rate in zip(results, rates):
        row["fa_per_hour_before"], row["fa_per_hour_after"] = base_rate, rate
        row["goal_met"] = bool(
            (row["frr_after"] <= row["frr_before"] / 2 or row["frr_after"] <= 0.05)
            and row["fa_per_hour_after"] <= base_rate + 0.5
        )
        apart = "; ".join(f"{n} {a:.2f} -> {b:.2f}" for n in hours for a, b in [row[f"fa_per_hour_{n}"]])
        print(
            f"  {row['owner']}: FA/h {base_rate:.2f} -> {rate:.2f} ({sum(hours.values()):.2f} h: "
            f"{apart}); goal {'met' if row['goal_met'] else 'missed'}"
        )
    return {"negative_hours": sum(hours.values()), **{f"{n}_hours": h for n, h in hours.items()}}


def one_owner(base: Path, owner: Owner, args, folder: Path) -> dict:
    """Every split of one owner: ``--takes`` phrase takes and ``--own-negatives`` takes of other
    words go into a fresh store; FRR on the other phrase takes and the share of the other
    other-word takes that fire, before and after."""
    from device_client.personalize import PersonalizeConfig, personalize
    from device_client.store import PhoneStore

    rng = np.random.default_rng(args.seed)
    n_train = min(args.takes, len(owner.phrase) - 1)
    n_other = min(args.own_negatives, len(owner.other) // 2)
    rows = []
    for split in range(args.splits):
        order, other = rng.permutation(len(owner.phrase)), rng.permutation(len(owner.other))
        store = PhoneStore.create(folder / f"store-{split}", phone_id="owner")
        for i in order[:n_train]:
            store.add(owner.phrase[i], label="positive", kind="recorded", fsync=False)
        for i in other[:n_other]:
            store.add(owner.other[i], label="negative", kind="recorded", fsync=False)
        held = [owner.phrase[i] for i in order[n_train:]]
        held_other = [owner.other[i] for i in other[n_other:]]
        out = folder / f"personalized-{split}.tflite"
        options = {"steps": args.steps, "windows_per_take": args.windows_per_take, "margin": args.margin}
        config = PersonalizeConfig(held_out=0.0, **options)
        report = personalize(base, store.root, out, config=config)
        rows.append({"split": split, "before": frr(base, held), "after": frr(out, held),
                     "other_before": 1 - frr(base, held_other), "other_after": 1 - frr(out, held_other),
                     "threshold": report["threshold"], "held_out": len(held)})  # fmt: skip
    mean = {
        key: float(np.mean([r[key] for r in rows]))
        for key in ("before", "after", "other_before", "other_after")
    }
    result = {
        "owner": owner.name, "takes": n_train, "own_negatives": n_other, "splits": rows,
        "frr_before": mean["before"], "frr_after": mean["after"],
        "own_other_words_firing_before": mean["other_before"],
        "own_other_words_firing_after": mean["other_after"],
    }  # fmt: skip
    print(
        f"  {owner.name}: {n_train} takes (+{n_other} of other words), FRR {mean['before']:.1%} -> "
        f"{mean['after']:.1%}; own other words firing {mean['other_before']:.1%} -> {mean['other_after']:.1%}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from data_tools.fleet import Fleet
    from device_client.personalize import PersonalizeConfig
    from orchestrator.export import ExportConfig, export_run

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--fleet", type=Path, required=True)
    parser.add_argument("--report", type=Path, help="the eval report whose threshold the file ships with")
    parser.add_argument("--takes", type=int, default=7, help="owner's takes to personalize on (<= 10)")
    parser.add_argument(
        "--own-negatives", type=int, default=10, help="owner's takes of other words in the store (<= half)"
    )
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--weakest", type=int, default=2, help="held-out phones the model serves worst")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output-only", action="store_true", help="the output unit alone trains (not the block before it)"
    )
    default = PersonalizeConfig()
    parser.add_argument("--steps", type=int, default=default.steps, help="`personalize`'s training steps")
    parser.add_argument(
        "--windows-per-take",
        type=int,
        default=default.windows_per_take,
        help="a take's examples: its windows the shipped model scores highest",
    )
    parser.add_argument(
        "--margin", type=float, default=default.margin, help="threshold's logit above the highest negative's"
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    base = OUT / "base-trainable.tflite"
    config = ExportConfig(quantize="none", trainable=True, train_block=not args.output_only)
    export_run(args.run, base, config=config, report=args.report)
    fleet = Fleet(args.fleet)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, owner in enumerate(owners(fleet, base, args.weakest)):
            results.append(one_owner(base, owner, args, Path(tmp) / f"owner-{k}"))
            first = Path(tmp) / f"owner-{k}" / "personalized-0.tflite"
            (OUT / f"owner-{k}.tflite").write_bytes(first.read_bytes())
    firsts = [OUT / f"owner-{k}.tflite" for k in range(len(results))]
    hours = false_accepts(args.run, fleet, [base, *firsts], results, block=not args.output_only)
    trained = "output unit" if args.output_only else "output unit and the block before it"
    settings = {"steps": args.steps, "windows_per_take": args.windows_per_take, "margin": args.margin}
    path = record("personalize", {"owners": results, **hours, "trained": trained, **settings})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
