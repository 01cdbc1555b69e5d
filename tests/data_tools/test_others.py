"""Other people talking near a phone: voices by split, fixed sentence pools, one Kokoro take, each
take heard at most so often by a phone."""

from __future__ import annotations

import numpy as np

from data_tools import others
from data_tools.profiles import is_held_out_voice, kokoro_pool
from data_tools.text import mentions
from data_tools.tts import Voice, is_cached, synthesize


def test_other_voices_keep_to_the_phones_split(rng):
    for split in ("train", "test"):
        voices = [others.other_voice(rng, split) for _ in range(400)]
        assert all(is_held_out_voice(v.name) == (split == "test") for v in voices)
        engines = [v.engine for v in voices]
        share = engines.count("kokoro") / len(engines)
        assert abs(share - others.KOKORO_OTHER_SHARE) < 0.08
        assert ("piper" in engines) == (split == "train")
        assert {v.name for v in voices if v.engine == "kokoro"} <= set(kokoro_pool(split))
    assert all(others.other_voice(rng, "train", kokoro=False).engine != "kokoro" for _ in range(100))


def test_neural_voices_say_their_fixed_pool(rng):
    voice = Voice("kokoro", kokoro_pool("train")[0], others.KOKORO_OTHER_RATE)
    pool = {t for t, v in others.kokoro_takes("train", kokoro_texts=3) if v == voice}
    assert len(pool) == 3
    said = {others.other_text(rng, voice, kokoro_texts=3) for _ in range(60)}
    assert said == pool  # the same sentences on every phone: made once, shared through the cache
    takes = others.kokoro_takes("test", kokoro_texts=2)
    assert len(takes) == 2 * len(kokoro_pool("test"))
    assert all(is_held_out_voice(v.name) for _, v in takes)
    piper = Voice("piper", "joe", 160)
    assert not any(mentions(others.other_text(rng, piper, avoid="the"), "the") for _ in range(50))


def test_a_shared_take_is_cached_once(monkeypatch, tmp_path):
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path / "cache"))
    text, voice = others.kokoro_takes("test", kokoro_texts=1)[0]
    assert not is_cached(text, voice)
    audio = synthesize(text, voice=voice)
    assert is_cached(text, voice) and audio.dtype == np.float32 and audio.size > 16_000
    assert np.array_equal(synthesize(text, voice=voice), audio)


def test_fleet_jobs_make_the_shared_takes_ahead(monkeypatch, tmp_path):
    from data_tools.synth import _run_jobs

    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path / "cache"))
    takes = others.kokoro_takes("test", kokoro_texts=1)[:2]
    seen = []
    _run_jobs([("take", t) for t in takes], jobs=2, progress=lambda what, done, total: seen.append(done))
    assert all(is_cached(*t) for t in takes) and seen == [0, 1, 2]


def test_a_pooled_take_is_heard_at_most_so_often(rng):
    voice = Voice("kokoro", kokoro_pool("train")[0], others.KOKORO_OTHER_RATE)
    heard = {}
    said = [others.fresh_other_text(rng, voice, heard, repeats=2, kokoro_texts=3) for _ in range(7)]
    assert said[6] is None and len(set(said[:6])) == 3
    assert all(said[:6].count(t) == 2 for t in set(said[:6])) and set(heard.values()) == {2}
    espeak = Voice("espeak-ng", "en-us", 160)
    assert all(others.fresh_other_text(rng, espeak, heard, repeats=1) for _ in range(5))


def test_a_person_who_said_everything_leaves(rng):
    """A phone with the limit hears each pooled take of other people once (someone new comes in
    when a person has said all their sentences); without it the same takes come round again."""
    import dataclasses

    from data_tools.phone_synth import PhoneSynth
    from data_tools.profiles import sample_profiles

    profile = sample_profiles(1, test_phones=0, rng=rng)[0]
    profile = dataclasses.replace(profile, noise=dataclasses.replace(profile.noise, kind="white"))
    kokoro = Voice("kokoro", kokoro_pool("train")[0], others.KOKORO_OTHER_RATE)
    for repeats in (1, 0):
        synth = PhoneSynth(profile, np.random.default_rng(3), bed_seconds=1.0, kokoro_texts=2)
        talkers = [kokoro]
        said = [synth.next_other(talkers, 0, repeats=repeats) for _ in range(40)]
        pooled = [(v, t) for v, t in said if v.engine != "espeak-ng"]
        assert said[0][0] == kokoro and len(pooled) > 5
        if repeats:
            assert len(set(pooled)) == len(pooled) and talkers[0] != kokoro
        else:
            assert len(set(said)) == 2 and talkers == [kokoro]
