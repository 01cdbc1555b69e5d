"""Fleet synthesis on tiny fleets: determinism, non-IID phones, held-out speakers, resume, check."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from data_tools.check import check
from data_tools.fleet import Fleet, voice_group
from data_tools.fleet_config import BEFORE_IT_EXISTED
from data_tools.profiles import is_held_out_voice
from data_tools.synth import FleetConfig, synth_fleet
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.errors import ParameterError, StoreError

TINY = FleetConfig(
    devices=4,
    test_fraction=0.25,
    positives=4,
    in_sentence=1,
    partials=2,
    soundalikes=2,
    speech=3,
    noise=2,
    background_minutes=0.5,
    stream_minutes=0.25,
    other_kokoro_texts=0,  # the Kokoro pool of other people is made in test_others
)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def tiny_fleet(tmp_path_factory) -> Fleet:
    return synth_fleet(TINY, tmp_path_factory.mktemp("fleet") / "fleet", jobs=2)


def test_layout_and_counts(tiny_fleet):
    assert tiny_fleet.phrase == "hey computer"
    assert len(tiny_fleet.phone_ids("train")) == 3 and len(tiny_fleet.phone_ids("test")) == 1
    for phone_id in tiny_fleet.phone_ids():
        store = tiny_fleet.store(phone_id)
        kinds = [c.kind for c in store.clips()]
        assert kinds.count("phrase") == 3 and kinds.count("phrase_in_sentence") == 1
        assert len(store.clips(label="negative")) == 9
        for clip in store.clips(label="positive"):
            assert 0 < clip.span[0] < clip.span[1] <= clip.duration
            assert 0.3 < clip.span[1] - clip.span[0] < 2.5  # "hey computer" takes a fraction of a second
    streams = tiny_fleet.background()
    assert len(streams) == 2
    assert sum(s.clips()[0].duration for s in streams) == pytest.approx(30.0, abs=0.01)


def test_phones_are_non_iid(tiny_fleet):
    profiles = [tiny_fleet.store(p).info["profile"] for p in tiny_fleet.phone_ids()]
    assert len({p["speaker"]["voice"] for p in profiles}) == len(profiles)
    assert len({p["room"]["seed"] for p in profiles}) == len(profiles)
    assert len({(p["noise"]["kind"], p["noise"]["snr_low_db"]) for p in profiles}) == len(profiles)
    levels = []
    for phone_id in tiny_fleet.phone_ids():
        store = tiny_fleet.store(phone_id)
        noise = np.concatenate([store.read(c) for c in store.clips(kind="noise")])
        levels.append(20 * np.log10(np.sqrt(np.mean(noise**2))))
    assert np.ptp(levels) > 1.0  # phones' noise environments differ


def test_held_out_phones_share_no_speaker_with_training(tiny_fleet):
    for phone_id in tiny_fleet.phone_ids():
        voice = tiny_fleet.store(phone_id).info["profile"]["speaker"]["voice"]
        split = tiny_fleet.store(phone_id).info["profile"]["split"]
        assert is_held_out_voice(voice) == (split == "test")


def test_voice_group_names_the_accent_engine_or_source(tiny_fleet):
    for phone_id in tiny_fleet.phone_ids():
        info = tiny_fleet.store(phone_id).info
        speaker = info["profile"]["speaker"]
        group = voice_group(info)
        if speaker["engine"] == "espeak-ng":
            assert group == "espeak-ng " + speaker["voice"].split("+")[0] and "+" not in group
        else:
            assert group == speaker["engine"]
    assert voice_group({"source": "/data/speech_commands", "speaker": "0a7c2a8d"}) == "speech_commands"
    assert voice_group({"source": "recorded"}) == "recorded"
    assert voice_group({}) == "other"


def test_deterministic_for_a_seed_whatever_the_jobs(tiny_fleet, tmp_path):
    again = synth_fleet(TINY, tmp_path / "again", jobs=1)
    assert tree_digest(again.root) == tree_digest(tiny_fleet.root)
    other = synth_fleet(TINY.__class__(**{**TINY.__dict__, "seed": 2}), tmp_path / "other", jobs=2)
    assert tree_digest(other.root) != tree_digest(tiny_fleet.root)


def test_resume_finishes_an_interrupted_run(tiny_fleet, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_fleet.root, copy)
    # what a crash leaves: one phone missing, one half-written, one stream missing
    shutil.rmtree(copy / "phones" / "phone-0001")
    shutil.copytree(copy / "phones" / "phone-0002", copy / "phones" / ".phone-0002.partial")
    shutil.rmtree(copy / "phones" / "phone-0002")
    shutil.rmtree(copy / "background" / "stream-001")
    untouched = (copy / "phones" / "phone-0000" / "manifest.json").stat().st_mtime_ns
    synth_fleet(TINY, copy, jobs=2)
    assert tree_digest(copy) == tree_digest(tiny_fleet.root)
    assert (copy / "phones" / "phone-0000" / "manifest.json").stat().st_mtime_ns == untouched


def test_other_settings_in_the_same_folder_are_refused(tiny_fleet, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_fleet.root, copy)
    with pytest.raises(StoreError, match="other settings"):
        synth_fleet(FleetConfig(**{**TINY.__dict__, "seed": 9}), copy)


def test_a_fleet_from_before_a_setting_existed_resumes_as_it_was_made(tiny_fleet, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_fleet.root, copy)
    description = json.loads((copy / "fleet.json").read_text())
    del description["settings"]["neural_phrase_takes"]  # what older code wrote
    (copy / "fleet.json").write_text(json.dumps(description))
    shutil.rmtree(copy / "phones" / "phone-0001")
    synth_fleet(TINY, copy, jobs=1)
    assert tree_digest(copy / "phones") == tree_digest(tiny_fleet.root / "phones")
    with pytest.raises(StoreError, match=r"other settings \(neural_phrase_takes\)"):
        synth_fleet(FleetConfig(**{**TINY.__dict__, "neural_phrase_takes": 5}), copy)
    # a fleet from before pronunciation variants existed had none: it is not one of today's default (0.25)
    del description["settings"]["pronunciation_variants"]
    (copy / "fleet.json").write_text(json.dumps(description))
    synth_fleet(FleetConfig(**{**TINY.__dict__, "pronunciation_variants": 0.0}), copy, jobs=1)
    with pytest.raises(StoreError, match=r"other settings \(pronunciation_variants\)"):
        synth_fleet(TINY, copy)
    # nor did it limit how often a phone hears another person's take
    del description["settings"]["other_take_repeats"]
    (copy / "fleet.json").write_text(json.dumps(description))
    older = {**TINY.__dict__, "pronunciation_variants": 0.0}
    synth_fleet(FleetConfig(**{**older, "other_take_repeats": 0}), copy, jobs=1)
    with pytest.raises(StoreError, match=r"other settings \(other_take_repeats\)"):
        synth_fleet(FleetConfig(**older), copy)
    # nor did it keep sound-alikes out of its streams
    del description["settings"]["stream_hard"]
    (copy / "fleet.json").write_text(json.dumps(description))
    with pytest.raises(StoreError, match=r"other settings \(stream_hard\)"):
        synth_fleet(FleetConfig(**{**older, "other_take_repeats": 0}), copy)


def test_unspeakable_phrase():
    with pytest.raises(ParameterError, match="no words"):
        FleetConfig(phrase=" ... ")


def test_check_passes_then_names_each_problem(tiny_fleet, tmp_path):
    assert check(tiny_fleet.root).ok
    copy = tmp_path / "copy"
    shutil.copytree(tiny_fleet.root, copy)
    phone = copy / "phones" / "phone-0000"
    manifest = json.loads((phone / "manifest.json").read_text())
    files = [phone / c["file"] for c in manifest["clips"]]
    before = {p: p.read_bytes() for p in files[3:]}
    files[0].unlink()  # missing on disk
    data = bytearray(files[1].read_bytes())
    data[100] ^= 0xFF
    files[1].write_bytes(bytes(data))  # the manifest now lies about its checksum
    files[2].write_bytes(b"RIFF garbage")  # corrupt audio
    shutil.copy(files[3], phone / "audio" / "stray.wav")  # unlisted, and a duplicate
    problems = "\n".join(check(copy).problems)
    assert f"{files[0].name}: in the manifest but missing on disk" in problems
    assert f"{files[1].name}: checksum differs" in problems
    assert f"{files[2].name}: corrupt audio" in problems
    assert "stray.wav: on disk but not in the manifest" in problems
    assert {p: p.read_bytes() for p in files[3:]} == before  # checking changes nothing


def test_cli_synth_and_check(tmp_path):
    out = tmp_path / "cli-fleet"
    args = [
        "--devices",
        "2",
        "--positives",
        "2",
        "--in-sentence",
        "0",
        "--partials",
        "1",
        "--soundalikes",
        "1",
    ]
    args += ["--speech", "1", "--noise", "1", "--background-minutes", "0", "--other-kokoro-texts", "0"]
    result = run_wakeword("data", "synth", "--out", out, *args)
    assert result.code == 0, result.stderr
    assert "1 training + 1 held-out phones, 6 clips each" in result.stdout
    # stderr is a pipe here: plain progress lines, not a bar redrawn with carriage returns
    assert "synthesizing: 2/2 (" in result.stderr and "\r" not in result.stderr
    again = run_wakeword("data", "synth", "--out", out, *args)  # all built: reused, no empty progress
    assert again.code == 0 and "synthesizing" not in again.stderr, again.stderr
    ok = run_wakeword("data", "check", out)
    assert ok.code == 0 and "OK: no problems found" in ok.stdout
    next(out.glob("phones/phone-0000/audio/*.wav")).unlink()
    bad = run_wakeword("data", "check", out)
    assert bad.code == 1 and "missing on disk" in bad.stderr and "Traceback" not in bad.stderr
    refused = run_wakeword("data", "synth", "--out", out, "--phrase", "?!")
    assert refused.code == 1 and "no words to speak" in refused.stderr


def test_cli_cache_builds_each_phones_features_once(tiny_fleet, tmp_path):
    from device_client.pipeline import cache_is_current

    fleet_dir = tmp_path / "fleet"
    shutil.copytree(tiny_fleet.root, fleet_dir, ignore=shutil.ignore_patterns("cache"))
    fleet = Fleet(fleet_dir)
    result = run_wakeword("data", "cache", fleet_dir, "--jobs", "2")
    assert result.code == 0, result.stderr
    assert "3 feature caches built, 0 already current" in result.stdout
    assert all(cache_is_current(fleet.store(p)) for p in fleet.phone_ids("train"))
    assert not (fleet_dir / "phones" / fleet.phone_ids("test")[0] / "cache").exists()  # scored from audio
    again = run_wakeword("data", "cache", fleet_dir)
    assert again.code == 0 and "0 feature caches built, 3 already current" in again.stdout
    bad = run_wakeword("data", "cache", fleet_dir, "--jobs", "0")
    assert_one_line_error(bad, "--jobs")


def test_neural_phrase_takes_must_be_positive():
    with pytest.raises(ParameterError, match="`neural_phrase_takes`"):
        FleetConfig(phrase="hey computer", neural_phrase_takes=0)


def test_extra_kokoro_takes_jitter_the_owners_blend(rng):
    """Beyond the first takes, a Kokoro owner's blend is re-weighted (same styles, weights summing
    to one, another timbre); other engines keep their voice."""
    import dataclasses

    from data_tools.neural_tts import parse_blend
    from data_tools.phone_synth import PhoneSynth
    from data_tools.profiles import sample_profiles

    profile = sample_profiles(1, test_phones=0, rng=rng)[0]
    kokoro = dataclasses.replace(profile.speaker, engine="kokoro", voice="af_sky:0.6,bm_george:0.4")
    synth = PhoneSynth(dataclasses.replace(profile, speaker=kokoro), rng, bed_seconds=1.0, kokoro_texts=0)
    jittered = parse_blend(synth._jittered(kokoro))
    assert [name for name, _ in jittered] == ["af_sky", "bm_george"]
    assert sum(w for _, w in jittered) == pytest.approx(1.0, abs=2e-3)
    assert jittered[0][1] != pytest.approx(0.6, abs=1e-3)
    espeak = dataclasses.replace(kokoro, engine="espeak-ng", voice="en-us+m3")
    assert synth._jittered(espeak) == "en-us+m3"


def test_classic_owner_voices_leave_out_the_neural_engines(rng):
    from data_tools.profiles import sample_profiles

    engines = {p.speaker.engine for p in sample_profiles(200, test_phones=40, rng=rng, neural=False)}
    assert engines == {"espeak-ng", "flite"}
    every = {p.speaker.engine for p in sample_profiles(200, test_phones=40, rng=rng)}
    assert {"kokoro", "piper"} <= every
    with pytest.raises(ParameterError, match="`owner_voices`"):
        FleetConfig(owner_voices="neural")


def test_voice_shift_lowers_each_owner_once_and_other_people_per_utterance(rng):
    """With a voice shift, an owner keeps one shift in [-S, 0] for every take and other people
    draw theirs per utterance, from the phone's own generator (its other draws stay as they were)."""
    import dataclasses

    from data_tools.phone_synth import PhoneSynth
    from data_tools.profiles import sample_profiles

    profile = sample_profiles(1, test_phones=0, rng=rng)[0]
    profile = dataclasses.replace(profile, noise=dataclasses.replace(profile.noise, kind="pink"))

    def synth(max_shift):
        shifts = np.random.default_rng(5)
        return PhoneSynth(profile, np.random.default_rng(1), bed_seconds=1.0, kokoro_texts=0,
                          shifts=shifts, max_shift=max_shift)  # fmt: skip

    plain, shifted = synth(0.0), synth(4.0)
    assert plain.owner_shift == 0.0 and -4.0 <= shifted.owner_shift < 0.0
    others = {shifted._draw_shift() for _ in range(20)}
    assert len(others) == 20 and all(-4.0 <= s <= 0.0 for s in others)
    a, b = plain.speak("hey computer"), shifted.speak("hey computer")
    assert a.shape == b.shape and not np.array_equal(a, b)  # the same take, tempo kept, shifted
    assert np.array_equal(plain.noise_clip(), shifted.noise_clip())  # the phone's draws unchanged
    with pytest.raises(ParameterError, match="`voice_shift`"):
        FleetConfig(voice_shift=-1)


def test_streams_mix_in_sound_alikes_only_when_asked(monkeypatch):
    """The default streams mix in parts of the phrase only; a fleet from before the setting
    existed (or one that asks) gets sound-alikes too, drawn as they were."""
    from data_tools import synth as synth_module
    from data_tools.phone_synth import PhoneSynth

    said, speak = [], PhoneSynth.speak

    def heard(self, text, **options):
        said.append(text)
        return speak(self, text, **options)

    monkeypatch.setattr(PhoneSynth, "speak", heard)
    monkeypatch.setattr(synth_module, "_soundalikes", lambda config, phrase, limit, rng: ["sentinel"])

    def texts(**settings):
        said.clear()
        config = FleetConfig(**{**TINY.__dict__, **settings})
        synth_module.synth_stream(config, 0, 300.0, np.random.default_rng(3))
        return set(said)

    assert FleetConfig().stream_hard == "partials"
    default = texts()
    assert "sentinel" not in default and {"hey", "computer"} & default
    assert "sentinel" in texts(stream_hard=BEFORE_IT_EXISTED["stream_hard"])
    with pytest.raises(ParameterError, match="`stream_hard`"):
        FleetConfig(stream_hard="soundalikes")
