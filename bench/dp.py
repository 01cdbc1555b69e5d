"""Differential privacy on the default recipe: FRR at 1 and 2 FA/h against epsilon, beside no DP.

    python -m bench.dp --fleet F [--epsilons 8,4,2] [--rounds 100] [--clients-per-round 100]
                       [--train-layers tail] [--dp-clipping adaptive] [--delta 1e-5]
                       [--server-owner-voices classic]

Each run is ``wakeword train`` with its defaults (the server pre-trains on voices it synthesizes
itself, cached and shared by every run here; then federated fine-tuning) and the DP options:
``--aggregator dp --dp-target-epsilon EPS`` (the noise multiplier picked by the accountant for the
fleet's training phones, the phones per round and the rounds), the same recipe with
``--aggregator mean`` as the baseline, then ``wakeword eval`` on the held-out phones. A row per
run: epsilon, the noise used, FRR at the validation threshold and the test DET's FRR at <= 0.5,
1, 2 and 5 FA/h (issue 24's goal: epsilon <= 8 at delta 1e-5 within 2 points of no DP at 2 FA/h),
and a last row for the server's pre-trained model alone on the same phones (what fine-tuning adds).
By default the server pre-trains on the classic engines only (``--server-owner-voices classic``),
so that the phones' neural voices are something fine-tuning can teach it and DP can cost: with
a server that makes every voice the phones have, fine-tuning gained nothing on held-out voices and
DP "cost" nothing (sessions 21-22, docs/BENCHMARKS.md).
Runs resume (``--resume``) and a finished one of the same fleet is reused (another fleet's is an
error). Results: runs/bench/dp-server-VOICES.json; the plan for fleets this machine cannot hold:
``python -m bench.dp_plan``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import record, wakeword

OUT = Path("runs/bench/dp")
BUDGETS = (0.5, 1.0, 2.0, 5.0)  # FA/h at which the test DET's FRR is read


def train_and_evaluate(fleet: Path, run: Path, options: list[str]) -> dict:
    """One run of the default recipe with ``options`` (trained, or resumed, then evaluated)."""
    from orchestrator.reports import REPORT_FILE

    if (run / "run.json").exists():  # reused: it must be of this fleet
        trained_on = json.loads((run / "run.json").read_text()).get("fleet")
        if trained_on != str(fleet.resolve()):
            raise SystemExit(f"bench: {run} was trained on {trained_on}, not {fleet}: move it away first")
    else:
        resume = ["--resume"] if (run / "checkpoints" / "latest.json").exists() else []
        wakeword("train", "--fleet", fleet, "--out", run, *options, *resume)
    report = run / "eval" / REPORT_FILE
    if not report.exists():
        wakeword("eval", "--model", run, "--fleet", fleet, "--out", run / "eval")
    return json.loads(report.read_text())


def server_alone(fleet: Path, run: Path, out: Path) -> tuple[Path, dict]:
    """The server's pre-trained model that ``run`` fine-tuned, evaluated on the same held-out
    phones (what fine-tuning, with or without DP, adds to it)."""
    from orchestrator.reports import REPORT_FILE

    server = Path(json.loads((run / "run.json").read_text())["settings"]["init_from"])
    report = out / "server" / "eval" / REPORT_FILE
    if not report.exists():
        wakeword("eval", "--model", server, "--fleet", fleet, "--out", report.parent)
    return server, json.loads(report.read_text())


def row(name: str, run: Path, report: dict) -> dict:
    """What the table shows of one run."""
    description = json.loads((run / "run.json").read_text())
    dp = description.get("dp") or {}
    by_budget = report["test_oracle_by_budget"]
    out = {"run": name, "epsilon": dp.get("epsilon"), "delta": dp.get("delta")}
    out["noise_multiplier"] = dp.get("noise_multiplier")
    out["frr"], out["fa_per_hour"] = round(report["test"]["frr"], 4), round(report["test"]["fa_per_hour"], 3)
    for budget in BUDGETS:
        key = next((k for k in by_budget if float(k) == budget), None)
        out[f"frr_at_{budget:g}_fa_h"] = None if key is None else round(by_budget[key]["frr"], 4)
    return out


def _epsilons(text: str) -> list[str]:
    """``--epsilons``: positive numbers, comma-separated (as typed, for the run folders' names)."""
    values = [v.strip() for v in text.split(",")]
    try:
        if all(float(v) > 0 for v in values):
            return values
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected positive numbers like 2,4,8, got {text!r}")


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--fleet", type=Path, required=True)
    parser.add_argument(
        "--epsilons", type=_epsilons, default="8,4,2", help="target epsilons, comma-separated, run in order"
    )
    parser.add_argument("--rounds", type=int, default=100, help="federated rounds of every run")
    parser.add_argument("--clients-per-round", type=int, default=100, help="phones sampled per round")
    parser.add_argument(
        "--train-layers", default="tail", choices=("all", "tail"), help="what the phones train (DP runs too)"
    )
    parser.add_argument("--dp-clipping", default="adaptive", choices=("fixed", "adaptive"))
    parser.add_argument("--delta", type=float, default=1e-5, help="the DP runs' delta")
    parser.add_argument(
        "--server-owner-voices",
        default="classic",
        choices=("all", "classic"),
        help="the server's own speakers (classic: espeak-ng and flite, so the phones' neural voices are "
        "new to it; default %(default)s)",
    )
    args = parser.parse_args(argv)
    out = OUT / f"server-{args.server_owner_voices}"
    schedule = ["--rounds", args.rounds, "--clients-per-round", args.clients_per_round]
    schedule += ["--server-owner-voices", args.server_owner_voices]
    schedule += ["--ship", "final"]  # the fine-tuned model: what DP costs it, not the better phase
    common = [*schedule, "--train-layers", args.train_layers]
    runs = {"no DP": (out / f"mean-{args.train_layers}", [*common, "--aggregator", "mean"])}
    for eps in args.epsilons:  # in the order given: a bench stopped early has the first ones
        dp = ["--aggregator", "dp", "--dp-target-epsilon", eps, "--dp-delta", args.delta]
        runs[f"epsilon {eps}"] = (
            out / f"dp-{eps}-{args.train_layers}",
            [*common, *dp, "--dp-clipping", args.dp_clipping],
        )
    if args.train_layers != "all":  # the default recipe as it is, every weight trained
        runs["no DP, all layers"] = (out / "mean-all", [*schedule, "--aggregator", "mean"])
    rows = [
        row(name, run, train_and_evaluate(args.fleet, run, options)) for name, (run, options) in runs.items()
    ]
    server, report = server_alone(args.fleet, runs["no DP"][0], out)
    rows.append(row("server model alone", server, report))
    print(
        f"{'run':<20}{'epsilon':>9}{'noise':>8}{'FRR':>8}{'FA/h':>7}"
        + "".join(f"{f'@{b:g} FA/h':>11}" for b in BUDGETS)
    )
    for r in rows:
        eps = "inf" if r["epsilon"] is None else f"{r['epsilon']:.2f}"
        at = "".join(f"{_or_nan(r[f'frr_at_{b:g}_fa_h']):>11.1%}" for b in BUDGETS)
        noise = r["noise_multiplier"] or 0
        print(f"{r['run']:<20}{eps:>9}{noise:>8.3g}{r['frr']:>8.1%}{r['fa_per_hour']:>7.2f}{at}")
    result = {"fleet": str(args.fleet), "server_owner_voices": args.server_owner_voices, "rows": rows}
    print(f"results: {record(f'dp-server-{args.server_owner_voices}', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
