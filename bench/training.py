"""Training benchmarks: centralized baselines per model, federated vs centralized, DP, real speech.

    python -m bench.training central  --fleet runs/fleet-200 [--models tc_resnet,tiny_cnn,ds_cnn] [--epochs N]
    python -m bench.training federated --fleet runs/fleet-200 [--rounds 40]
    python -m bench.training pretrained --fleet runs/fleet-200
    python -m bench.training dp --fleet runs/fleet-200 [--noise 0.5,1.0]
    python -m bench.training real-speech [--devices 20]

Each trains (or reuses a finished run in runs/bench/ made by the same code: run.json's "code"
fingerprint; a run made by other code is moved to runs/bench/stale/ and trained again), evaluates
on the held-out phones with the threshold chosen on validation for 0.5 FA/h, prints a table and
writes runs/bench/<name>.json.
"pretrained" compares federated and central training from the same start (docs/BENCHMARKS.md,
"Session 9"): the server synthesizes a fleet of its own (no phone's audio) and trains on it; the
phones fine-tune that model in small-drift federated rounds (one local epoch in 4 large batches),
and central training fine-tunes it on their pooled audio over about as many examples; central
from scratch is the baseline of "federated".
Goals (issues 4 and 5): central FRR <= 5% at <= 0.5 FA/h (goal 3%); federated within 1 point of
central; a federated round <= 1.5x a central epoch over the same examples.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import record
from orchestrator.reports import REPORT_FILE, read_report
from orchestrator.run import read_description

OUT = Path("runs/bench")
DEFAULT_MODELS = "tc_resnet,tiny_cnn,ds_cnn"


def _finished(run: Path) -> bool:
    """Whether ``run`` holds a finished run made by the current training code; a finished run
    made by other code is moved to ``runs/bench/stale/`` (kept for comparison) so it is retrained."""
    import shutil

    from orchestrator.run import RUN_FILE, code_fingerprint

    if not (run / RUN_FILE).exists():
        return False
    made_by = read_description(run).code
    if made_by == code_fingerprint():
        return True
    stale = OUT / "stale" / f"{run.name}-{made_by}"
    print(f"{run}: made by other code ({made_by}, now {code_fingerprint()}): training again; "
          f"the old run moves to {stale}")  # fmt: skip
    stale.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(stale, ignore_errors=True)
    shutil.move(run, stale)
    return False


def _evaluate(run: Path, fleet) -> dict:
    from orchestrator.reports import evaluate_to

    return evaluate_to(run / "eval-test", run, fleet, reuse=True)


def _row(name: str, run: Path, report) -> dict:
    description = read_description(run)
    test, hard = report.test, report.test["hard_negative_accept_rate"]
    return {
        "run": name,
        "model": description.model,
        "parameters": description.parameters,
        "mode": description.mode,
        "train_seconds": description.train_seconds,
        "epochs_or_rounds": len(description.history),
        "frr": round(test["frr"], 4),
        "fa_per_hour": round(test["fa_per_hour"], 3),
        "negative_hours": test["negative_hours"],
        "positives": test["positives"],
        "partial_accept": round(hard.get("partial", float("nan")), 4),
        "soundalike_accept": round(hard.get("soundalike", float("nan")), 4),
        "oracle_frr": round(report.test_oracle["frr"], 4),
        "oracle_frr_by_budget": {b: round(row["frr"], 4) for b, row in report.test_oracle_by_budget.items()},
        "worst_voice_group": _worst_group(report),
        "epsilon": (description.dp or {}).get("epsilon"),
    }


def _worst_group(report) -> dict | None:
    """The voice group (e.g. an espeak-ng accent) with the highest FRR, or None for older reports."""
    groups = report.per_voice_group
    if not groups:
        return None
    name = max(groups, key=lambda g: groups[g]["frr"])
    return {"group": name, "phones": groups[name]["phones"], "frr": round(groups[name]["frr"], 4)}


def _print(rows: list[dict]) -> None:
    header = f"{'run':<26}{'params':>8}{'train s':>9}{'FRR':>8}{'FA/h':>7}"
    print(header + f"{'partial':>9}{'s-alike':>9}{'oracle FRR':>11}")
    for r in rows:
        print(
            f"{r['run']:<26}{r['parameters']:>8,}{r['train_seconds'] or 0:>9.0f}"
            f"{r['frr']:>8.1%}{r['fa_per_hour']:>7.2f}"
            f"{r['partial_accept']:>9.1%}{r['soundalike_accept']:>9.1%}{r['oracle_frr']:>11.1%}"
        )


def central(fleet_dir: Path, models: list[str], *, epochs: int | None = None) -> list[dict]:
    """Central runs of ``models`` (``epochs``: a budget other than CentralConfig's, in the run's name)."""
    from data_tools.fleet import Fleet
    from orchestrator.central import CentralConfig, train_central

    fleet = Fleet(fleet_dir)
    rows = []
    for model in models:
        run = OUT / (f"central-{model}" if epochs is None else f"central-{model}-{epochs}ep")
        if not _finished(run):
            budget = {} if epochs is None else {"epochs": epochs}
            train_central(fleet, run, CentralConfig(model=model, **budget))
        rows.append(_row(f"central {model}", run, _evaluate(run, fleet)))
    return rows


# Federated from a random start, as measured before the default became fine-tuning (the earlier
# FederatedConfig defaults: more local work per round than the small-drift fine-tuning steps).
FROM_SCRATCH = {"client_epochs": 2, "client_learning_rate": 0.05, "server_schedule": "constant"}
FROM_SCRATCH_BATCH = 32


def federated(
    fleet_dir: Path, rounds: int, *, aggregator: str = "mean", noise: float = 1.0, name: str = ""
) -> dict:
    """Federated training from a random start (FROM_SCRATCH settings)."""
    from data_tools.fleet import Fleet
    from device_client.pipeline import PipelineConfig
    from orchestrator.federated import FederatedConfig, train_federated

    fleet = Fleet(fleet_dir)
    run = OUT / (name or f"federated-{aggregator}")
    if not _finished(run):
        resume = (run / "checkpoints" / "latest.json").exists()
        config = FederatedConfig(
            rounds=rounds, aggregator=aggregator, dp_noise_multiplier=noise,
            pipeline=PipelineConfig(batch_size=FROM_SCRATCH_BATCH), **FROM_SCRATCH,
        )  # fmt: skip
        train_federated(fleet, run, config, resume=resume)
    row = _row(name or f"federated {aggregator}", run, _evaluate(run, fleet))
    history = read_description(run).history
    row["mean_round_seconds"] = round(sum(h["round_seconds"] for h in history) / len(history), 2)
    return row


# The server's own synthetic fleet: 128 phones (122 of the training voice pool, 12 of which validate
# its model; 6 held out), another seed than the phones' fleet; ~4 min on 2 cores, 3.3 GB.
SERVER_PROXY = {"devices": 128, "test_fraction": 0.05, "seed": 2}
# Federated fine-tuning with small drift: one local epoch in batches of 256 (~4 steps per phone),
# so that each update is close to the phone's gradient at the round's model (S in "Session 9").
FINE_TUNING = {
    "rounds": 160, "client_epochs": 1, "client_batch_size": 256, "client_learning_rate": 0.1,
    "server_learning_rate": 0.003, "server_schedule": "cosine",
}  # fmt: skip
# Central fine-tuning from the same start over about as many examples: 10 epochs x 144 phones =
# 1,440 phone-epochs; the federated phase trains 160 rounds x 10 phones x 1 epoch = 1,600.
CENTRAL_FINE_TUNING_EPOCHS = 10


def pretrained(fleet_dir: Path, *, jobs: int | None = None) -> list[dict]:
    """Federated vs central from the same start: the server pre-trains on its own synthetic fleet
    (no phone's audio), then the phones fine-tune that model federated (FINE_TUNING), and, for
    comparison, central training fine-tunes it on the phones' pooled audio; last, central from scratch."""
    from data_tools.fleet import Fleet
    from data_tools.synth import FleetConfig, synth_fleet
    from device_client.pipeline import PipelineConfig
    from orchestrator.central import CentralConfig, train_central
    from orchestrator.federated import FederatedConfig, train_federated

    fleet = Fleet(fleet_dir)
    proxy = synth_fleet(FleetConfig(phrase=fleet.phrase, **SERVER_PROXY), OUT / "server-proxy", jobs=jobs)
    server = OUT / "server-pretrained"
    if not _finished(server):
        train_central(proxy, server, CentralConfig())
    rows = [_row("server pre-trained only", server, _evaluate(server, fleet))]

    run = OUT / "federated-pretrained"
    if not _finished(run):
        resume = (run / "checkpoints" / "latest.json").exists()
        options = dict(FINE_TUNING)  # the client batch size lives in the data pipeline's settings
        batch = PipelineConfig(batch_size=options.pop("client_batch_size"))
        # the fine-tuned model, not the better phase a run ships: what fine-tuning gives is measured
        config = FederatedConfig(init_from=str(server), pipeline=batch, ship="final", **options)
        train_federated(fleet, run, config, resume=resume)
    rows.append(_row("+ federated fine-tuning", run, _evaluate(run, fleet)))

    run = OUT / "central-pretrained"
    if not _finished(run):
        config = CentralConfig(init_from=str(server), epochs=CENTRAL_FINE_TUNING_EPOCHS)
        train_central(fleet, run, config)
    rows.append(_row("+ central fine-tuning", run, _evaluate(run, fleet)))
    rows.extend(central(fleet_dir, ["tc_resnet"]))  # from scratch: the central baseline
    for row in rows[2:]:  # each other training against the federated one
        row["frr_minus_federated"] = round(row["frr"] - rows[1]["frr"], 4)
        row["oracle_frr_minus_federated"] = round(row["oracle_frr"] - rows[1]["oracle_frr"], 4)
    return rows


def real_speech(devices: int) -> list[dict]:
    """A model trained only on synthetic voices saying "yes", evaluated on real people saying
    "yes" (Speech Commands test subset in ../shared/speech; other words are the negatives)."""
    from data_tools.fleet import Fleet
    from data_tools.importers import import_dataset
    from data_tools.shared_data import shared_speech_dir
    from data_tools.synth import FleetConfig, synth_fleet
    from orchestrator.central import CentralConfig, train_central

    speech = shared_speech_dir()
    if speech is None:
        print("skipped: ../shared/speech is absent")
        return []
    synthetic = synth_fleet(
        FleetConfig(phrase="yes", devices=devices, background_minutes=20), OUT / "fleet-yes"
    )
    run = OUT / "central-yes"
    if not _finished(run):
        train_central(synthetic, run, CentralConfig())
    real_dir = OUT / "real-yes"
    if not (real_dir / "fleet.json").exists():
        import_dataset(
            "speech-commands", speech / "speech_commands_v0.02_testset_subset", real_dir, positive="yes"
        )
    rows = [_row("synthetic 'yes' (test)", run, _evaluate(run, synthetic))]
    # the real set has no background streams: FA/h comes from the other words' clips alone
    rows.append(_row("real 'yes' (Speech Cmds)", run, _evaluate_real(run, Fleet(real_dir), synthetic)))
    return rows


def _evaluate_real(run: Path, real, synthetic):
    """Threshold chosen on the synthetic validation phones, applied to every real speaker."""
    from orchestrator import evaluation as ev
    from orchestrator.run import load_run
    from wakeword.metrics import THRESHOLDS, det_curve, fa_per_hour, false_reject_rate, operating_point
    from wakeword.scoring import KerasScorer

    path = run / "eval-real" / "report.json"
    if path.exists():
        return read_report(path)
    classifier, _, window = load_run(run)
    scorer, config = KerasScorer(classifier, window), ev.EvalConfig()
    refractory = config.detector.refractory_windows
    val = ev.score_stores(
        scorer,
        [synthetic.store(p) for p in synthetic.validation_ids()],
        synthetic.streams("validation"),
        config,
        word_strings=ev.fleet_word_strings(synthetic, config),
    )
    threshold, _ = ev.choose_threshold(val.negatives, config)
    test = ev.score_stores(scorer, [real.store(p) for p in real.phone_ids()], [], config)
    frr, fa = (
        false_reject_rate(test.positives, THRESHOLDS),
        fa_per_hour(test.negatives, THRESHOLDS, refractory),
    )
    oracle = operating_point(fa, THRESHOLDS, 0.5)
    report = ev.EvalReport(
        split="all", target_fa_per_hour=config.target_fa_per_hour, threshold=threshold,
        threshold_chosen_on="the synthetic fleet's validation phones", validation=None,
        test=ev.summarize(test, threshold, config),
        test_oracle={"threshold": oracle, **ev.summarize(test, oracle, config)},
        per_phone={}, det_curve=det_curve(frr, fa),
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=1))
    return report


def _det_plot(runs: dict[str, Path]) -> None:
    """Federated and centralized DET curves in one plot: runs/bench/det-federated-vs-central.png."""
    from wakeword.plots import save_det_plot

    curves, points = {}, {}
    for name, run in runs.items():
        report = read_report(run / "eval-test" / REPORT_FILE)
        curves[name] = report.det_curve
        points[name] = (report.test["fa_per_hour"], report.test["frr"])
    save_det_plot(
        OUT / "det-federated-vs-central.png",
        curves,
        points=points,
        target_fa_per_hour=0.5,
        title="held-out phones, default fleet",
    )
    print(f"DET plot: {OUT / 'det-federated-vs-central.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("central", "federated", "pretrained", "dp", "real-speech"))
    parser.add_argument("--fleet", type=Path, default=Path("runs/fleet-200"))
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--epochs", type=int, default=None,
                        help="central: at most this many epochs (default: the trainer's 20)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--noise", default="0.5,1.0")
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args(argv)
    if args.what == "central":
        rows = central(args.fleet, args.models.split(","), epochs=args.epochs)
    elif args.what == "federated":
        rows = [*central(args.fleet, ["tc_resnet"]), federated(args.fleet, args.rounds)]
        central_run = read_description(OUT / "central-tc_resnet").to_dict()
        federated_run = read_description(OUT / "federated-mean").to_dict()
        epoch_s = sum(h["seconds"] for h in central_run["history"]) / len(central_run["history"])
        round_s = rows[-1]["mean_round_seconds"]
        rows[-1]["round_vs_central_epoch"] = round(round_s / epoch_s, 3)
        # per phone-epoch: a round trains each reporting phone client_epochs times, a central epoch
        # each training phone once (synthetic phones hold the same number of clips)
        settings = federated_run["settings"]
        round_phone_epochs = settings["clients_per_round"] * settings["client_epochs"]
        per_example = (round_s / round_phone_epochs) / (epoch_s / central_run["training_phones"])
        rows[-1]["round_vs_central_epoch_per_example"] = round(per_example, 3)
        _det_plot(
            {"central tc_resnet": OUT / "central-tc_resnet", "federated tc_resnet": OUT / "federated-mean"}
        )
        print(f"mean round {round_s:.1f} s ({round_phone_epochs} phone-epochs) vs central epoch "
              f"{epoch_s:.1f} s ({central_run['training_phones']} phone-epochs): {round_s / epoch_s:.2f}x "
              f"per round, {per_example:.2f}x per example (goal <= 1.5x)")  # fmt: skip
    elif args.what == "pretrained":
        rows = pretrained(args.fleet)
    elif args.what == "dp":
        rows = [
            federated(args.fleet, args.rounds, aggregator="dp", noise=float(n), name=f"federated-dp-{n}")
            for n in args.noise.split(",")
        ]
    else:
        rows = real_speech(args.devices)
    _print(rows)
    name = f"training-{args.what}"
    if args.what == "central" and (args.epochs is not None or args.models != DEFAULT_MODELS):
        # a partial run does not overwrite the full table (and two can run side by side)
        name += f"-{args.models.replace(',', '-')}" + (f"-{args.epochs}ep" if args.epochs else "")
    print(f"results: {record(name, {'rows': rows})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
