"""What the phones teach the server (issue 20): voices the server cannot synthesize.

    python -m bench.phones_teach --fleet runs/fleet-200 [--seeds 1,2,3] [--rounds 160] [--model M]

The server pre-trains on speakers it synthesizes with the classic engines only (espeak-ng and
flite: ``--server-owner-voices classic``), while half of the phones' owners speak with Kokoro and
Piper voices it cannot make. On the fleet's held-out phones (voices never trained on), per seed:

- the server's model alone;
- + federated fine-tuning on the phones (the default recipe's phase 2: raw audio stays on them);
- + central fine-tuning on the phones' pooled audio over about as many examples (what a company
  collecting the recordings would get: the upper bound).

Reported: oracle FRR at 1 FA/h (and 0.5 / 2 / 5), FRR per voice group (the Kokoro owners are the
ones the server never heard), and the share of the server-to-central gap the federated phase
closes (goal >= 80%). Results in runs/bench/phones-teach-MODEL.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import record
from bench.training import CENTRAL_FINE_TUNING_EPOCHS, OUT, _evaluate, _finished, _row

SERVER = {"server_owner_voices": "classic"}  # a server without neural voices
BUDGET = "1"  # the FA/h at which the gap is measured (oracle, held-out phones)


def run_seed(fleet, server: Path, seed: int, rounds: int, *, model: str) -> list[dict]:
    """Federated and central fine-tuning of ``server``'s model on ``fleet``, one seed."""
    from orchestrator.central import CentralConfig, train_central
    from orchestrator.federated import FederatedConfig, train_federated

    fed = OUT / f"teach-{model}-federated-{seed}"
    if not _finished(fed):
        resume = (fed / "checkpoints" / "latest.json").exists()
        # the fine-tuned model, not the better phase a run ships: what the phones teach is measured
        config = FederatedConfig(init_from=str(server), rounds=rounds, seed=seed, ship="final")
        train_federated(fleet, fed, config, resume=resume)
    central = OUT / f"teach-{model}-central-{seed}"
    if not _finished(central):
        config = CentralConfig(init_from=str(server), epochs=CENTRAL_FINE_TUNING_EPOCHS, seed=seed)
        train_central(fleet, central, config)
    return [
        _evaluated(f"+ federated fine-tuning (seed {seed})", fed, fleet),
        _evaluated(f"+ central fine-tuning (seed {seed})", central, fleet),
    ]


def _evaluated(name: str, run: Path, fleet) -> dict:
    """The benchmark row of ``run`` on the held-out phones, with FRR per voice group."""
    report = _evaluate(run, fleet)
    row = _row(name, run, report)
    row["frr_by_voice_group"] = {g: round(v["frr"], 4) for g, v in report.per_voice_group.items()}
    return row


def gap_closed(server: float, federated: float, central: float) -> float | None:
    """The share of the server-to-central FRR gap that federated fine-tuning closes."""
    gap = server - central
    return None if abs(gap) < 1e-9 else (server - federated) / gap


def main(argv: list[str] | None = None) -> int:
    from data_tools.fleet import Fleet
    from models.registry import DEFAULT_MODEL, MODELS
    from orchestrator.pretraining import PretrainConfig, server_model

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fleet", type=Path, default=Path("runs/fleet-200"))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=160, help="federated fine-tuning rounds")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, choices=sorted(MODELS), help="the model (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    fleet = Fleet(args.fleet)
    server = server_model(fleet.phrase, PretrainConfig(**SERVER), model=args.model, width=1.0)
    server_row = _evaluated("server alone (classic voices)", server, fleet)
    rows = [server_row]
    for seed in (int(s) for s in args.seeds.split(",")):
        fed, central = run_seed(fleet, server, seed, args.rounds, model=args.model)
        fed["gap_closed_at_1_fa_h"] = gap_closed(
            *(row["oracle_frr_by_budget"][BUDGET] for row in (server_row, fed, central))
        )
        rows += [fed, central]
    for row in rows:
        closed = row.get("gap_closed_at_1_fa_h")
        print(
            f"{row['run']:<40} oracle FRR at 0.5/1/2/5 FA/h "
            + " / ".join(f"{row['oracle_frr_by_budget'][b]:.1%}" for b in ("0.5", "1", "2", "5"))
            + (f"  gap closed {closed:.0%}" if closed is not None else "")
        )
    print(f"results: {record(f'phones-teach-{args.model}', {'rows': rows})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
