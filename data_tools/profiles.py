"""Who, where and in what noise each simulated phone lives (non-IID by construction).

Speakers are split into a training pool and a held-out pool by a stable hash of the voice name,
so held-out phones never share a speaker with training phones; rooms are drawn per phone.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from data_tools.acoustics import NOISE_KINDS, MicProfile, NoiseProfile, RoomProfile

__all__ = ["PhoneProfile", "SpeakerProfile", "kokoro_pool", "sample_profiles", "voice_pool"]

ESPEAK_ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
# espeak-ng voice variants that sound like people (robots, whispers and effects left out).
ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Andy", "Annie", "adam", "anika", "aunty", "belinda",
    "benjamin", "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa", "iven", "john",
    "linda", "max", "michel", "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
    "Alex", "Alicia", "Andrea", "Denis", "Gene", "Hugo", "Jacky", "Lee", "Michael", "Mike",
)  # fmt: skip
FLITE_SPEAKERS = ("kal", "kal16", "awb", "rms", "slt")
# Kokoro's styles (kokoro-js 1.2.1): a = American, b = British English; the others are voices of
# other languages reading English phonemes, i.e. accented English.
KOKORO_STYLES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova",
    "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam",
    "am_michael", "am_onyx", "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily",
    "bm_daniel", "bm_fable", "bm_george", "bm_lewis", "ef_dora", "em_alex", "em_santa", "ff_siwis",
    "hf_alpha", "hf_beta", "hm_omega", "hm_psi", "if_sara", "im_nicola", "jf_alpha", "jf_gongitsune",
    "jf_nezumi", "jf_tebukuro", "jm_kumo", "pf_dora", "pm_alex", "pm_santa", "zf_xiaobei",
    "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi", "zm_yunxia", "zm_yunyang",
)  # fmt: skip
HELD_OUT_FRACTION = 0.25  # share of voices reserved for held-out (test) phones
# Owners' engines: Kokoro blends sound most like people, so they are half the fleet; Piper's one
# voice ("joe") owns training phones only (a held-out phone must be an unheard voice).
KOKORO_SHARE = 0.5
PIPER_SHARE = 0.05  # of training phones
BLEND_SIZES = (1, 2, 3)  # Kokoro styles mixed into one new timbre
BLEND_SIZE_P = (0.3, 0.5, 0.2)
# A phone's speech-to-noise ratio range starts in this range (dB, active speech) and spans 5-15 dB:
# noisy kitchens at 0 dB are where a wake word is missed (the Picovoice benchmark tests at 10 dB).
SNR_LOW_DB = (0.0, 15.0)


@dataclass(frozen=True)
class SpeakerProfile:
    """One synthetic person."""

    engine: str  # "espeak-ng", "flite", "kokoro" or "piper"
    voice: str  # espeak-ng "accent+variant", a flite voice, a Kokoro blend ("a:0.6,b:0.4") or "joe"
    rate: int  # words per minute (espeak-ng; Kokoro and Piper: rate/160 of their normal speed)
    pitch: int  # 0-99 (espeak-ng)
    # resampling factor applied to flite, Kokoro and Piper output (tempo and pitch together)
    speed_factor: float


@dataclass(frozen=True)
class PhoneProfile:
    """Everything that makes one phone's data its own."""

    phone_id: str
    split: str  # "train" or "test"
    speaker: SpeakerProfile
    room: RoomProfile
    mic: MicProfile
    noise: NoiseProfile
    level_dbfs: float  # typical speech level (active RMS) in dBFS

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def voice_pool(split: str) -> list[tuple[str, str]]:
    """(engine, voice) pairs of one split's pool, in a fixed order."""
    voices = [("espeak-ng", f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    voices += [("flite", v) for v in FLITE_SPEAKERS]
    return [v for v in voices if is_held_out_voice(v[1]) == (split == "test")]


def kokoro_pool(split: str) -> list[str]:
    """Kokoro styles a phone of ``split`` may blend (held out by the same hash as the other timbres)."""
    return [v for v in KOKORO_STYLES if _hashed_out(v) == (split == "test")]


def _kokoro_blend(split: str, rng: np.random.Generator) -> str:
    """A new timbre: 1-3 of the split's Kokoro styles with random weights (two decimals)."""
    pool = kokoro_pool(split)
    size = int(rng.choice(BLEND_SIZES, p=BLEND_SIZE_P))
    names = [pool[i] for i in rng.choice(len(pool), size=size, replace=False)]
    weights = np.round(rng.dirichlet(np.full(size, 2.0)), 2)
    weights[-1] = round(1.0 - float(weights[:-1].sum()), 2)
    if size == 1 or float(weights.min()) <= 0:
        return names[int(np.argmax(weights))]
    return ",".join(f"{n}:{w:.2f}" for n, w in zip(names, weights))


def _owner_voice(
    split: str, k: int, pools: dict, orders: dict, rng: np.random.Generator, *, neural: bool
) -> tuple[str, str]:
    roll = rng.uniform()
    if neural and roll < KOKORO_SHARE:
        return "kokoro", _kokoro_blend(split, rng)
    if neural and split == "train" and roll < KOKORO_SHARE + PIPER_SHARE:
        return "piper", "joe"
    pool = pools[split]
    return pool[orders[split][k % len(pool)]]


def is_held_out_voice(voice: str) -> bool:
    """Whether a voice belongs to the held-out pool: decided by its timbre (the espeak-ng variant
    after "+", the flite voice, each Kokoro style of a blend), so a held-out timbre never appears in
    training in another accent or blend. Piper's voice is a training voice.
    """
    if voice == "joe":  # Piper's only voice owns training phones alone
        return False
    styles = [item.split(":", 1)[0] for item in voice.split(",")]
    if all(style in KOKORO_STYLES for style in styles):  # a Kokoro blend: held out iff all its styles are
        return all(_hashed_out(style) for style in styles)
    return _hashed_out(voice.split("+", 1)[-1])


def _hashed_out(timbre: str) -> bool:
    digest = hashlib.sha256(f"wakeword-voice:{timbre}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_FRACTION


def sample_profiles(
    n_phones: int, *, test_phones: int, rng: np.random.Generator, first_index: int = 0, neural: bool = True
) -> list[PhoneProfile]:
    """Draw ``n_phones`` phone profiles; the last ``test_phones`` are held out.

    About half the owners are new Kokoro timbres (blends of the split's styles), a few training
    owners are Piper's voice, and the rest are espeak-ng and flite voices drawn without replacement
    within each pool while it lasts (then with, but with a different rate and pitch, i.e. another
    person with a similar voice). ``neural=False``: espeak-ng and flite owners only.
    """
    profiles = []
    pools = {split: voice_pool(split) for split in ("train", "test")}
    orders = {split: rng.permutation(len(pool)) for split, pool in pools.items()}
    for i in range(n_phones):
        split = "test" if i >= n_phones - test_phones else "train"
        k = i if split == "train" else i - (n_phones - test_phones)
        engine, voice = _owner_voice(split, k, pools, orders, rng, neural=neural)
        speaker = SpeakerProfile(
            engine=engine,
            voice=voice,
            rate=int(rng.integers(125, 200)),
            pitch=int(rng.integers(25, 80)),
            speed_factor=round(float(rng.uniform(0.88, 1.12)), 3),
        )
        room = RoomProfile(
            rt60=round(float(rng.uniform(0.1, 0.8)), 3),
            drr_db=round(float(rng.uniform(0.0, 15.0)), 2),
            seed=int(rng.integers(2**31)),
        )
        mic = MicProfile(
            highpass_hz=round(float(rng.uniform(60.0, 300.0)), 1),
            lowpass_hz=round(float(rng.uniform(4000.0, 7600.0)), 1),
        )
        snr_low = float(rng.uniform(*SNR_LOW_DB))
        noise = NoiseProfile(
            kind=str(NOISE_KINDS[rng.integers(len(NOISE_KINDS))]),
            snr_low_db=round(snr_low, 2),
            snr_high_db=round(snr_low + float(rng.uniform(5.0, 15.0)), 2),
        )
        profiles.append(
            PhoneProfile(
                phone_id=f"phone-{first_index + i:04d}",
                split=split,
                speaker=speaker,
                room=room,
                mic=mic,
                noise=noise,
                level_dbfs=round(float(rng.uniform(-38.0, -18.0)), 2),
            )
        )
    return profiles
