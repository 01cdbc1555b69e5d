"""The phone store: atomic takes, manifest, deletion, erasure, quota, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest

from device_client.store import PhoneStore, sha256_file
from tests.conftest import tone
from wakeword.errors import AudioNonFiniteError, ParameterError, StoreError, StoreFullError


def make_store(tmp_path, **kwargs) -> PhoneStore:
    return PhoneStore.create(tmp_path / "phone", phone_id="phone-a", **kwargs)


def test_add_list_read(tmp_path):
    store = make_store(tmp_path, info={"owner": "test"})
    clip = store.add(
        tone(440.0, 1.0), label="positive", kind="recorded", text="hey computer", span=(0.1, 0.9)
    )
    assert store.info == {"owner": "test"}
    [listed] = store.clips()
    assert listed == clip and listed.duration == 1.0 and listed.span == (0.1, 0.9)
    assert listed.sha256 == sha256_file(store.path(clip))
    np.testing.assert_allclose(store.read(clip), tone(440.0, 1.0), atol=1 / 32768)
    assert store.clips(label="negative") == []
    reopened = PhoneStore(store.root)
    assert reopened.phone_id == "phone-a" and reopened.clips() == [clip]


def test_bad_takes_change_nothing(tmp_path):
    store = make_store(tmp_path)
    store.add(tone(440.0, 0.5), label="negative", kind="noise", clip_id="a")
    manifest = (store.root / "manifest.json").read_bytes()
    bad = tone(440.0, 0.5)
    bad[0] = np.inf
    with pytest.raises(AudioNonFiniteError):
        store.add(bad, label="negative", kind="noise")
    with pytest.raises(ParameterError, match="label"):
        store.add(tone(440.0, 0.5), label="maybe", kind="noise")
    with pytest.raises(StoreError, match="already exists"):
        store.add(tone(440.0, 0.5), label="negative", kind="noise", clip_id="a")
    assert (store.root / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in (store.root / "audio").iterdir()) == ["a.wav"]


def test_batch_is_all_or_nothing(tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(RuntimeError), store.batch():
        store.add(tone(440.0, 0.5), label="negative", kind="noise", clip_id="x")
        raise RuntimeError("crash mid-batch")
    assert store.clips() == [] and list((store.root / "audio").iterdir()) == []
    with store.batch():
        for i in range(3):
            store.add(tone(440.0, 0.5), label="negative", kind="noise", clip_id=f"n{i}")
    assert [c.clip_id for c in store.clips()] == ["n0", "n1", "n2"]


def test_delete_and_erase(tmp_path):
    store = make_store(tmp_path)
    a = store.add(tone(440.0, 0.5), label="negative", kind="noise")
    b = store.add(tone(660.0, 0.5), label="negative", kind="noise")
    store.delete(a.clip_id)
    assert store.clips() == [b] and not store.path(a).exists()
    with pytest.raises(StoreError, match="no clip"):
        store.delete(a.clip_id)
    store.erase()
    assert not store.root.exists()
    with pytest.raises(StoreError, match="not a phone store"):
        PhoneStore(store.root)


def test_quota(tmp_path):
    store = make_store(tmp_path, quota_bytes=50_000)
    store.add(tone(440.0, 1.0), label="negative", kind="noise")  # 32 kB
    with pytest.raises(StoreFullError, match="store full"):
        store.add(tone(440.0, 1.0), label="negative", kind="noise")
    assert len(store.clips()) == 1


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    store = make_store(tmp_path)
    (store.root / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="corrupt manifest"):
        PhoneStore(store.root)
    (store.root / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(StoreError, match="not a wakeword store"):
        PhoneStore(store.root)


def _writer(root: str, prefix: str, count: int) -> None:
    store = PhoneStore(root)
    for i in range(count):
        store.add(tone(200.0 + i, 0.2), label="negative", kind="recorded", clip_id=f"{prefix}-{i}")


def test_concurrent_writers_keep_every_take(tmp_path):
    store = make_store(tmp_path)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(store.root), name, 15)) for name in ("a", "b")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    ids = sorted(c.clip_id for c in store.clips())
    assert ids == sorted([f"a-{i}" for i in range(15)] + [f"b-{i}" for i in range(15)])
