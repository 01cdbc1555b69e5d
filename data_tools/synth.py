"""``wakeword data synth``: a simulated, non-IID phone fleet from offline speech synthesis.

Each phone gets its own speaker, room, microphone and noise (:mod:`data_tools.profiles`); its clips
are positives (the phrase alone and inside sentences), hard negatives (partials, sound-alikes),
other speech and background noise. Held-out test phones use speakers never heard in training, and
long background streams give false accepts per hour.

Deterministic for a seed (each phone's generator is derived from (seed, phone index), so the
bytes do not depend on the number of jobs), parallel across processes, resumable: a phone is
written into a hidden folder and renamed into place when complete, and a re-run skips finished
phones.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_tools import acoustics as ac
from data_tools import voice_assets
from data_tools.fleet import FLEET_FILE, Fleet, write_fleet_description
from data_tools.others import KOKORO_OTHER_TEXTS, kokoro_takes, other_text, other_voice
from data_tools.profiles import PhoneProfile, sample_profiles
from data_tools.text import normalize_phrase, partials, random_sentence, soundalikes
from data_tools.tts import NEURAL_ENGINES, SynthesisError, Voice, is_cached, phonemes, synthesize
from device_client.store import PhoneStore
from wakeword.audio import resample, trim_silence
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError, StoreError

__all__ = ["FleetConfig", "synth_fleet"]

_SENTENCE_PREFIXES = ("okay", "so", "um", "tell me", "I said", "please")
_SENTENCE_SUFFIXES = ("what time is it", "play some music", "turn on the lights", "set a timer",
                      "call my mother", "what is the weather like", "")  # fmt: skip
BABBLE_VOICES = 4  # overlapping speakers in "babble" noise
# Kokoro costs about 1 s per second of speech on one core, so a neural owner says each text a few
# times and the takes are reused, each time with another tempo/pitch, level, room position and noise.
NEURAL_PHRASE_TAKES = 3  # distinct takes of the phrase by a neural owner
NEURAL_OWNER_SENTENCES = 1  # distinct short commands ("set a timer") by a neural owner
NEURAL_HARD_TEXTS = 2  # distinct partials and sound-alikes (each kind) by a neural owner
# 1 in 4 of a phone's speech clips is its owner talking (a neural owner: one of a few short commands;
# an espeak-ng or flite owner: made-up sentences); other people talking (data_tools.others) say the rest.
OWNER_SPEECH_EVERY = 4
OTHER_TALKERS = 3  # other people heard on one phone


@dataclass(frozen=True)
class FleetConfig:
    """Settings of a synthetic fleet (recorded in fleet.json; a re-run must use the same)."""

    phrase: str = "hey computer"  # the wake phrase
    # phones in the fleet, training and held-out together: each is one voice, and voices are what
    # the model must generalise over (central FRR at 0.5 FA/h: 42.8% with 50 phones, 6.6% with 200)
    devices: int = 200
    test_fraction: float = 0.2  # share of phones held out for testing (at least one)
    seed: int = 1  # every random choice derives from it
    positives: int = 40  # phrase clips per phone, of which in_sentence are inside sentences
    in_sentence: int = 8  # positives with the phrase inside a longer sentence
    partials: int = 20  # hard negatives: parts of the phrase alone ("hey", "computer")
    soundalikes: int = 20  # hard negatives: one syllable changed ("hey commuter")
    speech: int = 120  # other speech
    noise: int = 40  # background noise clips
    background_minutes: float = 60.0  # long negative streams for FA/h, in total
    stream_minutes: float = 10.0  # length of one background stream
    # sentences each Kokoro style says as "another person" (0: no Kokoro among other people); the
    # takes are made once per machine (about 25 min of one core at 5) and shared through the cache
    other_kokoro_texts: int = KOKORO_OTHER_TEXTS

    def __post_init__(self) -> None:
        normalize_phrase(self.phrase)
        if self.devices < 2:
            raise ParameterError(
                f"--devices must be at least 2 (one training, one held out), got {self.devices}"
            )
        if not 0 < self.test_fraction < 1:
            raise ParameterError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        counts = {
            k: getattr(self, k)
            for k in ("positives", "in_sentence", "partials", "soundalikes", "speech", "noise")
        }
        for name, value in counts.items():
            if value < 0:
                raise ParameterError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
        if self.positives < 1:
            raise ParameterError("--positives must be at least 1")
        if self.in_sentence > self.positives:
            raise ParameterError(
                f"--in-sentence ({self.in_sentence}) cannot exceed --positives ({self.positives})"
            )
        if self.other_kokoro_texts < 0:
            raise ParameterError(f"--other-kokoro-texts must be >= 0, got {self.other_kokoro_texts}")
        if self.background_minutes < 0 or self.stream_minutes <= 0:
            raise ParameterError("background and stream minutes must be >= 0 and > 0")

    @property
    def test_phones(self) -> int:
        return max(1, round(self.devices * self.test_fraction))

    @property
    def clips_per_phone(self) -> int:
        return self.positives + self.partials + self.soundalikes + self.speech + self.noise


# --- one phone ------------------------------------------------------------------------------------


class _PhoneSynth:
    """Makes one phone's clips: its voice, in its room, through its microphone, in its noise."""

    def __init__(
        self,
        profile: PhoneProfile,
        rng: np.random.Generator,
        *,
        bed_seconds: float = 20.0,
        phrase: str = "",
        kokoro_texts: int = KOKORO_OTHER_TEXTS,
    ) -> None:
        self.profile = profile
        self.kokoro_texts = kokoro_texts  # sentences per Kokoro style other people say (0: no Kokoro)
        self.phrase = phrase  # a neural owner's phrase gets NEURAL_PHRASE_TAKES distinct takes
        self.rng = rng
        self.neural = profile.speaker.engine in NEURAL_ENGINES
        self._takes: dict[str, list[np.ndarray]] = {}  # a neural owner's takes by text
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
        return other_text(self.rng, voice, avoid=avoid, kokoro_texts=self.kokoro_texts)

    def speak(self, text: str, *, jitter: bool = True, voice: Voice | None = None) -> np.ndarray:
        """Dry speech of ``text`` in this phone's voice (with take-to-take variation), or in
        another person's ``voice``."""
        sp = self.profile.speaker
        factor = float(self.rng.uniform(0.9, 1.1))  # another person: their own tempo and pitch
        if voice is None:
            factor = sp.speed_factor * (self.rng.uniform(0.95, 1.05) if jitter else 1.0)
            if self.neural:
                return _tempo(self._neural_take(text), factor)
            rate = int(np.clip(sp.rate * (self.rng.uniform(0.9, 1.1) if jitter else 1.0), 80, 450))
            pitch = int(np.clip(sp.pitch + (self.rng.integers(-6, 7) if jitter else 0), 0, 99))
            voice = Voice(sp.engine, sp.voice, rate, pitch)
        audio = trim_silence(synthesize(text, voice=voice))
        return _tempo(audio, factor) if voice.engine in RESAMPLED_ENGINES else audio

    def _neural_take(self, text: str) -> np.ndarray:
        """One of the owner's few takes of ``text``: a new one while there are fewer than the
        limit, else a reused one."""
        takes = self._takes.setdefault(text, [])
        if len(takes) < (NEURAL_PHRASE_TAKES if text == self.phrase else 1):
            sp = self.profile.speaker
            rate = int(np.clip(sp.rate * self.rng.uniform(0.9, 1.1), 80, 300)) if takes else sp.rate
            takes.append(trim_silence(synthesize(text, voice=Voice(sp.engine, sp.voice, rate, sp.pitch))))
            return takes[-1]
        return takes[int(self.rng.integers(len(takes)))]

    def owner_sentence(self) -> str:
        """A short command the neural owner says (one of a few, reused)."""
        if not self.sentences:
            commands = [c for c in _SENTENCE_SUFFIXES if c]
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


def _phone_rng(seed: int, index: int, purpose: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, purpose]))


def synth_phone(config: FleetConfig, profile: PhoneProfile, index: int, folder: Path) -> int:
    """Synthesize one phone's store into ``folder`` (which must not hold a store). Returns the clip count."""
    rng = _phone_rng(config.seed, index)
    phrase = normalize_phrase(config.phrase)
    synth = _PhoneSynth(profile, rng, phrase=phrase, kokoro_texts=config.other_kokoro_texts)
    store = PhoneStore.create(
        folder, phone_id=profile.phone_id, info={"profile": profile.to_json(), "source": "synthetic"}
    )
    speaker = f"{profile.speaker.engine}:{profile.speaker.voice}"
    common = {"speaker": speaker, "fsync": False}  # the whole folder is committed by one rename
    hard = {
        "partial": partials(phrase),
        "soundalike": soundalikes(phrase, limit=12, rng=rng, pronounce=phonemes),
    }
    with store.batch():
        for i in range(config.positives):
            if i < config.positives - config.in_sentence:
                clip, span = synth.place(synth.speak(phrase))
                store.add(
                    clip,
                    label="positive",
                    kind="phrase",
                    text=phrase,
                    span=span,
                    clip_id=f"pos-{i:04d}",
                    params={"take": i},
                    **common,
                )
            else:
                clip, span, text = _in_sentence(synth, phrase)
                store.add(
                    clip,
                    label="positive",
                    kind="phrase_in_sentence",
                    text=text,
                    span=span,
                    clip_id=f"pos-{i:04d}",
                    params={"take": i},
                    **common,
                )
        for kind, count in (("partial", config.partials), ("soundalike", config.soundalikes)):
            texts = hard[kind] or hard["soundalike"]  # a one-syllable phrase has no parts
            texts = texts[:NEURAL_HARD_TEXTS] if synth.neural else texts
            for i in range(count):
                text = texts[i % len(texts)]
                clip, _ = synth.place(synth.speak(text))
                store.add(clip, label="negative", kind=kind, text=text, clip_id=f"{kind}-{i:04d}", **common)
        others = [synth.other_voice() for _ in range(OTHER_TALKERS)]
        for i in range(config.speech):
            if i % OWNER_SPEECH_EVERY:  # someone else talking near the phone
                voice = others[i % len(others)]
                text = synth.other_text(voice, avoid=phrase)
                clip, _ = synth.place(synth.speak(text, voice=voice))
                meta = {**common, "speaker": "other"}
            else:
                text = synth.owner_sentence() if synth.neural else random_sentence(rng, avoid=phrase)
                clip, _ = synth.place(synth.speak(text))
                meta = common
            store.add(clip, label="negative", kind="speech", text=text, clip_id=f"speech-{i:04d}", **meta)
        for i in range(config.noise):
            store.add(
                synth.noise_clip(),
                label="negative",
                kind="noise",
                text="",
                clip_id=f"noise-{i:04d}",
                params={"noise": profile.noise.kind},
                speaker="",
                fsync=False,
            )
    return config.clips_per_phone


def _in_sentence(synth: _PhoneSynth, phrase: str) -> tuple[np.ndarray, tuple[float, float], str]:
    rng = synth.rng
    if synth.neural:  # the owner's own sentence before or after the phrase (no new takes)
        prefix, suffix = synth.owner_sentence(), ""
        if rng.uniform() < 0.5:
            prefix, suffix = "", prefix
    else:
        prefix = _SENTENCE_PREFIXES[rng.integers(len(_SENTENCE_PREFIXES))]
        suffix = _SENTENCE_SUFFIXES[rng.integers(len(_SENTENCE_SUFFIXES))]
    parts = ([synth.speak(prefix)] if prefix else []) + [synth.speak(phrase)]
    parts += [synth.speak(suffix)] if suffix else []
    gaps = [np.zeros(int(rng.uniform(0.05, 0.15) * SAMPLE_RATE), np.float32) for _ in parts]
    start = (parts[0].size + gaps[0].size) / SAMPLE_RATE if prefix else 0.0
    dry = np.concatenate([x for pair in zip(parts, gaps) for x in pair])
    clip, (lead, _) = synth.place(dry)
    span = (lead + start, lead + start + parts[1 if prefix else 0].size / SAMPLE_RATE)
    return clip, span, " ".join(t for t in (prefix, phrase, suffix) if t)


# --- background streams --------------------------------------------------------------------------


def synth_stream(config: FleetConfig, index: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A long negative stream: held-out voices talking (with partials and sound-alikes of the phrase
    mixed in, about one every 30 s), pauses and noise-only stretches, in one room and noise."""
    phrase = normalize_phrase(config.phrase)
    profile = sample_profiles(1, test_phones=1, rng=rng, first_index=index)[0]
    profile = dataclasses.replace(profile, phone_id=f"stream-{index:03d}")
    synth = _PhoneSynth(profile, rng, kokoro_texts=config.other_kokoro_texts)
    hard = partials(phrase) + soundalikes(phrase, limit=12, rng=rng, pronounce=phonemes)
    n_total = round(seconds * SAMPLE_RATE)
    out = np.zeros(n_total, dtype=np.float32)
    pos = 0
    voices = [synth.other_voice() for _ in range(OTHER_TALKERS)]
    while pos < n_total:
        roll = rng.uniform()
        if roll < 0.08:  # a noise-only stretch
            piece = synth.noise_clip()
        else:
            voice = voices[rng.integers(len(voices))]
            text = hard[rng.integers(len(hard))] if roll < 0.15 else synth.other_text(voice, avoid=phrase)
            piece, _ = synth.place(synth.speak(text, voice=voice))
        n = min(piece.size, n_total - pos)
        out[pos : pos + n] = piece[:n]
        pos += n
    return out


# --- the fleet -----------------------------------------------------------------------------------


def _phone_job(args: tuple) -> tuple[str, int]:
    config, profile, index, fleet_root = args
    final = fleet_root / "phones" / profile.phone_id
    partial = fleet_root / "phones" / f".{profile.phone_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    count = synth_phone(config, profile, index, partial)
    os.replace(partial, final)
    return profile.phone_id, count


def _stream_job(args: tuple) -> tuple[str, int]:
    config, index, seconds, fleet_root = args
    stream_id = f"stream-{index:03d}"
    final = fleet_root / "background" / stream_id
    partial = fleet_root / "background" / f".{stream_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    audio = synth_stream(config, index, seconds, _phone_rng(config.seed, index, purpose=1))
    store = PhoneStore.create(partial, phone_id=stream_id, info={"source": "synthetic stream"})
    store.add(
        audio, label="negative", kind="stream", clip_id=stream_id, params={"seconds": seconds}, fsync=False
    )
    os.replace(partial, final)
    return stream_id, 1


def _fleet_settings(config: FleetConfig) -> dict:
    return dataclasses.asdict(config)


def synth_fleet(
    config: FleetConfig,
    out: str | os.PathLike,
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Fleet:
    """Build (or finish building) a fleet in ``out``.

    Parameters
    ----------
    config : FleetConfig
    out : str or os.PathLike
        Fleet folder; created if missing. If it holds a fleet, it must have the same settings:
        finished phones are kept and the rest are made.
    jobs : int, optional
        Worker processes (default: all cores).
    progress : callable, optional
        Called as ``progress(what, done, total)`` after each phone or stream.

    Returns
    -------
    Fleet
    """
    root = Path(out)
    normalize_phrase(config.phrase)
    _check_phrase_speaks(config.phrase)
    jobs = max(1, jobs or os.cpu_count() or 1)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2**31 - 1]))
    profiles = sample_profiles(config.devices, test_phones=config.test_phones, rng=rng)
    if any(p.speaker.engine in NEURAL_ENGINES for p in profiles):
        voice_assets.require_installed()  # a missing voice file is named before any work starts
    settings = _fleet_settings(config)
    if (root / FLEET_FILE).exists():
        existing = Fleet(root).description.get("settings")
        if existing != settings:
            changed = sorted(k for k in settings if existing is None or existing.get(k) != settings[k])
            raise StoreError(
                f"{root}: holds a fleet made with other settings ({', '.join(changed)}); "
                "choose a new --out or delete it"
            )
    (root / "phones").mkdir(parents=True, exist_ok=True)
    n_streams = (
        int(np.ceil(config.background_minutes / config.stream_minutes)) if config.background_minutes else 0
    )
    description = {
        "phrase": normalize_phrase(config.phrase),
        "seed": config.seed,
        "settings": settings,
        "phones": [
            {"phone_id": p.phone_id, "split": p.split, "path": f"phones/{p.phone_id}"} for p in profiles
        ],
        "background": [f"background/stream-{k:03d}" for k in range(n_streams)],
    }
    write_fleet_description(root, description)
    (root / "background").mkdir(exist_ok=True)

    phone_jobs = [
        (config, p, i, root)
        for i, p in enumerate(profiles)
        if not (root / "phones" / p.phone_id / "manifest.json").exists()
    ]
    stream_seconds = [
        min(config.stream_minutes, config.background_minutes - k * config.stream_minutes) * 60
        for k in range(n_streams)
    ]
    stream_jobs = [
        (config, k, stream_seconds[k], root)
        for k in range(n_streams)
        if not (root / "background" / f"stream-{k:03d}" / "manifest.json").exists()
    ]
    splits = {p.split for p in profiles} | ({"test"} if stream_jobs else set())
    n_texts = config.other_kokoro_texts
    takes = [t for split in sorted(splits) for t in kokoro_takes(split, kokoro_texts=n_texts)]
    take_jobs = [t for t in takes if not is_cached(*t)]
    if phone_jobs or stream_jobs:
        _run_jobs(
            [("take", t) for t in take_jobs]
            + [("phone", j) for j in phone_jobs]
            + [("stream", j) for j in stream_jobs],
            jobs=jobs,
            progress=progress,
        )
    return Fleet(root)


def _run_jobs(items: list[tuple[str, tuple]], *, jobs: int, progress) -> None:
    """The shared voices' takes first (so that no two phones make the same one), then phones and
    streams, across ``jobs`` processes."""
    done, total = 0, len(items)
    if progress is not None:
        progress("", 0, total)
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TF threads
    with context.Pool(min(jobs, total)) as pool:
        takes = [item for item in items if item[0] == "take"]
        work = [item for item in items if item[0] != "take"]
        for batch in (takes, work):
            for what, _ in pool.imap_unordered(_dispatch, batch):
                done += 1
                if progress is not None:
                    progress(what, done, total)


def _dispatch(item: tuple[str, tuple]) -> tuple[str, int]:
    kind, args = item
    if kind == "take":
        text, voice = args
        synthesize(text, voice=voice)  # into the disk cache
        return f"voice {voice.engine}:{voice.name}", 0
    return _phone_job(args) if kind == "phone" else _stream_job(args)


def _check_phrase_speaks(phrase: str) -> None:
    try:
        synthesize(normalize_phrase(phrase))
    except SynthesisError as exc:
        raise ParameterError(f"--phrase {phrase!r}: {exc}") from None
