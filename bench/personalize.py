"""On-device personalization (issue 23): the owner's FRR before and after ``wakeword personalize``,
and false accepts per hour before and after.

    python -m bench.personalize --run RUN --fleet FLEET [--report EVAL/report.json]
                                [--takes 7] [--splits 5] [--weakest 2]

1. ``RUN`` exported as the trainable file (float; threshold from ``--report`` or the run's own
   evaluation). "Before" is that file; "after" is what ``personalize`` makes of it.
2. Owners: the real Precise "hey computer" speaker (10 takes; skipped where ``../shared/speech`` is
   absent) and the ``--weakest`` held-out phones of ``FLEET`` the model serves worst (most of their
   phrase takes missed at the shipped threshold).
3. For each owner, ``--splits`` random splits: ``--takes`` takes go into a fresh phone store (the
   owner's recordings), ``personalize`` trains on them, and the owner's other takes are streamed
   through the detector at each file's own threshold: FRR before and after.
4. FA/h of the base file and of each owner's first personalized file on LibriSpeech (real, 1.09 h)
   plus the fleet's test background streams.

Goal (issue 23): the owner's FRR at least halves (or reaches <= 5%) while FA/h rises by <= 0.5.
Results: runs/bench/personalize.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import RESULTS, record

OUT = RESULTS / "personalize"


def owners(fleet, base: Path, weakest: int) -> dict[str, list[np.ndarray]]:
    """Owner name -> their positive takes (the real speaker first, then the weakest held-out phones)."""
    from data_tools import real_sets
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel

    found = {}
    paths = real_sets.precise_clips("hey computer") if fleet.phrase == "hey computer" else []
    if paths:
        found["precise (real speaker)"] = [audio for _, audio in real_sets.load_clips(paths)]
    model = TFLiteModel(base)
    missed = {}
    for phone in fleet.phone_ids("test"):
        store = fleet.store(phone)
        takes = [store.read(c) for c in store.clips(label="positive", kind="phrase")]
        scored = score_files(model, model.detector_config(), [(str(i), t) for i, t in enumerate(takes)])
        missed[phone] = (1 - scored.found_rate(), takes)
    for phone in sorted(missed, key=lambda p: -missed[p][0])[:weakest]:
        found[f"{phone} (synthetic, held out)"] = missed[phone][1]
    return found


def frr(model_path: Path, takes: list[np.ndarray]) -> float:
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel

    model = TFLiteModel(model_path)
    scored = score_files(model, model.detector_config(), [(str(i), t) for i, t in enumerate(takes)])
    return 1 - scored.found_rate()


def fa_per_hour(files: list[Path], negatives: list) -> list[float]:
    """False accepts per hour of each trainable file on ``negatives`` at its own threshold. The
    files share their frozen body (personalizing changes only the tail), so each window's
    features are computed once, through the first file's ``embed``, and every file's tail scores
    them (the detector then runs as ``wakeword detect`` does)."""
    from device_client.personalize import TrainableFile
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel
    from wakeword.tflite_format import read_metadata

    body = TrainableFile(files[0].read_bytes())
    features = []
    config = TFLiteModel(files[0]).detector_config()
    score_files(lambda window: features.append(body.embed(window)) or 0.0, config, negatives)
    features = np.concatenate(features)
    rates, shipped = [], body.weights()
    for path in files:
        body.restore(read_metadata(path).get("personalized", {}).get("weights") or shipped)
        scores = iter(1 / (1 + np.exp(-body.logits(features))))
        config = TFLiteModel(path).detector_config()
        scored = score_files(lambda _window, s=scores: float(next(s)), config, negatives)
        rates.append(scored.false_accepts() / max(scored.hours, 1e-9))
    return rates


def one_owner(base: Path, name: str, takes: list[np.ndarray], args, folder: Path) -> dict:
    """Every split of one owner: FRR on the held-out takes before and after."""
    from device_client.personalize import PersonalizeConfig, personalize
    from device_client.store import PhoneStore

    rng = np.random.default_rng(args.seed)
    n_train = min(args.takes, len(takes) - 1)
    rows = []
    for split in range(args.splits):
        order = rng.permutation(len(takes))
        store = PhoneStore.create(folder / f"store-{split}", phone_id="owner")
        for i in order[:n_train]:
            store.add(takes[i], label="positive", kind="recorded", fsync=False)
        held = [takes[i] for i in order[n_train:]]
        out = folder / f"personalized-{split}.tflite"
        report = personalize(base, store.root, out, config=PersonalizeConfig(held_out=0.0))
        rows.append({"split": split, "before": frr(base, held), "after": frr(out, held),
                     "threshold": report["threshold"], "held_out": len(held)})  # fmt: skip
    result = {
        "owner": name, "takes": n_train, "splits": rows,
        "frr_before": float(np.mean([r["before"] for r in rows])),
        "frr_after": float(np.mean([r["after"] for r in rows])),
    }  # fmt: skip
    print(f"  {name}: {n_train} takes, FRR {result['frr_before']:.1%} -> {result['frr_after']:.1%}")
    return result


def main(argv: list[str] | None = None) -> int:
    from data_tools import real_sets
    from data_tools.fleet import Fleet
    from orchestrator.export import ExportConfig, export_run

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--fleet", type=Path, required=True)
    parser.add_argument("--report", type=Path, help="the eval report whose threshold the file ships with")
    parser.add_argument("--takes", type=int, default=7, help="owner's takes to personalize on (<= 10)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--weakest", type=int, default=2, help="held-out phones the model serves worst")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output-only", action="store_true", help="the output unit alone trains (not the block before it)"
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    base = OUT / "base-trainable.tflite"
    config = ExportConfig(quantize="none", trainable=True, train_block=not args.output_only)
    export_run(args.run, base, config=config, report=args.report)
    fleet = Fleet(args.fleet)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, takes) in enumerate(owners(fleet, base, args.weakest).items()):
            results.append(one_owner(base, name, takes, args, Path(tmp) / f"owner-{k}"))
            first = Path(tmp) / f"owner-{k}" / "personalized-0.tflite"
            (OUT / f"owner-{k}.tflite").write_bytes(first.read_bytes())
    negatives = list(real_sets.load_clips(real_sets.librispeech_files()))
    negatives += [(s.root.name, s.read(c)) for s in fleet.streams("test") for c in s.clips()]
    firsts = [OUT / f"owner-{k}.tflite" for k in range(len(results))]
    base_rate, *rates = fa_per_hour([base, *firsts], negatives)
    fa = {"base": base_rate}
    for row, rate in zip(results, rates):
        fa[row["owner"]] = row["fa_per_hour_after"] = rate
    hours = sum(a.size for _, a in negatives) / 16000 / 3600
    for row in results:
        row["fa_per_hour_before"] = fa["base"]
        row["goal_met"] = bool(
            (row["frr_after"] <= row["frr_before"] / 2 or row["frr_after"] <= 0.05)
            and row["fa_per_hour_after"] <= fa["base"] + 0.5
        )
        goal = "met" if row["goal_met"] else "missed"
        after = row["fa_per_hour_after"]
        print(f"  {row['owner']}: FA/h {fa['base']:.2f} -> {after:.2f} ({hours:.2f} h); goal {goal}")
    trained = "output unit" if args.output_only else "output unit and the block before it"
    path = record("personalize", {"owners": results, "negative_hours": hours, "trained": trained})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
