"""Training-time augmentation of a phone's windows, in TensorFlow ops (stateless, seeded per batch).

Optionally a mel-axis warp (vocal-tract-length perturbation), then in the mel-power domain (exact
for gain and exact in expectation for additive noise) random gain, mixing with another negative
window of the same batch (background speech or noise) and a random channel colouring (tilt and bump
per mel band), then SpecAugment time and frequency masks (Park et al. 2019, arXiv 1904.08779).
"""

from __future__ import annotations

from dataclasses import dataclass

from wakeword.options import check_range, setting

__all__ = ["AugmentConfig", "augment_batch", "channel_curve", "warp_mel"]


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
    warp: float = setting(
        0.0,
        metavar="FRACTION",
        doc="augmentation: vocal-tract-length perturbation, the mel axis scaled by 1 +- up to this "
        "(0 = off; on real 'computer' clips, one seed each: better on one fleet, worse on another)",
    )
    eq_db: float = setting(
        0.0,
        metavar="DB",
        doc="augmentation: microphone colouring, a random spectral tilt of +- up to this many dB at the "
        "band edges plus one bump or notch as deep (0 = off; measured like --warp, docs/BENCHMARKS.md)",
    )

    def __post_init__(self) -> None:
        check_range("warp", self.warp, low=0, high=0.5)
        check_range("eq_db", self.eq_db, low=0, high=40)

    @classmethod
    def none(cls) -> AugmentConfig:
        return cls(shift_frames=0, gain_db=0.0, mix_prob=0.0, time_masks=0, freq_masks=0, warp=0.0, eq_db=0.0)


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


def augment_batch(batch, seed, aug: AugmentConfig, floor: float):
    """Gain, mixing with another negative window of the batch, SpecAugment masks (mel-power domain)."""
    import tensorflow as tf

    x, y = batch
    b, t, m = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    if aug.warp > 0:
        x = warp_mel(x, _uniform(seed, 5, b, 1.0 - aug.warp, 1.0 + aug.warp))
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
    if aug.eq_db > 0:
        power = power * channel_curve(seed, b, m, aug.eq_db)[:, None, :]
    x = tf.math.log(power + f)
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    keep = tf.ones_like(x, dtype=tf.bool)
    for k in range(aug.time_masks):
        keep &= _mask(seed, 10 + k, b, t, aug.time_mask_frames)[:, :, None]
    for k in range(aug.freq_masks):
        keep &= _mask(seed, 20 + k, b, m, aug.freq_mask_bins)[:, None, :]
    return tf.where(keep, x, mean), y


def channel_curve(seed, b, m, depth_db: float):
    """Per example, a random power gain per mel band [b, m]: a tilt from -t to +t dB across the
    bands (t uniform in +-depth_db) plus a Gaussian bump or notch of +-depth_db dB (centre anywhere,
    width 5-25% of the bands): the colouring of an unknown microphone and room."""
    import tensorflow as tf

    pos = tf.linspace(-1.0, 1.0, m)[None, :]
    tilt = _uniform(seed, 6, b, -depth_db, depth_db)[:, None] * pos
    centre = _uniform(seed, 7, b, -1.0, 1.0)[:, None]
    width = _uniform(seed, 8, b, 0.1, 0.5)[:, None]
    bump = _uniform(seed, 9, b, -depth_db, depth_db)[:, None] * tf.exp(
        -0.5 * tf.square((pos - centre) / width)
    )
    return tf.pow(10.0, (tilt + bump) / 10.0)


def warp_mel(x, factor):
    """Scale each window's mel axis by ``factor`` [b] (> 1: formants move up, as for a shorter
    vocal tract), linearly interpolated, edges held (Jaitly & Hinton 2013, VTLP)."""
    import tensorflow as tf

    m = tf.shape(x)[2]
    source = tf.range(m, dtype=tf.float32)[None, :] / factor[:, None]  # [b, m]
    source = tf.clip_by_value(source, 0.0, tf.cast(m - 1, tf.float32))
    low = tf.cast(tf.floor(source), tf.int32)
    high = tf.minimum(low + 1, m - 1)
    frac = (source - tf.cast(low, tf.float32))[:, None, :]
    take = lambda index: tf.gather(x, index, axis=2, batch_dims=1)  # noqa: E731
    return take(low) * (1.0 - frac) + take(high) * frac


def _mask(seed, salt: int, b, size, widest: int):
    """Per example, False on a random run of 0..widest positions out of ``size``."""
    import tensorflow as tf

    width = _uniform_int(seed, salt, b, 0, widest + 1)
    start = tf.cast(_uniform(seed, salt + 50, b, 0.0, 1.0) * tf.cast(size - width, tf.float32), tf.int32)
    pos = tf.range(size)[None, :]
    return tf.logical_not(tf.logical_and(pos >= start[:, None], pos < (start + width)[:, None]))
