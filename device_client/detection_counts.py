"""What a phone reports of a model's detections on its own clips: counts per threshold, no audio.

To pick a threshold and compare models the way ``wakeword eval`` does (streaming every clip,
smoothing, one false accept per event), a server needs only sums over phones: how many phrases
each threshold finds, how many false accepts it makes in how much negative audio. Each phone
computes its own counts on the device (:func:`detection_counts`, TensorFlow ops only, so it runs
inside TFF's client computation) from a scoring cache kept in its store
(:func:`ensure_scoring_cache`: each clip's features exactly as the streaming scorer of
:mod:`wakeword.scoring` computes them). Summed over phones, the counts give the FRR and FA/h
curves that :func:`orchestrator.evaluation.evaluate_fleet` would compute from the audio.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from device_client.pipeline import CACHE_DIR, CACHE_STEM, write_cache_record
from device_client.store import HARD_KINDS, MANIFEST, PhoneStore
from wakeword.frontend import features_of
from wakeword.scoring import pad_for_streaming
from wakeword.window import DEFAULT_WINDOW, WindowConfig

__all__ = ["COUNT_NAMES", "detection_counts", "ensure_scoring_cache", "scoring_cache_path"]

SCORING_VERSION = 1  # bump when the scoring cache's layout changes
# what a phone's counts hold: phrases said, phrases found per threshold, seconds of negative audio
# (counted in FA/h: not the hard negatives, which a report gives apart), false accepts per threshold
COUNT_NAMES = ("positives", "found", "negative_seconds", "false_accepts")


def scoring_cache_path(store: PhoneStore | Path, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    """Where a phone keeps its scoring cache, from its open store or its folder (nothing opened)."""
    stem = CACHE_STEM[window.features.kind]
    return (store if isinstance(store, Path) else store.root) / CACHE_DIR / f"scoring-{stem}.tfrecord"


def _scoring_key(store: PhoneStore, window: WindowConfig) -> str:
    digest = hashlib.sha256(f"wakeword-scoring-v{SCORING_VERSION}".encode())
    digest.update((store.root / MANIFEST).read_bytes())
    digest.update(repr(window.to_dict()).encode())
    return digest.hexdigest()[:16]


def ensure_scoring_cache(store: PhoneStore, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    """Compute and keep (once per manifest and window) the features the streaming scorer sees.

    One record: ``feats`` (float32 bytes, every clip's padded features, frames x n_mels), and per
    clip ``starts``, ``windows`` (scores the clip gets), ``labels`` (1 positive), ``hard`` (1 for
    a hard negative) and ``times`` (float64 bytes, clips x 3: the phrase's start and end in
    seconds, -1 if none, and the clip's duration). Background streams are included.
    """
    path = scoring_cache_path(store, window)
    key_file = path.with_suffix(".key")
    key = _scoring_key(store, window)
    if path.is_file() and key_file.is_file() and key_file.read_text() == key:
        return path
    path.parent.mkdir(exist_ok=True)
    key_file.unlink(missing_ok=True)
    feats, columns = [], {name: [] for name in ("starts", "windows", "labels", "hard")}
    times = []
    offset = 0
    for clip in store.clips():
        padded, windows = pad_for_streaming(store.read(clip), window)
        f = features_of(padded, config=window.features, source=str(store.path(clip)))
        feats.append(f)
        for name, value in zip(columns, (offset, windows, clip.label == "positive", clip.kind in HARD_KINDS)):
            columns[name].append(int(value))
        offset += f.shape[0]
        span = clip.span if clip.span is not None else (-1.0, -1.0)
        times.append((*span, clip.duration))
    n_mels = window.features.n_mels
    all_feats = np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, n_mels), np.float32)
    raw = {"feats": all_feats.tobytes(), "times": np.asarray(times, np.float64).reshape(-1, 3).tobytes()}
    write_cache_record(path, key_file, key, raw=raw, ints=columns)
    return path


def _parse(record, n_mels: int) -> dict:
    import tensorflow as tf

    ints, raw = tf.io.VarLenFeature(tf.int64), tf.io.FixedLenFeature([], tf.string)
    spec = {"feats": raw, "times": raw, "starts": ints, "windows": ints, "labels": ints, "hard": ints}
    parsed = tf.io.parse_single_example(record, spec)
    out = {
        k: tf.cast(tf.sparse.to_dense(parsed[k]), tf.int32) for k in ("starts", "windows", "labels", "hard")
    }
    out["feats"] = tf.reshape(tf.io.decode_raw(parsed["feats"], tf.float32), [-1, n_mels])
    out["times"] = tf.reshape(tf.io.decode_raw(parsed["times"], tf.float64), [-1, 3])
    return out


def _smooth(scores, windows: int):
    """:func:`wakeword.detector.smooth` in TensorFlow (float64): the causal moving average."""
    import tensorflow as tf

    csum = tf.concat([tf.zeros([1], tf.float64), tf.cumsum(scores)], 0)
    idx = tf.range(1, tf.size(scores) + 1)
    lo = tf.maximum(0, idx - windows)
    return (tf.gather(csum, idx) - tf.gather(csum, lo)) / tf.cast(idx - lo, tf.float64)


def _events(smoothed, thresholds, refractory: int):
    """Detection events per threshold (:func:`wakeword.detector.detection_events`'s rule: a score
    at or above the threshold at least ``refractory`` windows after the last event)."""
    import tensorflow as tf

    def step(state, item):
        last, count = state
        index, score = item
        fire = tf.logical_and(score >= thresholds, index - last >= refractory)
        return tf.where(fire, index, last), count + tf.cast(fire, tf.int32)

    n = tf.size(smoothed)
    start = (tf.fill(tf.shape(thresholds), -refractory), tf.zeros(tf.shape(thresholds), tf.int32))
    _, counts = tf.scan(step, (tf.range(n), smoothed), initializer=start)
    return tf.cond(n > 0, lambda: counts[-1], lambda: start[1])


def detection_counts(path, predict, *, window: WindowConfig, thresholds, smooth_windows: int,
                     refractory: int, accept_after_s: float) -> dict:  # fmt: skip
    """One phone's counts (:data:`COUNT_NAMES`) for model ``predict`` over its scoring cache.

    Parameters
    ----------
    path : str or tf.Tensor (string)
        The phone's scoring cache (:func:`ensure_scoring_cache`).
    predict : callable
        Windows ``[n, frames, n_mels]`` (float32) to scores ``[n]`` or ``[n, 1]``.
    thresholds : np.ndarray [shape=(t,)]
        Ascending decision thresholds on the smoothed score.
    smooth_windows, refractory : int
        The detector's moving average and refractory period, in windows.
    accept_after_s : float
        A detection up to this long after the phrase ends still finds it.

    Returns
    -------
    dict of tf.Tensor: ``positives`` and ``negative_seconds`` (scalars), ``found`` and
    ``false_accepts`` (``[t]``, int32).
    """
    import tensorflow as tf

    p = _parse(tf.data.TFRecordDataset(path).get_single_element(), window.features.n_mels)
    th = tf.constant(np.asarray(thresholds, np.float64))

    def clip_counts(i, found, false_accepts, negative_seconds):
        n = p["windows"][i]
        feats = p["feats"][p["starts"][i] : p["starts"][i] + (n - 1) * window.stride_frames + window.frames]
        windows = tf.signal.frame(feats, window.frames, window.stride_frames, axis=0)[:n]
        scores = _smooth(tf.cast(tf.reshape(predict(windows), [-1]), tf.float64), smooth_windows)
        ends = tf.cast(tf.range(1, n + 1), tf.float64) * window.stride_ms / 1000
        span_start, span_end, clip_seconds = tf.unstack(p["times"][i])
        first = tf.reduce_sum(tf.cast(ends < span_start, tf.int32))
        last = tf.reduce_sum(tf.cast(ends <= span_end + accept_after_s, tf.int32))
        best = tf.reduce_max(tf.concat([scores[first:last], tf.zeros([1], tf.float64)], 0))
        positive, hard = p["labels"][i] > 0, p["hard"][i] > 0
        counted = tf.logical_and(tf.logical_not(positive), tf.logical_not(hard))
        found += tf.cast(tf.logical_and(positive, best >= th), tf.int32)
        events = tf.cond(counted, lambda: _events(scores, th, refractory), lambda: tf.zeros_like(found))
        seconds = tf.where(counted, clip_seconds, tf.zeros([], tf.float64))
        return i + 1, found, false_accepts + events, negative_seconds + seconds

    zeros = tf.zeros(tf.shape(th), tf.int32)
    start = (tf.constant(0), zeros, zeros, tf.zeros([], tf.float64))
    _, found, false_accepts, seconds = tf.while_loop(
        lambda i, *_: i < tf.size(p["windows"]), clip_counts, start
    )
    positives = tf.reduce_sum(p["labels"])
    return {
        "positives": positives,
        "found": found,
        "negative_seconds": seconds,
        "false_accepts": false_accepts,
    }
