"""The one path from a trained model to its evaluation on disk: load, score, report.json, DET plot.

``wakeword eval``, the demo and the training benchmark all evaluate through :func:`evaluate_to`,
so a report written by one reads the same as a report written by another.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from data_tools.fleet import Fleet
from orchestrator.evaluation import EvalConfig, EvalReport, evaluate_fleet
from orchestrator.run import load_run
from wakeword.errors import WakewordError
from wakeword.fileio import atomic_write
from wakeword.plots import save_det_plot
from wakeword.scoring import KerasScorer, TFLiteScorer

__all__ = ["DET_FILE", "REPORT_FILE", "evaluate_to", "load_scorer", "read_report"]

REPORT_FILE = "report.json"
DET_FILE = "det.png"


def read_report(path: str | Path) -> EvalReport:
    """A ``report.json`` written by :func:`evaluate_to`."""
    path = Path(path)
    try:
        return EvalReport.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise WakewordError(f"{path}: not a readable evaluation report ({exc})") from None


def load_scorer(model: str | Path) -> tuple[object, str]:
    """A scorer for a run folder (its Keras model) or a ``.tflite`` file, and a name for plots."""
    model = Path(model)
    if not model.exists():
        raise WakewordError(f"{model}: no such run folder or file")
    if model.is_dir():
        classifier, description, window = load_run(model)
        return KerasScorer(classifier, window), f"{description.model} ({description.mode})"
    from wakeword.tflite_format import read_metadata, window_from_metadata

    return TFLiteScorer(model, window_from_metadata(read_metadata(model))), model.name


def evaluate_to(
    out: str | Path,
    model: str | Path,
    fleet: Fleet,
    *,
    split: str = "test",
    config: EvalConfig | None = None,
    threshold: float | None = None,
    title: str | None = None,
    reuse: bool = False,
    progress: Callable | None = None,
) -> EvalReport:
    """Evaluate ``model`` (run folder or .tflite) on ``fleet``; write ``out``/report.json and det.png.

    Parameters
    ----------
    out : str or Path
        Folder for the report and the plot (created).
    model : str or Path
    fleet : Fleet
    split : str
        The phones reported: "test" (held out) or "validation".
    config : EvalConfig, optional
    threshold : float, optional
        Use this threshold instead of choosing one on the validation phones.
    title : str, optional
        The DET plot's title (default: the model and fleet).
    reuse : bool
        Return the report already in ``out`` if there is one (resumable jobs).
    progress : callable, optional
        ``progress(what, done, total)``.

    Returns
    -------
    EvalReport
        :func:`orchestrator.evaluation.evaluate_fleet`'s report, with model, fleet and eval_seconds.
    """
    out = Path(out)
    if reuse and (out / REPORT_FILE).exists():
        return read_report(out / REPORT_FILE)
    config = config or EvalConfig()
    scorer, name = load_scorer(model)
    started = time.perf_counter()
    report = evaluate_fleet(scorer, fleet, split=split, config=config, threshold=threshold, progress=progress)
    report = dataclasses.replace(
        report, model=str(model), fleet=str(fleet.root), eval_seconds=round(time.perf_counter() - started, 1)
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / REPORT_FILE, "w") as handle:
        json.dump(report.to_dict(), handle, indent=1)
    test = report.test
    save_det_plot(
        out / DET_FILE,
        {name: report.det_curve},
        points={"operating point": (test["fa_per_hour"], test["frr"])},
        target_fa_per_hour=config.target_fa_per_hour,
        title=title
        or (
            f"{name} on {fleet.root} ({split}: {test['positives']} positives, "
            f"{test['negative_hours']:.2f} h negatives)"
        ),
    )
    return report
