"""What differential privacy costs at a fleet size this machine cannot simulate: the accountant's plan.

    python -m bench.dp_plan [--epsilon 8] [--delta 1e-5] [--phones 1000,10000,100000]
                            [--per-round 100,500,1000] [--rounds 100,300]

For each fleet size, phones per round and number of rounds: the noise multiplier z that
DP-FedAvg needs to spend at most ``--epsilon`` at ``--delta``
(:func:`orchestrator.federated_config.dp_noise_for_epsilon`: dp-accounting's RDP accountant for
sampling without replacement, user-level), and what that noise does to one round's averaged
update: its standard deviation per weight, z / per-round (in units of the clip C), and its
expected norm over the weights trained, z sqrt(d) / per-round, for the default model's d weights
and for its tail alone (the last dense block and output unit that on-device personalization
trains). A clipped update's norm is at most C, so a noise norm well above 1 drowns one round's
signal (rounds average it out only slowly). Results: runs/bench/dp_plan.json.
"""

from __future__ import annotations

import argparse
import math

from bench.common import record


def weights_trained() -> dict[str, int]:
    """Weights of the default model, and of its trainable tail (the last dense block and output)."""
    import numpy as np

    from models import DEFAULT_MODEL
    from models.registry import build_model, window_for
    from orchestrator.trainable_tail import find_tail

    window = window_for(DEFAULT_MODEL)
    model = build_model(DEFAULT_MODEL, (window.frames, window.features.n_mels))
    tail = find_tail(model, block=True)
    return {
        f"{DEFAULT_MODEL} (all)": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "its tail": int(sum(w.size for w in tail.weights.values())),
    }


def plan(*, epsilon: float, delta: float, phones, per_round, rounds, sizes: dict[str, int]) -> list[dict]:
    from orchestrator.federated_config import dp_noise_for_epsilon

    rows = []
    for n in phones:
        for k in (k for k in per_round if k <= n):
            for r in rounds:
                z = dp_noise_for_epsilon(epsilon, n_clients=n, clients_per_round=k, rounds=r, delta=delta)
                row = {"phones": n, "per_round": k, "rounds": r, "noise_multiplier": round(z, 4)}
                row["noise_std_per_weight"] = round(z / k, 5)
                for name, d in sizes.items():
                    row[f"noise_norm {name}"] = round(z * math.sqrt(d) / k, 3)
                rows.append(row)
                print("  ".join(f"{key} {value}" for key, value in row.items()), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--phones", default="1000,10000,100000")
    parser.add_argument("--per-round", default="100,500,1000")
    parser.add_argument("--rounds", default="100,300")
    args = parser.parse_args(argv)
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    sizes = weights_trained()
    print("weights trained: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    rows = plan(
        epsilon=args.epsilon, delta=args.delta, phones=ints(args.phones), per_round=ints(args.per_round),
        rounds=ints(args.rounds), sizes=sizes,
    )  # fmt: skip
    record("dp_plan", {"epsilon": args.epsilon, "delta": args.delta, "weights": sizes, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
