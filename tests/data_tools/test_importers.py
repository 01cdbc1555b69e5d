"""Imports of real-recording layouts, on generated fixtures and on ../shared/speech."""

from __future__ import annotations

import csv
import hashlib
import itertools

import numpy as np
import pytest
import soundfile as sf

from data_tools.check import check
from data_tools.fleet import Fleet
from data_tools.importers import import_dataset
from tests.conftest import tone
from tests.helpers import run_wakeword
from wakeword.errors import ParameterError

_UNIQUE = itertools.count()


def speechlike(seconds: float, rate: int, freq: float = 300.0) -> np.ndarray:
    """A tone burst with silence around it (so trimming has something to cut); every call's bytes differ."""
    y = np.zeros(round(seconds * rate), np.float32)
    burst = tone(freq, seconds / 2, sample_rate=rate)
    burst += 0.01 * np.random.default_rng(next(_UNIQUE)).standard_normal(burst.size).astype(np.float32)
    start = y.size // 4
    y[start : start + burst.size] = burst
    return y


def digest(folder) -> dict:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def speech_commands(tmp_path):
    root = tmp_path / "sc"
    for word, speakers in {
        "yes": ["aaaa1111", "bbbb2222", "cccc3333"],
        "no": ["aaaa1111", "dddd4444"],
    }.items():
        (root / word).mkdir(parents=True)
        for i, s in enumerate(speakers):
            audio = speechlike(1.0, 16000, 200.0 + 50 * i + 7 * len(word))
            sf.write(root / word / f"{s}_nohash_0.wav", audio, 16000, subtype="PCM_16")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "white.wav", 0.1 * np.ones(16000, np.float32), 16000)
    # bad inputs: corrupt, empty, silent, stereo at 48 kHz
    (root / "yes" / "eeee5555_nohash_0.wav").write_bytes(b"RIFF\x00\x00not audio")
    sf.write(root / "yes" / "ffff6666_nohash_0.wav", np.zeros(0, np.float32), 16000)
    sf.write(root / "no" / "abcd7777_nohash_0.wav", np.zeros(16000, np.float32), 16000)
    sf.write(root / "no" / "not-a-speech-commands-name.wav", speechlike(1.0, 16000), 16000)
    stereo = np.stack([speechlike(1.0, 48000), speechlike(1.0, 48000)], axis=1)
    sf.write(root / "no" / "abcd8888_nohash_1.wav", stereo, 48000)
    return root


def test_speech_commands_layout(speech_commands, tmp_path):
    before = digest(speech_commands)
    report = import_dataset("speech-commands", speech_commands, tmp_path / "out", positive="yes")
    assert digest(speech_commands) == before  # the source is never modified
    skipped = dict(report.skipped)
    assert "cannot decode as audio" in skipped[str(speech_commands / "yes" / "eeee5555_nohash_0.wav")]
    assert "empty" in skipped[str(speech_commands / "yes" / "ffff6666_nohash_0.wav")]
    assert "silent" in skipped[str(speech_commands / "no" / "abcd7777_nohash_0.wav")]
    assert "does not follow" in skipped[str(speech_commands / "no" / "not-a-speech-commands-name.wav")]
    assert report.imported == 7  # 3 yes + 2 no + stereo 48 kHz + 1 noise
    fleet = Fleet(tmp_path / "out")
    assert "spk-aaaa1111" in fleet.phone_ids() and "spk-noise" in fleet.phone_ids()
    assert fleet.phone_ids("test")  # at least one speaker held out
    aaaa = fleet.store("spk-aaaa1111")
    assert sorted(c.label for c in aaaa.clips()) == ["negative", "positive"]
    trimmed = aaaa.clips(label="positive")[0]
    assert 0.5 < trimmed.duration < 0.7  # the 0.5 s burst plus margins, silence cut
    stereo = fleet.store("spk-abcd8888").clips()[0]
    assert stereo.duration == pytest.approx(0.6, abs=0.02)
    assert check(tmp_path / "out").ok


def test_fsdd_layout_at_8k(tmp_path):
    root = tmp_path / "fsdd" / "recordings"
    root.mkdir(parents=True)
    for speaker in ("jackson", "nicolas", "theo"):
        for digit in range(3):
            sf.write(root / f"{digit}_{speaker}_0.wav", speechlike(0.6, 8000, 200 + 100 * digit), 8000)
    report = import_dataset("fsdd", tmp_path / "fsdd", tmp_path / "out", positive="1")
    assert report.imported == 9 and not report.skipped
    store = Fleet(tmp_path / "out").store("spk-theo")
    assert [c.label for c in store.clips()] == ["negative", "positive", "negative"]
    assert sf.info(str(store.path(store.clips()[0]))).samplerate == 16000


def test_precise_layout(tmp_path):
    root = tmp_path / "precise"
    for sub in ("wake-word", "not-wake-word", "test/wake-word", "test/not-wake-word"):
        (root / sub).mkdir(parents=True)
        sf.write(root / sub / "a.wav", speechlike(1.0, 16000), 16000)
    report = import_dataset("precise", root, tmp_path / "out", positive="wake-word")
    assert report.imported == 4
    store = Fleet(tmp_path / "out").store("spk-precise")
    assert sorted(c.label for c in store.clips()) == ["negative", "negative", "positive", "positive"]


def test_csv_layout_and_bad_arguments(tmp_path):
    root = tmp_path / "any"
    root.mkdir()
    rows = []
    for i, (speaker, label) in enumerate(
        [("ann", "wake"), ("ann", "other"), ("bob", "wake"), ("bob", "other")]
    ):
        sf.write(root / f"clip{i}.wav", speechlike(1.0, 22050), 22050)
        rows.append({"file": f"clip{i}.wav", "kind": label, "who": speaker})
    with open(root / "list.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "kind", "who"])
        writer.writeheader()
        writer.writerows(rows)
    columns = {"path": "file", "label": "kind", "speaker": "who"}
    report = import_dataset(
        "csv", root, tmp_path / "out", positive="wake", csv_path=root / "list.csv", columns=columns
    )
    assert report.imported == 4 and Fleet(tmp_path / "out").phone_ids() == ["spk-ann", "spk-bob"]
    with pytest.raises(ParameterError, match="missing column"):
        import_dataset("csv", root, tmp_path / "o2", positive="wake", csv_path=root / "list.csv")
    with pytest.raises(ParameterError, match="is not a label"):
        import_dataset(
            "csv", root, tmp_path / "o3", positive="yes", csv_path=root / "list.csv", columns=columns
        )
    with pytest.raises(ParameterError, match="no audio files"):
        import_dataset("fsdd", root, tmp_path / "o4", positive="1")


def test_real_speech_commands(shared_speech, tmp_path):
    source = shared_speech / "speech_commands_v0.02_testset_subset"
    result = run_wakeword(
        "data", "import", source, "--layout", "speech-commands", "--positive", "yes", "--out", tmp_path / "sc"
    )
    assert result.code == 0, result.stderr
    fleet = Fleet(tmp_path / "sc")
    positives = sum(len(fleet.store(p).clips(label="positive")) for p in fleet.phone_ids())
    assert positives >= 100 and len(fleet.phone_ids()) > 100
    # the shared subset holds byte-identical copies (e.g. yes/d0faf7e4_nohash_1 and _2): imported once
    assert "byte-identical duplicate of" in result.stdout
    assert check(tmp_path / "sc").ok


def test_real_precise_csv(shared_speech, tmp_path):
    source = shared_speech / "precise_community_data_pd_subset"
    result = run_wakeword(
        "data", "import", source, "--layout", "csv", "--positive", "hey computer", "--label-column", "text",
        "--speaker-column", "contributor", "--out", tmp_path / "precise",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "imported 172 clips" in result.stdout


def test_real_precise_owner_sets(shared_speech):
    """The personalization benchmark's real owner: 10 "hey computer" takes and 40 takes of other
    words, all by the same speaker."""
    import csv

    from data_tools import real_sets

    phrase = real_sets.precise_clips("hey computer", root=shared_speech)
    other = real_sets.precise_other_speech("hey computer", root=shared_speech)
    assert (len(phrase), len(other)) == (10, 40)
    folder = shared_speech / "precise_community_data_pd_subset"
    with open(folder / "metadata.csv", newline="") as handle:
        rows = {folder / r["path"]: r for r in csv.DictReader(handle)}
    assert {rows[p]["contributor"] for p in phrase + other} == {"el-tocino"}
    assert {rows[p]["kind"] for p in other} == {"negative_speech"}
    assert real_sets.precise_other_speech(root=shared_speech.parent / "absent") == []


def test_real_precise_speakers(shared_speech):
    """The Precise set's "computer" has two real owners, each one person's clips."""
    from data_tools import real_sets

    speakers = real_sets.precise_speakers("computer", root=shared_speech)
    assert speakers == ["el-tocino", "krisgesling"]
    clips = {s: real_sets.precise_clips("computer", speaker=s, root=shared_speech) for s in speakers}
    assert {s: len(c) for s, c in clips.items()} == {"el-tocino": 10, "krisgesling": 47}
    assert sorted(clips["el-tocino"] + clips["krisgesling"]) == real_sets.precise_clips(
        "computer", root=shared_speech
    )
    assert real_sets.precise_other_speech("computer", speaker="krisgesling", root=shared_speech) == []
    assert real_sets.precise_speakers("computer", root=shared_speech.parent / "absent") == []
