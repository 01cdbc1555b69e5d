"""A federated run's files besides the model: a checkpoint after every round (resumable), the
metrics as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from wakeword.errors import WakewordError
from wakeword.fileio import atomic_write

CHECKPOINT_DIR = "checkpoints"


def save_checkpoint(run: Path, round_num: int, state, history: list[dict]) -> None:
    import tensorflow as tf

    folder = run / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    leaves = tf.nest.flatten(state)
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(leaf) for leaf in leaves])
    with atomic_write(folder / f"round-{round_num:05d}.npz") as handle:
        handle.write(buffer.getvalue())
    with atomic_write(folder / "latest.json", "w") as handle:  # written last: the checkpoint is whole
        json.dump({"round": round_num, "history": history}, handle)
    for old in sorted(folder.glob("round-*.npz"))[:-2]:
        old.unlink()


def load_checkpoint(run: Path, template):
    """``(round, state, history)`` of the last whole checkpoint, or ``None``."""
    import tensorflow as tf

    latest = run / CHECKPOINT_DIR / "latest.json"
    if not latest.is_file():
        return None
    meta = json.loads(latest.read_text())
    with np.load(run / CHECKPOINT_DIR / f"round-{meta['round']:05d}.npz") as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    template_leaves = tf.nest.flatten(template)
    if len(leaves) != len(template_leaves):
        raise WakewordError(f"{latest}: the checkpoint does not match this model/aggregator; use a new `out`")
    leaves = [
        np.asarray(v, dtype=np.asarray(t).dtype).reshape(np.shape(t)) for v, t in zip(leaves, template_leaves)
    ]
    return meta["round"], tf.nest.pack_sequence_as(template, leaves), meta["history"]


def write_metrics(run: Path, history: list[dict]) -> None:
    columns = sorted({k for row in history for k in row}, key=lambda k: (k != "round", k))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    with atomic_write(run / "metrics.csv", "w") as handle:
        handle.write(buffer.getvalue())


def flatten_metrics(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict) or hasattr(value, "items"):
        for k, v in value.items():
            flatten_metrics(f"{prefix}/{k}" if prefix else str(k), v, out)
    else:
        arr = np.asarray(value)
        if arr.size == 1 and np.issubdtype(arr.dtype, np.number):
            out[prefix] = float(arr)
