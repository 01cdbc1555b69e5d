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
from pathlib import Path

import numpy as np

from data_tools import voice_assets
from data_tools.confusables import confusable_texts, fleet_confusables
from data_tools.fleet import FLEET_FILE, Fleet, write_fleet_description
from data_tools.fleet_config import BEFORE_IT_EXISTED, OWNER_VOICES, FleetConfig
from data_tools.others import kokoro_takes
from data_tools.phone_synth import SENTENCE_SUFFIXES, PhoneSynth
from data_tools.profiles import PhoneProfile, sample_profiles
from data_tools.text import normalize_phrase, partials, soundalikes, wordnet_examples
from data_tools.tts import NEURAL_ENGINES, SynthesisError, consonants, is_cached, phonemes, synthesize
from device_client.store import PhoneStore
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError, StoreError

__all__ = ["OWNER_VOICES", "FleetConfig", "synth_fleet"]  # (the settings live in fleet_config)

_SENTENCE_PREFIXES = ("okay", "so", "um", "tell me", "I said", "please")
NEURAL_HARD_TEXTS = 2  # distinct partials and sound-alikes (each kind) by a neural owner
HARD_TEXTS = 12  # distinct sound-alikes and confusable words (each kind) a phone draws
# 1 in 4 of a phone's speech clips is its owner talking (a neural owner: one of a few short commands;
# an espeak-ng or flite owner: made-up sentences); other people talking (data_tools.others) say the rest.
OWNER_SPEECH_EVERY = 4
OTHER_TALKERS = 3  # other people heard on one phone
VARIANT_PURPOSE = 7  # _phone_rng purpose of a phone's pronunciation variants
SHIFT_PURPOSE = 8  # _phone_rng purpose of a phone's voice shifts (FleetConfig.voice_shift)


# --- one phone ------------------------------------------------------------------------------------


def _phone_rng(seed: int, index: int, purpose: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, purpose]))


def _variant_rng(config: FleetConfig, index: int) -> np.random.Generator | None:
    """The generator of a phone owner's pronunciation variants, if the owner is one who has them
    (drawn with :data:`VARIANT_PURPOSE`; engines without variants ignore it)."""
    if not config.pronunciation_variants:
        return None
    rng = _phone_rng(config.seed, index, VARIANT_PURPOSE)
    return rng if rng.random() < config.pronunciation_variants else None


def _soundalikes(config: FleetConfig, phrase: str, limit: int, rng: np.random.Generator) -> list[str]:
    """The phrase's sound-alikes of the kind ``config.soundalike_changes`` names."""
    said_with = consonants if config.soundalike_changes == "consonant" else None
    return soundalikes(phrase, limit=limit, rng=rng, pronounce=phonemes, consonants=said_with)


def synth_phone(
    config: FleetConfig, profile: PhoneProfile, index: int, folder: Path, confusables: tuple[str, ...] = ()
) -> int:
    """Synthesize one phone's store into ``folder`` (which must not hold a store); ``confusables``:
    the words :func:`~data_tools.confusables.fleet_confusables` gives for the phrase (needed if
    ``config.confusables``). Returns the clip count."""
    rng = _phone_rng(config.seed, index)
    phrase = normalize_phrase(config.phrase)
    synth = PhoneSynth(
        profile,
        rng,
        phrase=phrase,
        kokoro_texts=config.other_kokoro_texts,
        phrase_takes=config.neural_phrase_takes,
        variants=_variant_rng(config, index),
        sentences=config.sentences,
        shifts=_phone_rng(config.seed, index, SHIFT_PURPOSE),
        max_shift=config.voice_shift,
    )
    store = PhoneStore.create(
        folder, phone_id=profile.phone_id, info={"profile": profile.to_json(), "source": "synthetic"}
    )
    speaker = f"{profile.speaker.engine}:{profile.speaker.voice}"
    common = {"speaker": speaker, "fsync": False}  # the whole folder is committed by one rename
    sounding = _soundalikes(config, phrase, HARD_TEXTS, rng)
    hard = [  # a one-syllable phrase has no parts
        ("partial", config.partials, partials(phrase) or sounding),
        ("soundalike", config.soundalikes, sounding),
    ]
    with store.batch():
        _add_positives(store, synth, config, phrase, common)
        _add_hard_negatives(store, synth, hard, common)
        _add_speech(store, synth, config, phrase, common)
        for i in range(config.noise):
            store.add(
                synth.noise_clip(), label="negative", kind="noise", text="", clip_id=f"noise-{i:04d}",
                params={"noise": profile.noise.kind}, speaker="", fsync=False,
            )  # fmt: skip
        if config.confusables:  # last, so a fleet without them has the same bytes as before
            texts = confusable_texts(phrase, confusables, limit=HARD_TEXTS, rng=rng) or sounding
            _add_hard_negatives(store, synth, [("confusable", config.confusables, texts)], common)
    return config.clips_per_phone


def _add_positives(store: PhoneStore, synth: PhoneSynth, config: FleetConfig, phrase: str, common: dict):
    """The phrase alone, then (the last ``in_sentence``) inside a sentence."""
    for i in range(config.positives):
        if i < config.positives - config.in_sentence:
            (clip, span), kind, text = synth.place(synth.speak(phrase)), "phrase", phrase
        else:
            clip, span, text = _in_sentence(synth, phrase)
            kind = "phrase_in_sentence"
        store.add(
            clip, label="positive", kind=kind, text=text, span=span, clip_id=f"pos-{i:04d}",
            params={"take": i}, **common,
        )  # fmt: skip


def _add_hard_negatives(
    store: PhoneStore, synth: PhoneSynth, hard: list[tuple[str, int, list[str]]], common: dict
):
    """``count`` clips of each (kind, count, texts): parts of the phrase alone, sound-alikes,
    confusable words (a neural owner repeats a few takes)."""
    for kind, count, texts in hard:
        texts = texts[:NEURAL_HARD_TEXTS] if synth.neural else texts
        for i in range(count):
            text = texts[i % len(texts)]
            clip, _ = synth.place(synth.speak(text))
            store.add(clip, label="negative", kind=kind, text=text, clip_id=f"{kind}-{i:04d}", **common)


def _add_speech(store: PhoneStore, synth: PhoneSynth, config: FleetConfig, phrase: str, common: dict):
    """Other speech: 1 in OWNER_SPEECH_EVERY by the owner, the rest by other people near the phone."""
    others = [synth.other_voice() for _ in range(OTHER_TALKERS)]
    for i in range(config.speech):
        if i % OWNER_SPEECH_EVERY:  # someone else talking near the phone
            voice, text = synth.next_other(
                others, i % len(others), avoid=phrase, repeats=config.other_take_repeats
            )
            clip, _ = synth.place(synth.speak(text, voice=voice))
            meta = {**common, "speaker": "other"}
        else:
            text = synth.owner_sentence() if synth.neural else synth.made_up_sentence(avoid=phrase)
            clip, _ = synth.place(synth.speak(text))
            meta = common
        store.add(clip, label="negative", kind="speech", text=text, clip_id=f"speech-{i:04d}", **meta)


def _in_sentence(synth: PhoneSynth, phrase: str) -> tuple[np.ndarray, tuple[float, float], str]:
    rng = synth.rng
    if synth.neural:  # the owner's own sentence before or after the phrase (no new takes)
        prefix, suffix = synth.owner_sentence(), ""
        if rng.uniform() < 0.5:
            prefix, suffix = "", prefix
    else:
        prefix = _SENTENCE_PREFIXES[rng.integers(len(_SENTENCE_PREFIXES))]
        suffix = SENTENCE_SUFFIXES[rng.integers(len(SENTENCE_SUFFIXES))]
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
    """A long negative stream: held-out voices talking (with parts of the phrase, and sound-alikes
    if ``config.stream_hard`` says so, mixed in about every 30 s), pauses and noise-only stretches,
    in one room and noise."""
    phrase = normalize_phrase(config.phrase)
    profile = sample_profiles(1, test_phones=1, rng=rng, first_index=index)[0]
    profile = dataclasses.replace(profile, phone_id=f"stream-{index:03d}")
    synth = PhoneSynth(profile, rng, kokoro_texts=config.other_kokoro_texts, sentences=config.sentences)
    hard = partials(phrase)
    if config.stream_hard == "partials+soundalikes":
        hard += _soundalikes(config, phrase, 12, rng)
    n_total = round(seconds * SAMPLE_RATE)
    out = np.zeros(n_total, dtype=np.float32)
    pos = 0
    voices = [synth.other_voice() for _ in range(OTHER_TALKERS)]
    while pos < n_total:
        roll = rng.uniform()
        if roll < 0.08:  # a noise-only stretch
            piece = synth.noise_clip()
        else:
            k = int(rng.integers(len(voices)))
            if roll < 0.15 and hard:
                voice, text = voices[k], hard[rng.integers(len(hard))]
            else:
                voice, text = synth.next_other(voices, k, avoid=phrase, repeats=config.other_take_repeats)
            piece, _ = synth.place(synth.speak(text, voice=voice))
        n = min(piece.size, n_total - pos)
        out[pos : pos + n] = piece[:n]
        pos += n
    return out


# --- the fleet -----------------------------------------------------------------------------------


def _phone_job(args: tuple) -> tuple[str, int]:
    config, profile, index, fleet_root, confusables = args
    final = fleet_root / "phones" / profile.phone_id
    partial = fleet_root / "phones" / f".{profile.phone_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    count = synth_phone(config, profile, index, partial, confusables)
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
    neural = config.owner_voices == "all"
    profiles = sample_profiles(config.devices, test_phones=config.test_phones, rng=rng, neural=neural)
    if any(p.speaker.engine in NEURAL_ENGINES for p in profiles):
        voice_assets.require_installed()  # a missing voice file is named before any work starts
    if "wordnet" in config.sentences:
        wordnet_examples()  # a missing WordNet is named before any work starts
    _check_same_settings(root, config)
    n_streams = (
        int(np.ceil(config.background_minutes / config.stream_minutes)) if config.background_minutes else 0
    )
    _write_description(root, config, profiles, n_streams)
    confusables = fleet_confusables(config.phrase) if config.confusables else ()
    phone_jobs = [
        (config, p, i, root, confusables)
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
    takes = [
        t
        for split in sorted(splits)
        for t in kokoro_takes(split, kokoro_texts=n_texts, source=config.sentences)
    ]
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


def _check_same_settings(root: Path, config: FleetConfig) -> None:
    """Refuse to finish a fleet in ``root`` made with other settings (a setting added since the
    fleet was made counts as what the code did before it existed)."""
    if not (root / FLEET_FILE).exists():
        return
    settings = _fleet_settings(config)
    existing = Fleet(root).description.get("settings")
    if existing is not None:
        existing = {**_fleet_settings(FleetConfig()), **BEFORE_IT_EXISTED, **existing}
    if existing != settings:
        changed = sorted(k for k in settings if existing is None or existing.get(k) != settings[k])
        raise StoreError(
            f"{root}: holds a fleet made with other settings ({', '.join(changed)}); "
            "choose a new `out` or delete it"
        )


def _write_description(root: Path, config: FleetConfig, profiles: list[PhoneProfile], n_streams: int) -> None:
    """``fleet.json`` and the fleet's folders."""
    (root / "phones").mkdir(parents=True, exist_ok=True)
    description = {
        "phrase": normalize_phrase(config.phrase),
        "seed": config.seed,
        "settings": _fleet_settings(config),
        "phones": [
            {"phone_id": p.phone_id, "split": p.split, "path": f"phones/{p.phone_id}"} for p in profiles
        ],
        "background": [f"background/stream-{k:03d}" for k in range(n_streams)],
    }
    write_fleet_description(root, description)
    (root / "background").mkdir(exist_ok=True)


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
        raise ParameterError(f"`phrase` {phrase!r}: {exc}") from None
