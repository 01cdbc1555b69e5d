"""A phone's local data pipeline: cached log-mel features and training windows, all on the phone.

Two stages:

1. :func:`ensure_feature_cache` computes each clip's log-mel features once (the shared frontend)
   and stores them inside the phone's own store, ``PHONE/cache/logmel-<key>.tfrecord``, keyed by
   the feature config and the manifest, so it is rebuilt when either changes.
2. :func:`window_dataset` turns that file into training or validation windows with TensorFlow ops
   only (no Python callbacks), so the same pipeline runs in Keras, and inside TensorFlow
   Federated's client computation, which executes graphs in its C++ worker.

Windows per clip: a positive clip gives ``positive_repeats`` windows ending just after the phrase
(jittered: time-shift augmentation) and one window ending in the middle of the phrase (a partial
phrase is a negative); a negative clip gives one window at a random place. Clips shorter than a
window are padded at the start with silence (the log floor), as the detector's buffer starts.

Augmentation (training only, all in the mel-power domain, exact for gain and exact in expectation
for additive noise): random gain, mixing with another negative window of the same phone (background
speech or noise), SpecAugment time and frequency masks (Park et al. 2019, arXiv 1904.08779).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_client.store import MANIFEST, PhoneStore
from wakeword.features import log_mel_librosa
from wakeword.fileio import atomic_write
from wakeword.window import DEFAULT_WINDOW, WindowConfig

__all__ = ["AugmentConfig", "PipelineConfig", "cache_path", "ensure_feature_cache", "window_dataset"]

CACHE_DIR = "cache"


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (all optional; ``AugmentConfig.none()`` turns everything off)."""

    shift_frames: int = 10  # positive windows end 0..10 frames (0-200 ms) after the phrase
    gain_db: float = 6.0  # random gain in [-6, +6] dB
    mix_prob: float = 0.5  # probability of mixing in another negative window of the phone
    mix_db: tuple[float, float] = (-20.0, -5.0)  # level of the mixed-in window, relative
    time_masks: int = 2  # SpecAugment time masks per window
    time_mask_frames: int = 8  # widest time mask (frames of 20 ms)
    freq_masks: int = 2  # SpecAugment frequency masks per window
    freq_mask_bins: int = 5  # widest frequency mask (mel bands)

    @classmethod
    def none(cls) -> AugmentConfig:
        return cls(shift_frames=0, gain_db=0.0, mix_prob=0.0, time_masks=0, freq_masks=0)


@dataclass(frozen=True)
class PipelineConfig:
    """How a phone turns its clips into batches."""

    window: WindowConfig = DEFAULT_WINDOW  # model input and detector stride
    positive_repeats: int = 3  # windows per positive clip (balances the classes ~1:2)
    batch_size: int = 32  # examples per local step
    shuffle_buffer: int = 512  # windows shuffled together


# --- the feature cache ----------------------------------------------------------------------------


def cache_key(store: PhoneStore, window: WindowConfig) -> str:
    """Changes whenever the store's manifest or the frontend changes."""
    digest = hashlib.sha256()
    digest.update((store.root / MANIFEST).read_bytes())
    digest.update(json.dumps(window.features.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def cache_path(store: PhoneStore, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    return store.root / CACHE_DIR / f"logmel-{cache_key(store, window)}.tfrecord"


def ensure_feature_cache(store: PhoneStore, window: WindowConfig = DEFAULT_WINDOW) -> Path:
    """Compute and cache every clip's features inside the store (once); returns the cache file.

    Each record: ``feats`` (float32 bytes, frames x n_mels), ``frames``, ``label`` (1 positive),
    ``span`` (first and last frame of the phrase, or -1, -1), ``kind``.
    """
    import tensorflow as tf

    path = cache_path(store, window)
    if path.exists():
        return path
    path.parent.mkdir(exist_ok=True)
    for old in path.parent.glob("logmel-*.tfrecord"):
        old.unlink()  # a stale cache of an older manifest or frontend
    cfg = window.features
    records = []
    for clip in store.clips():
        if clip.kind == "stream":
            continue  # long streams are for evaluation, not windows
        audio = store.read(clip)
        if audio.size < cfg.n_fft:
            audio = np.pad(audio, (cfg.n_fft - audio.size, 0))
        feats = log_mel_librosa(audio, config=cfg, source=str(store.path(clip)))
        if clip.span is not None:
            span = [round(clip.span[0] * 1000 / cfg.hop_ms), round(clip.span[1] * 1000 / cfg.hop_ms)]
        else:
            span = [-1, -1]
        example = tf.train.Example(
            features=tf.train.Features(
                feature={
                    "feats": _bytes(feats.astype(np.float32).tobytes()),
                    "frames": _ints([feats.shape[0]]),
                    "label": _ints([1 if clip.label == "positive" else 0]),
                    "span": _ints(span),
                    "kind": _bytes(clip.kind.encode()),
                }
            )
        )
        records.append(example.SerializeToString())
    with atomic_write(path) as handle:
        handle.write(b"")  # the target exists only once fully written
    tmp = path.with_suffix(".writing")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for record in records:
            writer.write(record)
    tmp.replace(path)
    return path


def _bytes(value: bytes):
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values: list[int]):
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


# --- windows, in TensorFlow ops -------------------------------------------------------------------


def parse_clip(record, n_mels: int):
    """Decode one cached record to ``(feats [frames, n_mels], label, span [2])``."""
    import tensorflow as tf

    spec = {
        "feats": tf.io.FixedLenFeature([], tf.string),
        "frames": tf.io.FixedLenFeature([1], tf.int64),
        "label": tf.io.FixedLenFeature([1], tf.int64),
        "span": tf.io.FixedLenFeature([2], tf.int64),
    }
    parsed = tf.io.parse_single_example(record, spec)
    feats = tf.reshape(tf.io.decode_raw(parsed["feats"], tf.float32), [-1, n_mels])
    return feats, tf.cast(parsed["label"][0], tf.int32), tf.cast(parsed["span"], tf.int32)


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
        Shuffle (training) or keep order (validation).
    """
    import tensorflow as tf

    win = config.window
    width, n_mels = win.frames, win.features.n_mels
    floor = float(np.log(win.features.log_floor))
    aug = augment or AugmentConfig.none()
    seed = tf.cast(seed, tf.int64)

    def windows_of(index, record):
        feats, label, span = parse_clip(record, n_mels)
        frames = tf.shape(feats)[0]
        clip_seed = tf.stack([seed, index])
        positive_ends = (
            span[1] + 1 + _uniform_int(clip_seed, 1, config.positive_repeats, 0, aug.shift_frames + 1)
        )
        partial_end = span[0] + tf.cast(
            tf.cast(span[1] - span[0], tf.float32) * _uniform(clip_seed, 2, 1, 0.3, 0.6), tf.int32
        )
        random_end = _uniform_int(clip_seed, 3, 1, tf.minimum(width, frames), frames + 1)
        ends = tf.cond(label > 0, lambda: tf.concat([positive_ends, partial_end], 0), lambda: random_end)
        labels = tf.cond(
            label > 0,
            lambda: tf.concat([tf.ones([config.positive_repeats], tf.int32), tf.zeros([1], tf.int32)], 0),
            lambda: tf.zeros([1], tf.int32),
        )
        padded = tf.concat(
            [tf.fill([width, n_mels], floor), feats, tf.fill([aug.shift_frames + 1, n_mels], floor)], 0
        )
        # a window ending (exclusive) at clip frame `end` is padded[end : end + width]
        ends = tf.clip_by_value(ends, 0, frames + aug.shift_frames + 1)
        cut = tf.map_fn(
            lambda end: padded[end : end + width],
            ends,
            fn_output_signature=tf.TensorSpec([width, n_mels], tf.float32),
        )
        return tf.data.Dataset.from_tensor_slices((cut, labels[:, None]))

    records = tf.data.TFRecordDataset(path)
    ds = records.enumerate().flat_map(windows_of)
    if training:
        ds = ds.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    ds = ds.batch(config.batch_size)
    if training and aug != AugmentConfig.none():
        ds = ds.enumerate().map(lambda i, batch: _augment(batch, tf.stack([seed, 10_000 + i]), aug, floor))
    return ds


def _uniform(seed, salt: int, n, low, high):
    import tensorflow as tf

    return tf.random.stateless_uniform(
        [n], seed=tf.stack([seed[0], seed[1] * 16 + salt]), minval=low, maxval=high
    )


def _uniform_int(seed, salt: int, n, low, high):
    import tensorflow as tf

    low = tf.cast(low, tf.int32)
    high = tf.maximum(tf.cast(high, tf.int32), low + 1)
    return tf.random.stateless_uniform(
        [n], seed=tf.stack([seed[0], seed[1] * 16 + salt]), minval=low, maxval=high, dtype=tf.int32
    )


def _augment(batch, seed, aug: AugmentConfig, floor: float):
    """Gain, mixing with another negative window of the batch, SpecAugment masks (mel-power domain)."""
    import tensorflow as tf

    x, y = batch
    b, t, m = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    f = tf.exp(floor)
    power = tf.maximum(tf.exp(x) - f, 0.0)
    gain = tf.pow(10.0, _uniform(seed, 1, b, -aug.gain_db, aug.gain_db + 1e-6) / 10.0)
    power = power * gain[:, None, None]
    if aug.mix_prob > 0:
        partner = tf.random.experimental.stateless_shuffle(
            tf.range(b), seed=tf.stack([seed[0], seed[1] * 16 + 2])
        )
        other = tf.gather(power, partner)
        use = tf.logical_and(
            tf.equal(tf.gather(y[:, 0], partner), 0), _uniform(seed, 3, b, 0.0, 1.0) < aug.mix_prob
        )
        level = tf.pow(10.0, _uniform(seed, 4, b, aug.mix_db[0], aug.mix_db[1]) / 10.0)
        power = power + tf.where(use, level, 0.0)[:, None, None] * other
    x = tf.math.log(power + f)
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    keep = tf.ones_like(x, dtype=tf.bool)
    for k in range(aug.time_masks):
        keep &= _mask(seed, 10 + k, b, t, aug.time_mask_frames)[:, :, None]
    for k in range(aug.freq_masks):
        keep &= _mask(seed, 20 + k, b, m, aug.freq_mask_bins)[:, None, :]
    return tf.where(keep, x, mean), y


def _mask(seed, salt: int, b, size, widest: int):
    """Per example, False on a random run of 0..widest positions out of ``size``."""
    import tensorflow as tf

    width = _uniform_int(seed, salt, b, 0, widest + 1)
    start = tf.cast(_uniform(seed, salt + 50, b, 0.0, 1.0) * tf.cast(size - width, tf.float32), tf.int32)
    pos = tf.range(size)[None, :]
    return tf.logical_not(tf.logical_and(pos >= start[:, None], pos < (start + width)[:, None]))
