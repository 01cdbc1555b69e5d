"""Simulated acoustics of one phone: room reverberation, microphone colouring, noise, levels.

All functions take an explicit ``np.random.Generator`` and return float32 at 16 kHz.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from data_tools.espeak import SynthesisError
from wakeword.audio import resample
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError

__all__ = [
    "NOISE_KINDS",
    "MicProfile",
    "NoiseProfile",
    "RoomProfile",
    "active_rms",
    "apply_mic",
    "colored_noise",
    "make_rir",
    "noise_bed",
    "reverberate",
    "shift_voice",
]

NOISE_KINDS = ("white", "pink", "brown", "hum", "fan", "street", "babble", "music")
# Real music for the "music" kind: Debian's asterisk-moh-opsound-wav (5 tracks, CC BY-SA 3.0, 8 kHz),
# installed by `make setup`.
MUSIC_DIR = Path("/usr/share/asterisk/moh")
SELF_NOISE_DBFS = -80.0  # microphone self-noise floor added to every clip


@dataclass(frozen=True)
class RoomProfile:
    """A room, reduced to the statistics of its impulse response."""

    rt60: float  # reverberation time in seconds (0.1 dry car/closet .. 0.8 hall)
    drr_db: float  # direct-to-reverberant energy ratio in dB (near the phone: high)
    seed: int  # which random realisation of the tail


@dataclass(frozen=True)
class MicProfile:
    """A phone microphone's band limits (2nd-order Butterworth band-pass)."""

    highpass_hz: float  # low cut (small MEMS capsules roll off below ~100-300 Hz)
    lowpass_hz: float  # high cut (codec / capsule, 4-7.5 kHz)


@dataclass(frozen=True)
class NoiseProfile:
    """The noise environment a phone lives in."""

    kind: str  # one of NOISE_KINDS
    snr_low_db: float  # the phone's speech-to-noise ratio range in dB
    snr_high_db: float


def make_rir(room: RoomProfile, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Synthetic room impulse response: a direct path, sparse early reflections, an exponential
    noise tail with the room's RT60 (Polack's statistical model), scaled to the room's DRR.

    Returns
    -------
    np.ndarray [shape=(n,)], float32, direct path at index 0 with amplitude 1
    """
    rng = np.random.default_rng(room.seed)
    n = max(8, int(min(1.2 * room.rt60, 1.0) * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.908 * t / room.rt60)  # -60 dB at rt60
    tail[: int(0.002 * sample_rate)] = 0.0  # the tail starts after the direct sound
    for _ in range(6):  # early reflections within 20 ms
        k = rng.integers(int(0.002 * sample_rate), int(0.02 * sample_rate))
        tail[k] += rng.uniform(-0.6, 0.6)
    tail *= np.sqrt(10 ** (-room.drr_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(y: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response; output keeps the reverberant tail (``n + len(rir) - 1``)."""
    return signal.fftconvolve(y, rir).astype(np.float32)


def mic_filter(mic: MicProfile, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Second-order sections of the microphone's band-pass."""
    return signal.butter(2, [mic.highpass_hz, mic.lowpass_hz], btype="bandpass", fs=sample_rate, output="sos")


def apply_mic(y: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Colour audio with a microphone filter from :func:`mic_filter`."""
    return signal.sosfilt(sos, y).astype(np.float32)


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectrum ~ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    y = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def noise_bed(
    kind: str,
    seconds: float,
    rng: np.random.Generator,
    *,
    babble_voices: list[np.ndarray] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """A loopable stretch of one kind of background noise, unit RMS.

    Parameters
    ----------
    kind : str
        One of :data:`NOISE_KINDS`.
    seconds : float
    rng : np.random.Generator
    babble_voices : list of np.ndarray, optional
        Speech clips to overlap for ``"babble"`` (required for it).

    Returns
    -------
    np.ndarray [shape=(round(seconds * sample_rate),)], float32
    """
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    if kind == "white":
        y = rng.standard_normal(n)
    elif kind == "pink":
        y = colored_noise(n, 1.0, rng)
    elif kind == "brown":
        y = colored_noise(n, 2.0, rng)
    elif kind == "hum":
        mains = rng.choice([50.0, 60.0])
        y = sum(
            rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 6.3))
            for h in range(1, 8)
        )
        y = y / np.sqrt(np.mean(y**2)) + 0.3 * colored_noise(n, 1.0, rng)
    elif kind == "fan":
        blade = rng.uniform(80.0, 240.0)
        rumble = signal.sosfilt(
            signal.butter(2, rng.uniform(600, 1500), fs=sample_rate, output="sos"), rng.standard_normal(n)
        )
        y = rumble / np.sqrt(np.mean(rumble**2)) + 0.4 * np.sin(2 * np.pi * blade * t)
    elif kind == "street":
        traffic = colored_noise(n, 2.0, rng) * (1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t))
        y = traffic + 0.3 * colored_noise(n, 1.0, rng)
    elif kind == "babble":
        if not babble_voices:
            raise ValueError("babble noise needs babble_voices")
        y = np.zeros(n)
        for voice in babble_voices:
            start = rng.integers(0, n)
            reps = np.tile(voice, -(-(n + start) // voice.size) + 1)[start : start + n]
            y += reps / max(1e-6, np.sqrt(np.mean(voice**2)))
        y += 0.1 * colored_noise(n, 1.0, rng)
    elif kind == "music":
        y = music(n, rng) + 0.05 * colored_noise(n, 1.0, rng)  # the tracks stop at 4 kHz
    else:
        raise ValueError(f"unknown noise kind {kind!r}; one of {NOISE_KINDS}")
    y = np.asarray(y, dtype=np.float64)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def music(n: int, rng: np.random.Generator, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``n`` samples of real music: a random stretch of a random track of :data:`MUSIC_DIR`.

    Raises
    ------
    ParameterError
        If the tracks are not installed.
    """
    import soundfile as sf

    tracks = sorted(MUSIC_DIR.glob("*.wav"))
    if not tracks:
        raise ParameterError(
            f"{MUSIC_DIR} holds no music: run `make setup` (Debian package asterisk-moh-opsound-wav)"
        )
    path = tracks[int(rng.integers(len(tracks)))]
    info = sf.info(path)
    frames = min(info.frames, int(np.ceil(n * info.samplerate / sample_rate)) + 1)
    start = int(rng.integers(0, info.frames - frames + 1))
    y, rate = sf.read(path, start=start, frames=frames, dtype="float32", always_2d=True)
    y = resample(y.mean(axis=1), orig_sr=rate, target_sr=sample_rate)
    y = np.resize(y, n)  # a short track loops
    return (y / max(float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))), 1e-9)).astype(np.float32)


def active_rms(y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, top_db: float = 30.0) -> float:
    """RMS over the active (non-silent) 10 ms frames: the level of speech, ignoring pauses."""
    frame = sample_rate // 100
    n = y.size // frame
    if n == 0:
        return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    power = np.mean(np.square(y[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    if power.max() <= 0:
        return 0.0
    active = power[power >= power.max() * 10 ** (-top_db / 10)]
    return float(np.sqrt(active.mean()))


def loop_segment(bed: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a noise bed from a random offset, wrapping around."""
    start = int(rng.integers(0, bed.size))
    reps = -(-(start + n) // bed.size)
    return np.tile(bed, reps)[start : start + n]


def self_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Microphone self-noise at :data:`SELF_NOISE_DBFS` (keeps clips from being digitally silent)."""
    return (10 ** (SELF_NOISE_DBFS / 20) * rng.standard_normal(n)).astype(np.float32)


def shift_voice(y: np.ndarray, *, semitones: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speech with its whole spectrum (F0 and formants together) shifted by ``semitones``, its
    tempo kept: sox's ``pitch`` effect (WSOLA, then resampling). Another vocal tract and another
    microphone's tilt, where resampling alone changes the tempo too.

    Returns
    -------
    np.ndarray [shape=y.shape], float32; ``y`` itself for a shift of 0

    Raises
    ------
    SynthesisError
        If sox is not installed or fails.
    """
    if semitones == 0 or y.size == 0:
        return y
    if shutil.which("sox") is None:
        raise SynthesisError("sox is not installed: run `make setup` (Debian package sox)")
    raw = ["-t", "f32", "-r", str(sample_rate), "-c", "1"]
    command = ["sox", "-R", "-D", *raw, "-", *raw, "-", "pitch", f"{100 * semitones:.0f}"]
    proc = subprocess.run(command, input=np.ascontiguousarray(y, np.float32).tobytes(), capture_output=True)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise SynthesisError(f"sox failed shifting a voice: {detail[0] if detail else proc.returncode}")
    out = np.frombuffer(proc.stdout, dtype=np.float32)
    return np.resize(out, y.shape).astype(np.float32)  # sox keeps the length; never a sample off
