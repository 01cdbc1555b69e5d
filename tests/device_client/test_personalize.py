"""On-device personalization (`wakeword export --trainable`, `wakeword personalize`) with the real
TFLite interpreter on a trained model and synthetic owners' takes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pytest

from data_tools.server_audio import phrase_stream
from device_client.store import PhoneStore
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.audio import write_wav
from wakeword.scoring import TFLiteScorer
from wakeword.tflite_format import read_metadata

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trainable(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trainable") / "base.tflite"
    result = run_wakeword("export", trained_run, "--out", out, "--trainable", "--threshold", "0.6")
    assert result.code == 0, result.stderr[-2000:]
    assert "trainable" in result.stdout
    return out


@pytest.fixture(scope="module")
def owner(tmp_path_factory) -> Path:
    """A store of one held-out synthetic voice: 8 takes of the phrase and one of other speech."""
    root = tmp_path_factory.mktemp("owner") / "store"
    store = PhoneStore.create(root, phone_id="owner")
    stream = phrase_stream("hey computer", occurrences=8, other_speech=1, rng=np.random.default_rng(3))
    for start, end in stream.spans:
        lo, hi = round((start - 0.3) * 16000), round((end + 0.3) * 16000)
        store.add(stream.audio[lo:hi], label="positive", kind="phrase", text="hey computer", fsync=False)
    store.add(stream.audio[: 16000 * 3], label="negative", kind="speech", fsync=False)
    return root


@pytest.fixture(scope="module")
def personalized(trainable, owner, tmp_path_factory) -> tuple[Path, str]:
    """``trainable`` personalized on ``owner`` by `wakeword personalize`, and the store's digest
    taken before it ran."""
    before = _tree_digest(owner)
    out = tmp_path_factory.mktemp("personalized") / "mine.tflite"
    result = run_wakeword("personalize", "--model", trainable, "--store", owner, "--out", out)
    assert result.code == 0, result.stderr[-2000:]
    return out, before


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_tflite_train_step_matches_tensorflow(trainable, rng):
    """20 steps of the file's `train` signature give TensorFlow's losses and weights (1e-4), and
    the written-out gradients are a gradient tape's."""
    import tensorflow as tf

    from orchestrator.export_trainable import TRAIN_BATCH, learning_rate
    from orchestrator.trainable_tail import BLOCK_WEIGHTS, L2_TO_BASE, tail_logits, tail_step

    interpreter = tf.lite.Interpreter(model_content=trainable.read_bytes())
    train, save = interpreter.get_signature_runner("train"), interpreter.get_signature_runner("save")
    start = save()
    assert set(BLOCK_WEIGHTS) <= set(start)  # the default model's dense block trains too
    weights = {name: tf.Variable(value) for name, value in start.items()}
    epsilon = read_metadata(trainable)["trainable"]["epsilon"]
    negatives = interpreter.get_signature_runner("negatives")()["features"]
    assert negatives.shape[0] >= 200 and np.isfinite(negatives).all()
    for _ in range(20):
        features = rng.uniform(0, 2, (TRAIN_BATCH, start["hidden_kernel"].shape[0])).astype(np.float32)
        labels = (rng.random((TRAIN_BATCH, 1)) < 0.5).astype(np.float32)
        got = float(train(features=features, labels=labels)["loss"])
        loss, grads = tail_step(features, labels, weights, start, epsilon)
        with tf.GradientTape() as tape:
            logits = tail_logits(features, weights, epsilon)
            pull = tf.add_n([tf.reduce_sum((weights[n] - start[n]) ** 2) for n in weights])
            bce = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
            taped = bce + 0.5 * L2_TO_BASE * pull
        for name, grad in tape.gradient(taped, weights).items():
            np.testing.assert_allclose(grads[name], grad, atol=1e-6)
        for name, grad in grads.items():
            weights[name].assign_sub(learning_rate(name) * grad)
        assert abs(got - float(loss)) <= 1e-4
    end = save()
    for name, value in weights.items():
        np.testing.assert_allclose(end[name], value.numpy(), atol=1e-4)
    assert np.abs(end["hidden_kernel"] - start["hidden_kernel"]).max() > 1e-4  # it did train


def test_personalize_raises_the_owners_scores_and_loads_in_detect(trainable, owner, personalized, tmp_path):
    out, before = personalized
    assert _tree_digest(owner) == before  # the store is only read
    meta = read_metadata(out)
    assert meta["personalized"]["base_version"] == read_metadata(trainable)["model_version"]
    assert meta["personalized"]["takes"] + meta["personalized"]["held_out_takes"] == 8
    assert meta["threshold"] >= 0.6
    store = PhoneStore(owner)
    take = store.read(store.clips(label="positive")[0])
    best = {path: TFLiteScorer(path)(take).max() for path in (trainable, out)}
    assert best[out] > best[trainable]  # the owner's take scores higher
    wav = write_wav(tmp_path / "take.wav", np.concatenate([np.zeros(8000, np.float32), take]))
    result = run_wakeword("detect", "--model", out, wav)
    assert result.code == 0 and "threshold" in result.stdout, result.stderr[-2000:]
    again = tmp_path / "again.tflite"  # a personalized file starts again from its base model
    assert run_wakeword("personalize", "--model", out, "--store", owner, "--out", again).code == 0
    assert read_metadata(again)["personalized"] == {**meta["personalized"], "date": ANY}


def test_a_personalized_file_listens_live_as_it_detects_offline(owner, personalized, virtual_mic, tmp_path):
    """`wakeword listen` runs a personalized file on the virtual microphone (PulseAudio null sink)
    and reports as many phrases as `wakeword detect` finds in the same audio."""
    import json
    import signal

    from tests.helpers import LiveCommand

    out = personalized[0]
    store = PhoneStore(owner)
    silence = np.zeros(32000, np.float32)
    takes = [store.read(c) for c in store.clips(label="positive")[:3]]
    wav = write_wav(tmp_path / "takes.wav", np.concatenate([silence, *(np.r_[t, silence] for t in takes)]))
    offline = run_wakeword("detect", "--model", out, "--json", wav)
    assert offline.code == 0, offline.stderr[-2000:]
    found = len(json.loads(offline.stdout)["files"][0]["detections"])
    assert found >= 1, offline.stdout  # the owner's own takes, after personalizing on them
    cmd = LiveCommand("listen", "--model", out)
    cmd.wait_for("listening on")
    virtual_mic.play(wav).wait(timeout=60)
    cmd.proc.send_signal(signal.SIGINT)
    result = cmd.finish(timeout=60)
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    live = sum("detected 'hey computer'" in line for line in result.stdout.splitlines())
    assert live == found, result.stdout


def test_personalize_touches_nothing_but_its_output(trainable, owner, tmp_path):
    """Under an audit hook: no connection, no socket bound beyond loopback (urllib3 probes IPv6 on
    ::1 when TensorFlow imports it), nothing written in the store, and the only file left written
    is the output (via its temp)."""
    out = tmp_path / "mine.tflite"
    script = f"""
import os
import sys
from pathlib import Path
events = []
def audit(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        events.append("net " + event)
    if event == "socket.bind" and str(args[1][0]) not in ("::1", "127.0.0.1"):
        events.append("net bind " + str(args[1]))
    if event == "open" and isinstance(args[0], (str, Path)) and str(args[0]) != "/dev/null":
        mode, flags = args[1], args[2]
        if (mode and any(m in mode for m in "wax+")) or (not mode and flags & (os.O_WRONLY | os.O_RDWR)):
            events.append("write " + str(Path(args[0]).resolve()))
sys.addaudithook(audit)
from device_client.personalize import personalize
personalize({str(trainable)!r}, {str(owner)!r}, {str(out)!r})
print("\\n".join(events))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    events = [line for line in result.stdout.splitlines() if line]
    assert not [e for e in events if e.startswith("net ")], events
    written = {Path(e.split(" ", 1)[1]) for e in events if e.startswith("write ")}
    # besides the output's folder, only Python's own writability probe of the temp folder (deleted)
    assert any(p.parent == out.parent.resolve() for p in written), written
    assert all(p.parent == out.parent.resolve() or not p.exists() for p in written), written
    assert not [p for p in written if str(p).startswith(str(owner.resolve()))]
    assert out.is_file()


def test_personalize_errors(trainable, owner, tmp_path):
    exported = tmp_path / "plain.tflite"
    exported.write_bytes(Path(trainable).read_bytes())
    meta = read_metadata(exported)
    from wakeword.tflite_format import embed_metadata

    exported.write_bytes(embed_metadata(exported.read_bytes(), {**meta, "trainable": None}))
    out = tmp_path / "mine.tflite"
    assert_one_line_error(
        run_wakeword("personalize", "--model", exported, "--store", owner, "--out", out), "plain.tflite"
    )
    older = tmp_path / "older.tflite"  # a trainable file from before the `logits` signature
    signatures = [name for name in meta["trainable"]["signatures"] if name != "logits"]
    trainable_meta = {**meta["trainable"], "signatures": signatures}
    older.write_bytes(embed_metadata(Path(trainable).read_bytes(), {**meta, "trainable": trainable_meta}))
    assert_one_line_error(
        run_wakeword("personalize", "--model", older, "--store", owner, "--out", out), "export it again"
    )
    few = PhoneStore.create(tmp_path / "few", phone_id="few")
    few.add(np.zeros(16000, np.float32) + 0.01, label="positive", kind="phrase", fsync=False)
    assert_one_line_error(
        run_wakeword("personalize", "--model", trainable, "--store", few.root, "--out", out), "few"
    )
    assert_one_line_error(
        run_wakeword("personalize", "--model", trainable, "--store", tmp_path / "none", "--out", out), "none"
    )
    assert not out.exists()
