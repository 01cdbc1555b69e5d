"""Real recorded speech for the server (Debian's Asterisk prompts, installed by `make setup`)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from data_tools.fleet import PUBLIC_SPLIT, Fleet, write_fleet_description
from data_tools.public_speech import (
    PACKAGES,
    SOUNDS_DIR,
    add_public_speech,
    public_speech_files,
)
from device_client.store import PhoneStore
from wakeword.audio import load_audio
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import StoreError


def test_the_installed_packages_hold_five_voices_of_real_prompts():
    voices = public_speech_files()
    assert sorted(voices) == sorted(PACKAGES.values())
    assert sum(len(files) for files in voices.values()) > 2500  # 2,781 in Debian 12's packages
    assert not any("silence" in p.parts for files in voices.values() for p in files)


@pytest.fixture
def few_prompts(tmp_path):
    """Three real prompts of each voice in a folder laid out like SOUNDS_DIR."""
    for folder, files in public_speech_files().items():
        (tmp_path / "sounds" / folder).mkdir(parents=True)
        for path in files[:3]:
            shutil.copy(path, tmp_path / "sounds" / folder / path.name)
    return tmp_path / "sounds"


def test_prompts_become_negative_phones_trimmed_at_16khz(few_prompts, tmp_path):
    entries = add_public_speech(tmp_path / "fleet", root=few_prompts)
    assert [e["split"] for e in entries] == [PUBLIC_SPLIT] * 5
    assert [e["phone_id"] for e in entries] == [f"public-{folder}-0" for folder in PACKAGES.values()]
    for entry in entries:
        clips = PhoneStore(tmp_path / "fleet" / entry["path"]).clips()
        assert len(clips) == 3 and {(c.label, c.kind) for c in clips} == {("negative", "imported")}
        source = load_audio(few_prompts / clips[0].params["source"])
        stored = load_audio(tmp_path / "fleet" / entry["path"] / clips[0].file)
        assert 0.1 * SAMPLE_RATE <= stored.size <= source.size  # resampled from 8 kHz, silence trimmed
        assert np.abs(stored).max() > 0.01
    # again: every phone is there already, nothing is rewritten
    stamp = (tmp_path / "fleet" / entries[0]["path"] / "manifest.json").stat().st_mtime_ns
    assert add_public_speech(tmp_path / "fleet", root=few_prompts) == entries
    assert (tmp_path / "fleet" / entries[0]["path"] / "manifest.json").stat().st_mtime_ns == stamp


def test_a_share_keeps_prompts_spread_over_each_voice(few_prompts, tmp_path):
    entries = add_public_speech(tmp_path / "fleet", root=few_prompts, share=0.5)
    counts = [len(PhoneStore(tmp_path / "fleet" / e["path"]).clips()) for e in entries]
    assert counts == [2] * 5  # first and last of three


def test_a_missing_package_names_it_and_how_to_install(few_prompts, tmp_path):
    shutil.rmtree(few_prompts / "fr_CA_f_June")
    with pytest.raises(StoreError, match=r"fr_CA_f_June.*make setup.*asterisk-core-sounds-fr-wav"):
        add_public_speech(tmp_path / "fleet", root=few_prompts)
    assert not (tmp_path / "fleet" / "phones").exists() or not any((tmp_path / "fleet" / "phones").iterdir())


def test_public_phones_train_but_never_validate(few_prompts, tmp_path):
    root = tmp_path / "fleet"
    root.mkdir()
    phones = [{"phone_id": f"phone-{i}", "split": "train", "path": f"phones/phone-{i}"} for i in range(4)]
    write_fleet_description(root, {"phrase": "computer", "seed": 1, "settings": {}, "phones": phones,
                                   "background": []})  # fmt: skip
    before = Fleet(root)
    public = add_public_speech(root, root=few_prompts)
    write_fleet_description(
        root, {**json.loads((root / "fleet.json").read_text()), "phones": phones + public}
    )
    fleet = Fleet(root)
    assert fleet.validation_ids() == before.validation_ids()
    assert fleet.training_ids() == before.training_ids() + [e["phone_id"] for e in public]
    assert fleet.phone_ids("public") == [e["phone_id"] for e in public]


def test_sounds_dir_is_where_debian_installs_them():
    assert SOUNDS_DIR.as_posix() == "/usr/share/asterisk/sounds"
