"""A phone's local data pipeline: cached log-mel features and training windows, all on the phone.

Two stages:

1. :func:`ensure_feature_cache` computes each clip's log-mel features once (the shared frontend)
   and stores them inside the phone's own store, ``PHONE/cache/logmel.tfrecord`` (with the key
   of the manifest and feature config it was built for), rebuilt when either changes.
2. :func:`window_dataset` turns that file into training or validation windows with TensorFlow ops
   only (no Python callbacks), so the same pipeline runs in Keras, and inside TensorFlow
   Federated's client computation, which executes graphs in its C++ worker.

Windows per clip: a positive clip gives ``positive_repeats`` windows ending just after the phrase
(jittered: time-shift augmentation) and one window ending in the middle of the phrase (a partial
phrase is a negative); a negative clip gives ``negative_repeats`` windows ending at random places
after its first 200 ms, a hard negative (partial phrase, sound-alike) ``hard_negative_repeats``:
they are what a detector confuses with the phrase, and a tenth of the clips. Windows reaching
before a clip's start are padded with silence (the log floor), as the detector's buffer starts,
for negatives as for positives. Training windows come in a random order drawn from the seed (the
store lists clips by kind; a shuffle buffer of half a phone left local epochs class-ordered).

Augmentation (training only) is :mod:`device_client.augment`, applied to each batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_client.augment import AugmentConfig, augment_batch
from device_client.store import HARD_KINDS, MANIFEST, PhoneStore
from wakeword.errors import ParameterError
from wakeword.fileio import atomic_write
from wakeword.frontend import features_of
from wakeword.window import DEFAULT_WINDOW, WindowConfig

__all__ = [
    "AugmentConfig",
    "PipelineConfig",
    "batch_windows",
    "cache_path",
    "clip_windows",
    "ensure_feature_cache",
    "window_dataset",
]

CACHE_DIR = "cache"
CACHE_VERSION = 3  # bump when the cache record layout changes
NEGATIVE_MIN_FRAMES = 10  # a negative window holds at least 200 ms of its clip


@dataclass(frozen=True)
class PipelineConfig:
    """How a phone turns its clips into batches."""

    window: WindowConfig = DEFAULT_WINDOW  # model input and detector stride
    positive_repeats: int = 3  # windows per positive clip
    negative_repeats: int = 3  # windows per negative clip (streaming scores every 100 ms of them)
    hard_negative_repeats: int = 9  # windows per partial-phrase or sound-alike clip
    batch_size: int = 32  # examples per local step
    shuffle_buffer: int = 512  # windows shuffled together


# --- the feature cache ----------------------------------------------------------------------------


def cache_key(store: PhoneStore, window: WindowConfig) -> str:
    """Changes whenever the store's manifest or the frontend changes."""
    digest = hashlib.sha256(f"wakeword-cache-v{CACHE_VERSION}".encode())
    digest.update((store.root / MANIFEST).read_bytes())
    digest.update(json.dumps(window.features.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


CACHE_STEM = {"log_mel": "logmel", "speech_embedding": "embedding"}  # cache file per feature kind


def cache_path(store: PhoneStore | Path, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    """Where a phone keeps its feature cache (``PHONE/cache/logmel.tfrecord``, or
    ``embedding.tfrecord`` for the speech embedding), from its open store or its store folder (no
    file is opened)."""
    stem = CACHE_STEM[window.features.kind]
    return (store if isinstance(store, Path) else store.root) / CACHE_DIR / f"{stem}.tfrecord"


def _key_path(store: PhoneStore, window: WindowConfig) -> Path:
    """The file holding the cache_key the cache was built for (written last)."""
    return cache_path(store, window).with_suffix(".key")


def cache_is_current(store: PhoneStore, window: WindowConfig = DEFAULT_WINDOW) -> bool:
    key = _key_path(store, window)
    if not (cache_path(store, window).is_file() and key.is_file()):
        return False
    return key.read_text() == cache_key(store, window)


def ensure_feature_cache(store: PhoneStore, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    """Compute and cache every clip's features inside the store (once); returns the cache file.

    The file holds one record for the whole phone: ``feats`` (float32 bytes, all clips' frames
    concatenated, total_frames x n_mels), and per clip ``starts``, ``lengths`` (frames), ``labels``
    (1 positive), ``hard`` (1 for a partial phrase or sound-alike) and ``span_start``/``span_end``
    (frames of the phrase, -1 if none). Long streams are left out (they are for evaluation).
    """
    path = cache_path(store, window)
    if cache_is_current(store, window):
        return path
    path.parent.mkdir(exist_ok=True)
    _key_path(store, window).unlink(missing_ok=True)  # stale (older manifest or frontend): rebuild
    cfg = window.features
    feats, starts, lengths, labels, hard, span_start, span_end = [], [], [], [], [], [], []
    offset = 0
    for clip in store.clips():
        if clip.kind == "stream":
            continue
        audio = store.read(clip)
        if cfg.lead_samples:
            audio = np.pad(audio, (cfg.lead_samples, 0))
        if audio.size < cfg.n_fft:
            audio = np.pad(audio, (cfg.n_fft - audio.size, 0))
        f = features_of(audio, config=cfg, source=str(store.path(clip)))
        feats.append(f)
        starts.append(offset)
        lengths.append(f.shape[0])
        offset += f.shape[0]
        labels.append(1 if clip.label == "positive" else 0)
        hard.append(1 if clip.kind in HARD_KINDS else 0)
        if clip.span is not None:
            span_start.append(cfg.frame_at(clip.span[0]))
            span_end.append(cfg.frame_at(clip.span[1]))
        else:
            span_start.append(-1)
            span_end.append(-1)
    all_feats = np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, cfg.n_mels), np.float32)
    raw = {"feats": all_feats.tobytes()}
    ints = {"starts": starts, "lengths": lengths, "labels": labels, "hard": hard, "span_start": span_start,
            "span_end": span_end}  # fmt: skip
    write_cache_record(path, _key_path(store, window), cache_key(store, window), raw=raw, ints=ints)
    return path


def write_cache_record(path: Path, key_path: Path, key: str, *, raw: dict, ints: dict) -> None:
    """Write a phone's one-record cache file atomically, then the key it was built for (last: a
    cache with its key is complete). ``raw``: name -> bytes; ``ints``: name -> list of ints."""
    import tensorflow as tf

    feature = {k: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v])) for k, v in raw.items()}
    feature.update(
        {k: tf.train.Feature(int64_list=tf.train.Int64List(value=list(v))) for k, v in ints.items()}
    )
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    tmp = path.with_name(f".{path.name}.writing")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        writer.write(example.SerializeToString())
    tmp.replace(path)
    with atomic_write(key_path, "w") as handle:
        handle.write(key)


# --- windows, in TensorFlow ops -------------------------------------------------------------------


def parse_phone(record, n_mels: int) -> dict:
    """Decode a phone's cache record into tensors (see :func:`ensure_feature_cache`)."""
    import tensorflow as tf

    ints = tf.io.VarLenFeature(tf.int64)
    spec = {"feats": tf.io.FixedLenFeature([], tf.string), "starts": ints, "lengths": ints, "labels": ints,
            "hard": ints, "span_start": ints, "span_end": ints}  # fmt: skip
    parsed = tf.io.parse_single_example(record, spec)
    out = {k: tf.cast(tf.sparse.to_dense(parsed[k]), tf.int32) for k in spec if k != "feats"}
    out["feats"] = tf.reshape(tf.io.decode_raw(parsed["feats"], tf.float32), [-1, n_mels])
    return out


def clip_windows(
    path,
    *,
    config: PipelineConfig = PipelineConfig(),
    augment: AugmentConfig | None = None,
    seed=0,
    shuffle: bool = False,
):
    """Unbatched ``(window [frames, n_mels], label [1])`` examples from one phone's feature cache.

    All of a phone's windows are cut at once (one gather); positions are drawn from ``seed``
    (stateless), so the same seed gives the same windows. With ``shuffle`` (training) they come in
    a random order drawn from ``seed``, else in the store's clip order, which is sorted by kind
    (positives, partials, sound-alikes, speech, noise): a shuffle buffer smaller than a phone's
    ~1,000 windows left training batches class-ordered, the last steps of each local epoch nearly
    all speech and noise.
    """
    import tensorflow as tf

    win = config.window
    width, n_mels = win.frames, win.features.n_mels
    floor = win.features.silence_value
    # an embedding frame already spans 782 ms of its clip: any window of a negative clip will do
    min_frames = NEGATIVE_MIN_FRAMES if win.features.kind == "log_mel" else 0
    shift = (augment or AugmentConfig.none()).shift_frames
    repeats = config.positive_repeats
    seed = tf.cast(seed, tf.int64)

    def windows_of(record):
        p = parse_phone(record, n_mels)
        positive = p["labels"] > 0
        negatives = tf.where(p["hard"] > 0, config.hard_negative_repeats, config.negative_repeats)
        counts = tf.where(positive, repeats + 1, negatives)
        clip_of = tf.repeat(tf.range(tf.size(counts)), counts)  # clip of each window
        k = tf.range(tf.size(clip_of)) - tf.gather(tf.cumsum(counts, exclusive=True), clip_of)
        u = tf.random.stateless_uniform(tf.shape(clip_of), seed=tf.stack([seed, 7]))
        length = tf.gather(p["lengths"], clip_of)
        s0, s1 = tf.gather(p["span_start"], clip_of), tf.gather(p["span_end"], clip_of)
        is_pos = tf.gather(positive, clip_of)
        # a positive window ends 0..shift frames after the phrase; one more ends mid-phrase (a
        # negative: a partial phrase must not fire); a negative clip's window lies anywhere in it
        pos_end = s1 + 1 + tf.cast(u * (shift + 1), tf.int32)
        partial_end = s0 + tf.cast(tf.cast(s1 - s0, tf.float32) * (0.3 + 0.3 * u), tf.int32)
        # ...anywhere from when its first 200 ms entered the detector's (silent) buffer to its end:
        # streaming starts every clip after silence, so negatives must show that too, not only
        # the short positive clips (else "silence, then speech" becomes a cue for the phrase)
        lo = tf.minimum(min_frames, length)
        neg_end = lo + tf.cast(u * tf.cast(length - lo + 1, tf.float32), tf.int32)
        take_pos = tf.logical_and(is_pos, k < repeats)
        end = tf.where(take_pos, pos_end, tf.where(is_pos, partial_end, neg_end))
        end = tf.clip_by_value(end, 0, length + shift + 1)
        frame = end[:, None] - width + tf.range(width)[None, :]  # clip frames of each window
        inside = tf.logical_and(frame >= 0, frame < length[:, None])
        index = tf.gather(p["starts"], clip_of)[:, None] + tf.clip_by_value(frame, 0, length[:, None] - 1)
        cut = tf.where(inside[:, :, None], tf.gather(p["feats"], index), floor)  # silence outside the clip
        label = tf.cast(take_pos, tf.float32)[:, None]
        if shuffle:
            order = tf.argsort(tf.random.stateless_uniform(tf.shape(clip_of), seed=tf.stack([seed, 8])))
            cut, label = tf.gather(cut, order), tf.gather(label, order)
        return tf.data.Dataset.from_tensor_slices((cut, label))

    return tf.data.TFRecordDataset(path).flat_map(windows_of)


def spectral(augment: AugmentConfig) -> bool:
    """Whether ``augment`` changes features (beyond the time shift :func:`clip_windows` applies)."""
    return dataclasses.replace(augment, shift_frames=0) != AugmentConfig.none()


def batch_windows(
    ds,
    *,
    config: PipelineConfig = PipelineConfig(),
    augment: AugmentConfig | None = None,
    seed=0,
    training: bool = True,
):
    """Shuffle (training), batch, and augment (training, if ``augment``) unbatched windows."""
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    if training:
        ds = ds.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    ds = ds.batch(config.batch_size)
    if training and augment is not None and spectral(augment):
        if config.window.features.kind != "log_mel":
            raise ParameterError("spectral augmentation needs log-mel features (an embedding: shift only)")
        floor = config.window.features.silence_value
        ds = ds.enumerate().map(
            lambda i, batch: augment_batch(batch, tf.stack([seed, 10_000 + i]), augment, floor)
        )
    return ds


def window_dataset(
    path,
    *,
    config: PipelineConfig = PipelineConfig(),
    augment: AugmentConfig | None = None,
    seed=0,
    training: bool = True,
):
    """Batches of ``(windows [b, frames, n_mels], labels [b, 1])`` from one phone's feature cache.

    Parameters
    ----------
    path : str or tf.Tensor (string)
        The phone's cache file (:func:`ensure_feature_cache`); a tensor works inside TFF.
    config : PipelineConfig
    augment : AugmentConfig, optional
        Training augmentation; ``None`` for none.
    seed : int or tf.Tensor (int64)
        Seed of every random choice (shuffle, window positions, augmentation): the same seed gives
        the same batches.
    training : bool
        Shuffle and augment (training) or keep order (validation).
    """
    windows = clip_windows(
        path, config=config, augment=augment if training else None, seed=seed, shuffle=training
    )
    return batch_windows(windows, config=config, augment=augment, seed=seed, training=training)
