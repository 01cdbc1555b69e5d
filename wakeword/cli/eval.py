"""Evaluate a model on a fleet's held-out phones, as a device would run it.

Streams the model over every clip and background stream (window and stride of the detector),
smooths scores, counts one detection per event. The threshold for --target-fa-per-hour is chosen
on the validation phones and streams; false rejects (FRR) and false accepts per hour (FA/h) are
reported on the test phones with it, hard negatives (partials, sound-alikes) separately, per voice
group (espeak-ng accent, flite, imported source) and per phone.
Writes report.json and det.png (FRR vs FA/h, log axes).

To check a shipped model on your own recordings without tuning anything on them, import them as a
fleet (`wakeword data import`) and evaluate every phone at the threshold the model recommends:
  wakeword eval --model model.tflite --fleet my-recordings --split all --threshold-from-model

Example:  wakeword eval --model runs/central --fleet runs/fleet
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "FRR at a target FA/h on held-out phones, DET curve, per-voice and per-phone report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, required=True, help="a run folder (wakeword train) or a .tflite file"
    )
    parser.add_argument("--fleet", type=Path, required=True, help="fleet folder")
    parser.add_argument(
        "--split",
        choices=("test", "validation", "all"),
        default="test",
        help="phones to report on (default test; all: every phone and stream, e.g. your own recordings)",
    )
    parser.add_argument(
        "--threshold-from-model",
        action="store_true",
        help="use the threshold the model recommends (the .tflite metadata, or the run's newest "
        "evaluation) instead of choosing one on the fleet's validation phones",
    )
    parser.add_argument(
        "--target-fa-per-hour", type=float, default=0.5, help="operating point (default 0.5 FA/h)"
    )
    parser.add_argument(
        "--threshold-rule",
        choices=("tail", "count"),
        default="tail",
        help="how the threshold is read off the validation FA/h curve: tail (default; fitted where "
        "it holds many false accepts, read at the target) or count (the lowest threshold whose "
        "counted FA/h meets the target: set by the one or two highest validation clips)",
    )
    parser.add_argument(
        "--word-strings-apart",
        action="store_true",
        help="report the synthetic phones' strings of dictionary words as hard negatives, not in "
        "FA/h (measured: a lower threshold for 'computer', a higher one for 'jarvis'; "
        "docs/BENCHMARKS.md section 1)",
    )
    parser.add_argument(
        "--out", type=Path, help="folder for report.json and det.png (default MODEL/eval-SPLIT)"
    )


def run(args: argparse.Namespace) -> int:
    from data_tools.fleet import Fleet
    from orchestrator.evaluation import EvalConfig
    from orchestrator.reports import DET_FILE, REPORT_FILE, evaluate_to
    from wakeword.errors import ParameterError
    from wakeword.progress import ProgressBars

    if args.target_fa_per_hour <= 0:
        raise ParameterError(f"--target-fa-per-hour must be positive, got {args.target_fa_per_hour}")
    fleet = Fleet(args.fleet)
    threshold = _model_threshold(args.model) if args.threshold_from_model else None
    if threshold is None and not fleet.validation_ids():
        raise ParameterError(
            f"{args.fleet}: has no validation phones to choose a threshold on; add --threshold-from-model"
        )
    out = args.out or (
        args.model.parent / f"{args.model.stem}-eval-{args.split}"
        if args.model.suffix == ".tflite"
        else args.model / f"eval-{args.split}"
    )
    with ProgressBars() as bars:
        report = evaluate_to(
            out, args.model, fleet, split=args.split, threshold=threshold, progress=bars.update,
            config=EvalConfig(
                target_fa_per_hour=args.target_fa_per_hour,
                word_strings_in_fa=not args.word_strings_apart,
                threshold_rule=args.threshold_rule,
            ),
        )  # fmt: skip
    print(format_summary(report))
    print(f"report: {out / REPORT_FILE}  DET plot: {out / DET_FILE}")
    return 0


def _how_chosen(report) -> str:
    """How the threshold was read off the validation curve."""
    chosen = report.threshold_chosen_on
    if isinstance(chosen, dict) and chosen.get("rule") == "tail":
        return "read off the validation FA/h curve's tail (fitted where it holds many false accepts)"
    return "chosen on validation (the lowest whose counted FA/h meets it)"


def _model_threshold(model: Path) -> float:
    """The threshold a .tflite file ships with, or the one a run's newest evaluation recommends."""
    if model.suffix == ".tflite":
        from wakeword.tflite_format import read_metadata

        return float(read_metadata(model)["threshold"])
    from orchestrator.export import recommended_threshold
    from wakeword.errors import ParameterError

    threshold, target, _ = recommended_threshold(model)
    if target is None:
        raise ParameterError(
            f"--threshold-from-model: {model} has no evaluation report to take a threshold from; "
            "run `wakeword eval` on its own fleet first"
        )
    return threshold


SET_BY_LINES = 3  # validation negatives the summary names


def format_summary(report) -> str:
    """The summary table printed by `wakeword eval`."""
    test, val, oracle = report.test, report.validation, report.test_oracle
    target, split = report.target_fa_per_hour, report.split
    chosen = (
        f"threshold {report.threshold:.4f} from the model (nothing tuned on this fleet)"
        if val is None
        else f"threshold {report.threshold:.4f} {_how_chosen(report)} for {target:g} FA/h "
        f"(validation: FRR {val['frr']:.1%}, {val['fa_per_hour']:.2f} FA/h)"
    )
    lines = [chosen]
    if report.threshold_set_by:  # what the threshold had to clear
        top = report.threshold_set_by[:SET_BY_LINES]
        lines += ["highest validation negatives:"] + [f"  {n['peak']:.4f}  {n['source']}" for n in top]
    lines += [
        f"{'':<28}{'FRR':>8}{'FA/h':>8}{'positives':>11}{'neg. hours':>12}",
        f"{split + ' (at that threshold)':<28}{test['frr']:>8.1%}{test['fa_per_hour']:>8.2f}"
        f"{test['positives']:>11}{test['negative_hours']:>12.2f}",
        f"{split + ' (oracle threshold)':<28}{oracle['frr']:>8.1%}{oracle['fa_per_hour']:>8.2f}",
    ]
    budgets = report.test_oracle_by_budget
    if budgets:
        cells = ", ".join(f"{row['frr']:.1%} at {b} FA/h" for b, row in budgets.items())
        lines.append(f"{split} oracle FRR by budget: {cells}")
    for kind, rate in test["hard_negative_accept_rate"].items():
        lines.append(f"hard negatives: {kind:<12} accepted {rate:.1%} of clips")
    groups = report.per_voice_group
    if groups:
        lines.append(f"{'voice group':<28}{'FRR':>8}{'FA/h':>8}{'phones':>8}")
        for group, row in groups.items():
            lines.append(f"{group:<28}{row['frr']:>8.1%}{row['fa_per_hour']:>8.2f}{row['phones']:>8}")
    lines.append(f"{'phone':<20}{'FRR':>8}{'FA/h':>8}")
    for phone, row in report.per_phone.items():
        lines.append(f"{phone:<20}{row['frr']:>8.1%}{row['fa_per_hour']:>8.2f}")
    for stream, row in report.per_stream.items():
        lines.append(
            f"{stream:<20}{'-':>8}{row['fa_per_hour']:>8.2f}  ({row['hours'] * 60:.0f} min of background)"
        )
    return "\n".join(lines)
