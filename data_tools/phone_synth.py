"""One simulated phone's sound: its owner's voice (with take-to-take variation), other people
talking near it, its room, its microphone and its noise.

Used by the fleet (:mod:`data_tools.synth`) and by the server's own synthesis
(:mod:`data_tools.server_audio`). Every random choice comes from the generator it is given.
"""

from __future__ import annotations

import numpy as np

from data_tools import acoustics as ac
from data_tools.neural_tts import parse_blend
from data_tools.others import KOKORO_OTHER_TEXTS, fresh_other_text, other_text, other_voice
from data_tools.profiles import PhoneProfile
from data_tools.text import DEFAULT_SENTENCES, random_sentence
from data_tools.tts import NEURAL_ENGINES, Voice, synthesize
from wakeword.audio import resample, trim_silence
from wakeword.constants import SAMPLE_RATE

__all__ = ["RESAMPLED_ENGINES", "SENTENCE_SUFFIXES", "PhoneSynth"]

SENTENCE_SUFFIXES = ("what time is it", "play some music", "turn on the lights", "set a timer",
                     "call my mother", "what is the weather like", "")  # fmt: skip
BABBLE_VOICES = 4  # overlapping speakers in "babble" noise
# Kokoro costs about 1 s per second of speech on one core, so a neural owner says each text a few
# times and the takes are reused, each time with another tempo/pitch, level, room position and noise.
NEURAL_PHRASE_TAKES = 3  # distinct takes of the phrase by a neural owner
NEURAL_OWNER_SENTENCES = 1  # distinct short commands ("set a timer") by a neural owner
MAX_NEW_TALKERS = 50  # people drawn to replace one who has said all their sentences, before a repeat


class PhoneSynth:
    """Makes one phone's clips: its voice, in its room, through its microphone, in its noise."""

    def __init__(
        self,
        profile: PhoneProfile,
        rng: np.random.Generator,
        *,
        bed_seconds: float = 20.0,
        phrase: str = "",
        kokoro_texts: int = KOKORO_OTHER_TEXTS,
        phrase_takes: int = NEURAL_PHRASE_TAKES,
        variants: np.random.Generator | None = None,
        sentences: str = DEFAULT_SENTENCES,
        shifts: np.random.Generator | None = None,
        max_shift: float = 0.0,
    ) -> None:
        self.profile = profile
        # voices shifted down by up to ``max_shift`` semitones, spectrum and F0 together, tempo kept
        # (acoustics.shift_voice), each drawn from ``shifts`` (its own generator: the phone's other
        # draws stay as they were): the owner's once, another person's per utterance
        self.shifts = shifts if max_shift > 0 else None
        self.max_shift = max_shift
        self.owner_shift = self._draw_shift()
        self.sentences_from = sentences  # what other people's made-up sentences are (text.random_sentence)
        # a neural owner who says the phrase in pronunciation variants draws each take's from this
        # (its own generator: the phone's other draws stay as they were); None: as the dictionary says
        self.variants = variants
        self.kokoro_texts = kokoro_texts  # sentences per Kokoro style other people say (0: no Kokoro)
        self.phrase = phrase  # a neural owner's phrase gets ``phrase_takes`` distinct takes
        self.phrase_takes = phrase_takes
        self.rng = rng
        self.neural = profile.speaker.engine in NEURAL_ENGINES
        self._takes: dict[str, list[np.ndarray]] = {}  # a neural owner's takes by text
        self._heard: dict[tuple[Voice, str], int] = {}  # other people's pooled takes heard, times
        self.sentences: list[str] = []  # a neural owner's own sentences (the rest: other people)
        self.rir = ac.make_rir(profile.room)
        self.sos = ac.mic_filter(profile.mic)
        babble = None
        if profile.noise.kind == "babble":
            babble = [
                self.speak(self.other_text(voice), jitter=True, voice=voice)
                for voice in (self.other_voice() for _ in range(BABBLE_VOICES))
            ]
        self.bed = ac.noise_bed(profile.noise.kind, bed_seconds, rng, babble_voices=babble)

    def other_voice(self) -> Voice:
        """Another person near this phone (a voice of the phone's split)."""
        return other_voice(self.rng, self.profile.split, kokoro=self.kokoro_texts > 0)

    def other_text(self, voice: Voice, *, avoid: str = "") -> str:
        return other_text(
            self.rng, voice, avoid=avoid, kokoro_texts=self.kokoro_texts, source=self.sentences_from
        )

    def made_up_sentence(self, *, avoid: str = "") -> str:
        """A sentence of this phone's kind of text (see :func:`~data_tools.text.random_sentence`)."""
        return random_sentence(self.rng, avoid=avoid, source=self.sentences_from)

    def next_other(
        self, talkers: list[Voice], k: int, *, avoid: str = "", repeats: int = 0
    ) -> tuple[Voice, str]:
        """Who of the people near the phone speaks as ``talkers[k]`` next, and what they say.

        With ``repeats`` > 0 this phone hears no Kokoro or Piper take of another person more than
        that often: a person who has said every sentence of their pool that often leaves, and
        another takes their place in ``talkers`` (a real room does not replay one recording).
        0: any sentence of the pool, every time (fleets made before the limit existed).
        """
        if not repeats:
            return talkers[k], self.other_text(talkers[k], avoid=avoid)
        for _ in range(MAX_NEW_TALKERS):
            text = fresh_other_text(
                self.rng,
                talkers[k],
                self._heard,
                repeats=repeats,
                avoid=avoid,
                kokoro_texts=self.kokoro_texts,
                source=self.sentences_from,
            )
            if text is not None:
                return talkers[k], text
            talkers[k] = self.other_voice()
        return talkers[k], self.other_text(talkers[k], avoid=avoid)  # every pool heard: a take again

    def speak(self, text: str, *, jitter: bool = True, voice: Voice | None = None) -> np.ndarray:
        """Dry speech of ``text`` in this phone's voice (with take-to-take variation), or in
        another person's ``voice``."""
        sp = self.profile.speaker
        factor = float(self.rng.uniform(0.9, 1.1))  # another person: their own tempo and pitch
        shift = self.owner_shift if voice is None else self._draw_shift()
        if voice is None:
            factor = sp.speed_factor * (self.rng.uniform(0.95, 1.05) if jitter else 1.0)
            if self.neural:
                return self._shifted(_tempo(self._neural_take(text), factor), shift)
            rate = int(np.clip(sp.rate * (self.rng.uniform(0.9, 1.1) if jitter else 1.0), 80, 450))
            pitch = int(np.clip(sp.pitch + (self.rng.integers(-6, 7) if jitter else 0), 0, 99))
            voice = Voice(sp.engine, sp.voice, rate, pitch)
        audio = trim_silence(synthesize(text, voice=voice))
        audio = _tempo(audio, factor) if voice.engine in RESAMPLED_ENGINES else audio
        return self._shifted(audio, shift)

    def _draw_shift(self) -> float:
        """Semitones (<= 0) a voice is shifted by; 0 without shifts."""
        return 0.0 if self.shifts is None else -float(self.shifts.uniform(0.0, self.max_shift))

    @staticmethod
    def _shifted(audio: np.ndarray, semitones: float) -> np.ndarray:
        return ac.shift_voice(audio, semitones=round(semitones, 2)) if semitones else audio

    def _neural_take(self, text: str) -> np.ndarray:
        """One of the owner's few takes of ``text``: a new one while there are fewer than the
        limit, else a reused one."""
        takes = self._takes.setdefault(text, [])
        if len(takes) < (self.phrase_takes if text == self.phrase else 1):
            sp = self.profile.speaker
            rate = int(np.clip(sp.rate * self.rng.uniform(0.9, 1.1), 80, 300)) if takes else sp.rate
            name = sp.voice if len(takes) < NEURAL_PHRASE_TAKES else self._jittered(sp)
            variant = 0
            if self.variants is not None and text == self.phrase:
                variant = int(self.variants.integers(1, 2**31))
            voice = Voice(sp.engine, name, rate, sp.pitch)
            takes.append(trim_silence(synthesize(text, voice=voice, variant=variant)))
            return takes[-1]
        return takes[int(self.rng.integers(len(takes)))]

    def _jittered(self, sp) -> str:
        """The owner's Kokoro blend with each weight scaled by 0.8-1.25 (the same person, another
        day: a slightly different timbre and prosody); other engines' voices as they are."""
        if sp.engine != "kokoro":
            return sp.voice
        blend = parse_blend(sp.voice)
        weights = [w * float(self.rng.uniform(0.8, 1.25)) for _, w in blend]
        return ",".join(f"{name}:{w / sum(weights):.3f}" for (name, _), w in zip(blend, weights))

    def owner_sentence(self) -> str:
        """A short command the neural owner says (one of a few, reused)."""
        if not self.sentences:
            commands = [c for c in SENTENCE_SUFFIXES if c]
            picks = self.rng.choice(len(commands), size=NEURAL_OWNER_SENTENCES, replace=False)
            self.sentences = [commands[i] for i in picks]
        return self.sentences[int(self.rng.integers(len(self.sentences)))]

    def place(
        self, dry: np.ndarray, *, snr_db: float | None = None
    ) -> tuple[np.ndarray, tuple[float, float]]:
        """Room, microphone, level, margins and noise around dry speech.

        Returns the clip and the span of the dry speech in it, (start, end) in seconds (the room's
        reverberant tail follows the end).
        """
        wet = ac.apply_mic(ac.reverberate(dry, self.rir), self.sos)
        level = self.profile.level_dbfs + self.rng.uniform(-3.0, 3.0)
        wet *= 10 ** (level / 20) / max(ac.active_rms(wet), 1e-9)
        lead = int(self.rng.uniform(0.1, 0.4) * SAMPLE_RATE)
        tail = int(self.rng.uniform(0.1, 0.3) * SAMPLE_RATE)
        clip = np.zeros(lead + wet.size + tail, dtype=np.float32)
        clip[lead : lead + wet.size] = wet
        snr = (
            snr_db
            if snr_db is not None
            else self.rng.uniform(self.profile.noise.snr_low_db, self.profile.noise.snr_high_db)
        )
        noise_rms = 10 ** ((level - snr) / 20)
        clip += noise_rms * ac.loop_segment(self.bed, clip.size, self.rng) + ac.self_noise(
            clip.size, self.rng
        )
        return _limit(clip), (lead / SAMPLE_RATE, (lead + dry.size) / SAMPLE_RATE)

    def noise_clip(self) -> np.ndarray:
        seconds = self.rng.uniform(1.0, 3.0)
        snr = self.rng.uniform(self.profile.noise.snr_low_db, self.profile.noise.snr_high_db)
        level = self.profile.level_dbfs - snr + self.rng.uniform(-3.0, 6.0)
        n = round(seconds * SAMPLE_RATE)
        clip = 10 ** (level / 20) * ac.loop_segment(self.bed, n, self.rng) + ac.self_noise(n, self.rng)
        return _limit(clip.astype(np.float32))


RESAMPLED_ENGINES = ("flite", "kokoro", "piper")  # engines whose tempo/pitch come from resampling


def _tempo(audio: np.ndarray, factor: float) -> np.ndarray:
    """Speech ``factor`` times faster and higher (resampled; 1.0 unchanged)."""
    return resample(audio, orig_sr=SAMPLE_RATE, target_sr=round(SAMPLE_RATE / factor))


def _limit(clip: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(clip)))
    return clip * (0.99 / peak) if peak > 0.99 else clip
