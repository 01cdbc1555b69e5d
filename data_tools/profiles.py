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

__all__ = ["PhoneProfile", "SpeakerProfile", "sample_profiles", "voice_pool"]

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
HELD_OUT_FRACTION = 0.25  # share of voices reserved for held-out (test) phones


@dataclass(frozen=True)
class SpeakerProfile:
    """One synthetic person."""

    engine: str  # "espeak-ng" or "flite"
    voice: str  # espeak-ng "accent+variant" or a flite voice
    rate: int  # words per minute (espeak-ng); flite speed comes from speed_factor
    pitch: int  # 0-99 (espeak-ng)
    speed_factor: float  # resampling factor applied to flite output (tempo and pitch together)


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


def is_held_out_voice(voice: str) -> bool:
    """Whether a voice belongs to the held-out pool: decided by its timbre (the espeak-ng variant
    after "+", or the flite voice), so a held-out timbre never appears in training in another accent.
    """
    timbre = voice.split("+", 1)[-1]
    digest = hashlib.sha256(f"wakeword-voice:{timbre}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_FRACTION


def sample_profiles(
    n_phones: int, *, test_phones: int, rng: np.random.Generator, first_index: int = 0
) -> list[PhoneProfile]:
    """Draw ``n_phones`` phone profiles; the last ``test_phones`` are held out.

    Voices are drawn without replacement within each pool while it lasts (then with, but with a
    different rate and pitch, i.e. another person with a similar voice).
    """
    profiles = []
    pools = {split: voice_pool(split) for split in ("train", "test")}
    orders = {split: rng.permutation(len(pool)) for split, pool in pools.items()}
    for i in range(n_phones):
        split = "test" if i >= n_phones - test_phones else "train"
        k = i if split == "train" else i - (n_phones - test_phones)
        engine, voice = pools[split][orders[split][k % len(pools[split])]]
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
        snr_low = float(rng.uniform(3.0, 20.0))
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
