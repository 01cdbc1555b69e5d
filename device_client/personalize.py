"""On-device personalization: the shipped model adapts to its owner's voice with the TFLite
interpreter alone (``wakeword personalize``).

The model file must be the trainable form (``wakeword export --trainable``,
:mod:`orchestrator.export_trainable`): its ``embed`` signature gives a window's features (the
frozen body's output), ``train`` takes one gradient step on the model's tail (the output unit and,
for speech_dnn, the dense block before it), ``logits`` scores features with the tail as it is,
``save`` and ``restore`` read and set the tail's weights, ``negatives`` returns features of other
speech the server synthesized.

1. The owner's positive takes are split: most train, some are held out (:attr:`held_out`).
2. Each take is streamed as the detector streams it; its windows the shipped model scores highest
   (those that hold the phrase) are its examples. Negatives: the shipped ones plus the store's own
   negative takes (every window).
3. Balanced batches (half owner, half negatives) for :attr:`steps` calls of ``train``.
4. The threshold: never below the shipped one, and above every negative window's new score by
   :attr:`margin` in logits (so the gain is not bought with false accepts on what the phone knows
   to be negative).
5. The new file is the same graph with the new tail's weights and threshold in its metadata (the
   device's loader restores them, :class:`wakeword.stream.TFLiteModel`); written atomically; the
   store is only read.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_client.store import PhoneStore
from wakeword.detector import smooth
from wakeword.errors import ParameterError, WakewordError
from wakeword.fileio import atomic_write
from wakeword.scoring import pad_for_streaming
from wakeword.tflite_format import (
    detector_from_metadata,
    embed_metadata,
    native_output_silenced,
    read_metadata,
    restore_tail,
    window_from_metadata,
)

__all__ = ["PersonalizeConfig", "TrainableFile", "personalize"]


@dataclass(frozen=True)
class PersonalizeConfig:
    """Options of one personalization."""

    # calls of the file's `train` signature (a batch each): 400 found more of two weak owners' takes
    # than 200 at the same false accepts (docs/BENCHMARKS.md section 8, session 31), in seconds
    steps: int = 400
    held_out: float = 0.3  # share of the owner's takes kept aside to report the change on
    min_takes: int = 3  # fewer positive takes than this: refused
    windows_per_take: int = 3  # a take's examples: its windows the shipped model scores highest
    margin: float = 0.5  # threshold's logit above the highest negative window's new logit
    seed: int = 0  # batch sampling and the held-out split

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("min_takes", 2), ("windows_per_take", 1)):
            if getattr(self, name) < low:
                raise ParameterError(f"`{name}` must be >= {low}, got {getattr(self, name)}")
        if not 0 <= self.held_out < 1:
            raise ParameterError(f"`held_out` must be in [0, 1), got {self.held_out}")


def personalize(
    model: str | os.PathLike,
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    config: PersonalizeConfig = PersonalizeConfig(),
    log: Callable[[str], None] | None = None,
) -> dict:
    """Fine-tune ``model`` (a trainable file) on the positive takes in ``store``; write ``out``.

    Returns a report: takes used, the owner's held-out takes found before and after (at each
    file's threshold), the new threshold, the training loss before and after.

    Raises
    ------
    WakewordError
        ``model`` is not a trainable file, or the store has too few positive takes.
    """
    say = log or (lambda _msg: None)
    model, out = Path(model), Path(out)
    if out.suffix != ".tflite":
        raise ParameterError(f"`out` {out}: the file name must end in .tflite")
    meta, phone, takes = _inputs(model, store, config)  # checks the file exists and is trainable
    content = model.read_bytes()
    rng = np.random.default_rng(config.seed)
    runners = TrainableFile(content)
    window = window_from_metadata(meta)
    order = rng.permutation(len(takes))
    n_held = round(config.held_out * len(takes))
    held = [runners.all_features(takes[i], window) for i in order[:n_held]]  # embedded once
    train = [takes[i] for i in order[n_held:]]
    positives = np.concatenate([runners.take_features(t, window, config.windows_per_take) for t in train])
    own_negatives = [runners.all_features(phone.read(c), window) for c in phone.clips(label="negative")]
    negatives = np.concatenate([runners.negatives(), *own_negatives])
    smoothing = detector_from_metadata(meta).smooth_windows
    before = _operating(runners, held, negatives, smoothing, meta["threshold"])
    say(f"training the tail: {len(train)} takes ({len(positives)} windows), {len(negatives)} negatives")
    losses = runners.fit(positives, negatives, config.steps, rng)
    threshold = _threshold(float(meta["threshold"]), runners.logits(negatives).max() + config.margin)
    after = _operating(runners, held, negatives, smoothing, threshold)
    meta = {
        **meta,
        "threshold": threshold,
        "threshold_source": "wakeword personalize (>= the shipped threshold, above every negative)",
        "personalized": {
            "base_version": meta["model_version"], "base_threshold": meta["threshold"],
            "takes": len(train), "held_out_takes": len(held),
            "weights": {name: value.reshape(-1).tolist() for name, value in runners.weights().items()},
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        },
    }  # fmt: skip
    with atomic_write(out, "wb") as handle:
        handle.write(embed_metadata(content, meta, strip_names=False))
    return {"out": str(out), "base_version": meta["model_version"], "takes": len(train),
            "held_out": len(held), "threshold": threshold, "loss": [losses[0], losses[-1]],
            "before": before, "after": after}  # fmt: skip


def _inputs(model: Path, store, config: PersonalizeConfig) -> tuple[dict, PhoneStore, list[np.ndarray]]:
    """The trainable file's metadata, the store and its positive takes (checked). A file that is
    already personalized starts again from its base model: its own tail and threshold
    are set aside (the file's graph still holds the base weights)."""
    meta = read_metadata(model)
    if not meta.get("trainable"):
        raise WakewordError(f"{model}: not a trainable model; export one with `wakeword export --trainable`")
    if "logits" not in meta["trainable"].get("signatures", []):
        raise WakewordError(
            f"{model}: a trainable file from an older wakeword (no `logits` signature); "
            "export it again with `wakeword export --trainable`"
        )
    if "personalized" in meta:
        base = meta.pop("personalized")
        meta = {**meta, "threshold": base.get("base_threshold", meta["threshold"])}
    phone = PhoneStore(store)
    takes = [phone.read(c) for c in phone.clips(label="positive")]
    if len(takes) < config.min_takes:
        raise WakewordError(
            f"{store}: {len(takes)} positive takes; personalizing needs >= {config.min_takes} "
            "(record more with `wakeword record --label positive`)"
        )
    return meta, phone, takes


def _threshold(shipped: float, logit: float) -> float:
    """The shipped threshold, or the probability of ``logit`` if higher (compared as logits: near 1
    probabilities crowd together; float32 tells them apart up to a logit of about 16)."""
    return float(max(shipped, 1 / (1 + np.exp(-logit))))


def _operating(
    runners: TrainableFile, held: list[np.ndarray], negatives, smoothing: int, threshold: float
) -> dict:
    """Held-out takes (their windows' features) the detector finds at ``threshold`` (their best
    smoothed score reaches it), and negative windows whose score does."""
    best = [smooth(runners.head(f), smoothing).max() for f in held]
    return {
        "threshold": threshold,
        "held_out_found": int(sum(b >= threshold for b in best)),
        "held_out_best_scores": [round(float(b), 4) for b in best],
        "negatives_firing": int((runners.head(negatives) >= threshold).sum()),
    }


class TrainableFile:
    """A trainable file's signatures on one interpreter (the variables they share live in it)."""

    def __init__(self, content: bytes) -> None:
        import tensorflow as tf

        with native_output_silenced():
            self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=1)
        self._embed = self.interpreter.get_signature_runner("embed")
        self._train = self.interpreter.get_signature_runner("train")
        self._save = self.interpreter.get_signature_runner("save")
        self._logits = self.interpreter.get_signature_runner("logits")
        self.batch = int(self._logits.get_input_details()["features"]["shape"][0])  # the file's train batch

    def embed(self, window: np.ndarray) -> np.ndarray:
        """Features ``(1, C)`` of one window ``(samples,)``: the frozen body's output."""
        return self._embed(audio=window.reshape(1, -1).astype(np.float32, copy=False))["features"]

    def all_features(self, audio: np.ndarray, window) -> np.ndarray:
        """Features of every window of ``audio`` as streamed, ``(n, C)``."""
        padded, n = pad_for_streaming(audio, window)
        s, w = window.stride_samples, window.samples
        return np.concatenate([self.embed(padded[i * s : i * s + w]) for i in range(n)])

    def take_features(self, audio: np.ndarray, window, k: int) -> np.ndarray:
        """Features of the ``k`` windows of a take the current tail scores highest."""
        feats = self.all_features(audio, window)
        return feats[np.argsort(self.head(feats))[-k:]]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """The current tail's logits for ``features`` ``(n, C)``, through the file's ``logits``
        (a fixed batch: the last one padded)."""
        batch = self.batch
        padded = np.zeros((-(-len(features) // batch) * batch, features.shape[1]), np.float32)
        padded[: len(features)] = features
        out = [self._logits(features=padded[i : i + batch])["logits"] for i in range(0, len(padded), batch)]
        return np.concatenate(out).reshape(-1)[: len(features)]

    def head(self, features: np.ndarray) -> np.ndarray:
        """The current tail's probabilities for ``features`` ``(n, C)``."""
        return 1 / (1 + np.exp(-self.logits(features)))

    def negatives(self) -> np.ndarray:
        return self.interpreter.get_signature_runner("negatives")()["features"]

    def weights(self) -> dict[str, np.ndarray]:
        """The tail's weights now, by name."""
        return self._save()

    def restore(self, weights: dict) -> None:
        """Set the tail's weights (``name -> values``)."""
        restore_tail(self.interpreter, weights)

    def fit(self, positives, negatives, steps: int, rng: np.random.Generator) -> list[float]:
        """``steps`` balanced batches through the file's ``train``; the loss of each."""
        batch = self.batch
        half = batch // 2
        labels = np.concatenate([np.ones(half), np.zeros(batch - half)]).astype(np.float32)[:, None]
        losses = []
        for _ in range(steps):
            rows = np.concatenate(
                [
                    positives[rng.integers(len(positives), size=half)],
                    negatives[rng.integers(len(negatives), size=batch - half)],
                ]
            )
            losses.append(float(self._train(features=rows.astype(np.float32), labels=labels)["loss"]))
        return losses
