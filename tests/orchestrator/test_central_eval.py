"""The centralized baseline and `wakeword eval` on a tiny fleet, through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from models import DEFAULT_MODEL
from orchestrator.evaluation import EvalConfig, fleet_word_strings
from orchestrator.run import code_fingerprint, load_run
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.errors import ParameterError


@pytest.fixture(scope="module")
def central_run(tiny_fleet, tmp_path_factory):
    out = tmp_path_factory.mktemp("central") / "run"
    result = run_wakeword("train", "--central", "--fleet", tiny_fleet.root, "--out", out, "--epochs", "2")
    assert result.code == 0, result.stderr[-2000:]
    assert "2 epochs" in result.stdout or "early stop" in result.stdout + result.stderr
    return out


def test_central_run_is_saved(central_run):
    classifier, description, window = load_run(central_run)
    assert description.mode == "central" and description.model == DEFAULT_MODEL
    assert classifier.input_shape == (None, window.frames, window.features.n_mels)
    assert len(description.history) == 2 and "val_loss" in description.history[0]
    assert description.settings["weight_average"] == 0.999  # the run keeps the weights' average
    # which code made it: what the benchmarks compare before reusing a run
    assert description.code == code_fingerprint() and len(code_fingerprint()) == 12


def test_benchmarks_retrain_a_run_made_by_other_code(central_run, tmp_path, monkeypatch):
    import shutil

    from bench import training

    monkeypatch.setattr(training, "OUT", tmp_path)
    run = tmp_path / "central-tc_resnet"
    shutil.copytree(central_run, run)
    assert training._finished(run)  # same code: reused
    description = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**description, "code": "0123456789ab"}))
    assert not training._finished(run)  # other code: moved aside, to be trained again
    assert not run.exists() and (tmp_path / "stale" / "central-tc_resnet-0123456789ab" / "run.json").exists()


def test_central_init_from_starts_at_a_saved_model(central_run, tiny_fleet, tmp_path):
    """Central fine-tuning from a run: with a step too small to move it and `--keep best`, it keeps
    that model (the starting model is the best so far); a model of another width is refused before
    any work."""
    out = tmp_path / "fine"
    args = ("train", "--central", "--fleet", tiny_fleet.root, "--init-from", central_run, "--epochs", "1",
            "--keep", "best")  # fmt: skip
    result = run_wakeword(*args, "--out", out, "--learning-rate", "1e-12")
    assert result.code == 0, result.stderr[-2000:]
    assert "--init-from" in result.stdout + result.stderr
    start, fine = load_run(central_run)[0], load_run(out)[0]
    for a, b in zip(start.get_weights(), fine.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert load_run(out)[1].settings["init_from"] == str(central_run)
    wide = run_wakeword(*args, "--out", tmp_path / "wide", "--width", "1.5")
    assert_one_line_error(wide, "same --model and --width")
    assert not (tmp_path / "wide").exists()


def test_training_keeps_the_mean_of_the_steps_weights_then_an_exponential_average():
    """Step t's weights enter the average with momentum min(momentum, 1 - 1/t): the plain mean of
    the steps until 1 / (1 - momentum) steps, then exponential; ``fit`` ends on the average."""
    import tensorflow as tf

    from orchestrator.central import _averaged_adam

    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    plain_mean = lambda w: np.mean(w, axis=0)  # noqa: E731  (4 steps, fewer than 1 / (1 - 0.999))
    then_halves = lambda w: 0.5 * (0.5 * np.mean(w[:2], axis=0) + 0.5 * w[2]) + 0.5 * w[3]  # noqa: E731
    for momentum, expect in ((0.999, plain_mean), (0.5, then_halves)):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        model.compile(optimizer=_averaged_adam(0.1, momentum), loss="mse")
        steps = []
        record = tf.keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda *_: steps.append(model.get_weights()[0].copy())  # noqa: B023
        )
        model.fit(x, x.sum(axis=1, keepdims=True), batch_size=10, epochs=1, verbose=0, callbacks=[record])
        assert len(steps) == 4 and np.abs(steps[3] - steps[0]).max() > 0.05  # the steps moved
        np.testing.assert_allclose(model.get_weights()[0], expect(np.array(steps)), atol=1e-6)


def test_a_run_keeps_the_last_epoch_or_the_best_one(monkeypatch):
    """keep="last" runs every epoch and keeps the last weights; keep="best" keeps the lowest
    validation loss's and stops after `patience` epochs without a better one."""
    import tensorflow as tf

    from orchestrator import central

    losses = [0.3, 0.1, 0.2, 0.25, 0.05]

    def scripted_epoch(classifier, _paths, _val, _config, epoch):  # weights = the epoch's index
        classifier.set_weights([np.full_like(w, epoch) for w in classifier.get_weights()])
        return {"epoch": epoch + 1, "train_loss": 0.0, "val_loss": losses[epoch], "val_auc": 1.0,
                "seconds": 0.0}, losses[epoch]  # fmt: skip

    monkeypatch.setattr(central, "_epoch", scripted_epoch)
    for keep, patience, kept, ran in (("last", 1, 4, 5), ("best", 4, 4, 5), ("best", 1, 1, 3)):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        config = central.CentralConfig(keep=keep, patience=patience, epochs=5)
        history, best = central._train_epochs(model, [], None, config, progress=None, log=lambda _: None)
        assert (len(history), float(model.get_weights()[0][0, 0])) == (ran, kept), keep
        assert best == min(losses[:ran])
    with pytest.raises(ParameterError, match="`keep`"):
        central.CentralConfig(keep="first")


def test_eval_writes_a_report_and_a_det_plot(central_run, tiny_fleet, tmp_path):
    result = run_wakeword(
        "eval", "--model", central_run, "--fleet", tiny_fleet.root, "--out", tmp_path / "eval"
    )
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["test"]["positives"] == 5  # one held-out phone, 5 positives
    assert report["test"]["negative_hours"] > 0
    assert 0 <= report["test"]["frr"] <= 1 and report["test"]["fa_per_hour"] >= 0
    assert set(report["test"]["hard_negative_accept_rate"]) == {"partial", "soundalike"}
    # --word-strings-apart: the held-out phone's word strings as a share accepted, not in FA/h
    (held_out,) = [tiny_fleet.store(p) for p in tiny_fleet.phone_ids("test")]
    speech = [c for c in held_out.clips() if c.kind == "speech"]
    words = [
        c for c in speech if fleet_word_strings(tiny_fleet, EvalConfig(word_strings_in_fa=False))(c.text)
    ]
    assert 0 < len(words) < len(speech)
    apart = run_wakeword(
        "eval", "--model", central_run, "--fleet", tiny_fleet.root, "--out", tmp_path / "apart",
        "--word-strings-apart", "--threshold-rule", "count",
    )  # fmt: skip
    assert apart.code == 0, apart.stderr[-2000:]
    apart_test = json.loads((tmp_path / "apart" / "report.json").read_text())["test"]
    assert set(apart_test["hard_negative_accept_rate"]) == {"partial", "soundalike", "word_string"}
    words_hours = sum(c.duration for c in words) / 3600
    assert apart_test["negative_hours"] == pytest.approx(
        report["test"]["negative_hours"] - words_hours, abs=2e-4
    )
    assert list(report["per_phone"]) == tiny_fleet.phone_ids("test")
    budgets = report["test_oracle_by_budget"]  # the test DET curve read at a few FA/h budgets
    assert list(budgets) == ["0.5", "1", "2", "5"] and budgets["0.5"]["frr"] == report["test_oracle"]["frr"]
    assert [b["frr"] for b in budgets.values()] == sorted((b["frr"] for b in budgets.values()), reverse=True)
    assert "oracle FRR by budget" in result.stdout
    set_by = report["threshold_set_by"]  # the validation negatives the threshold had to clear
    peaks = [n["peak"] for n in set_by]
    assert len(set_by) == 5 and peaks == sorted(peaks, reverse=True) and 0 <= peaks[-1] <= peaks[0] <= 1
    validation = tiny_fleet.validation_ids() + [s.phone_id for s in tiny_fleet.streams("validation")]
    assert all(n["source"].split("/")[0].split(" ")[0] in validation for n in set_by)
    assert "highest validation negatives:" in result.stdout and set_by[0]["source"] in result.stdout
    groups = report["per_voice_group"]  # every held-out phone in exactly one group, clips pooled
    assert sum(g["phones"] for g in groups.values()) == len(tiny_fleet.phone_ids("test"))
    assert sum(g["positives"] for g in groups.values()) == report["test"]["positives"]
    (group,) = groups  # the one held-out phone's accent
    assert group.startswith(("espeak-ng en", "flite")) and groups[group]["frr"] == report["test"]["frr"]
    assert "voice group" in result.stdout and group in result.stdout
    assert len(report["det_curve"]) > 100
    assert "threshold" in result.stdout and "FRR" in result.stdout
    assert Image.open(tmp_path / "eval" / "det.png").size[0] >= 400


def test_keras_and_tflite_score_the_same(central_run, tiny_fleet):
    import tensorflow as tf

    from models import with_frontend
    from wakeword.scoring import KerasScorer, TFLiteScorer

    classifier, _, window = load_run(central_run)
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(
        with_frontend(classifier, window_samples=window.samples, features=window.features)
    ).convert()
    keras, tflite = KerasScorer(classifier, window), TFLiteScorer(flatbuffer, window)
    store = tiny_fleet.store(tiny_fleet.phone_ids("test")[0])
    for clip in store.clips()[:6]:
        audio = store.read(clip)
        np.testing.assert_allclose(tflite(audio), keras(audio), atol=2e-3)


def test_eval_errors(tiny_fleet, tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    assert_one_line_error(
        run_wakeword("eval", "--model", bad, "--fleet", tiny_fleet.root), "model.tflite", "not a TFLite model"
    )
    assert_one_line_error(
        run_wakeword("eval", "--model", tmp_path, "--fleet", tiny_fleet.root), "not a training run"
    )
    assert_one_line_error(
        run_wakeword("eval", "--model", tmp_path / "none", "--fleet", tiny_fleet.root), "no such run"
    )


def test_oracle_by_budget_reads_the_det_curve_at_each_budget():
    from orchestrator.evaluation import oracle_by_budget
    from wakeword.metrics import THRESHOLDS

    n = len(THRESHOLDS)
    fa = np.linspace(10, 0, n)  # false accepts fall and false rejects rise with the threshold
    frr = np.linspace(0, 1, n)
    out = oracle_by_budget(frr, fa, (5.0, 0.5, -1.0))
    assert list(out) == ["5", "0.5", "-1"]
    # the lowest threshold with fa <= budget: 10 - 10 i / (n - 1) <= 5 first at i = ceil((n - 1) / 2)
    i = int(np.ceil((n - 1) / 2))
    assert out["5"] == {"threshold": THRESHOLDS[i], "frr": frr[i], "fa_per_hour": fa[i]}
    i = int(np.ceil(0.95 * (n - 1)))
    assert out["0.5"]["frr"] == frr[i] and out["0.5"]["fa_per_hour"] <= 0.5 < fa[i - 1]
    assert out["-1"]["threshold"] == THRESHOLDS[-1]  # no threshold meets it: the highest one


def test_a_head_on_the_speech_embedding_trains_exports_and_streams(tiny_fleet, tmp_path):
    """speech_dnn reads the frozen embedding: its phones cache embeddings (not log-mel), its run
    keeps the 80 ms window, its default export is the float16 streaming file, and that file scores
    every window of held-out clips as the Keras model does."""
    from wakeword.scoring import KerasScorer, TFLiteScorer

    run, out = tmp_path / "run", tmp_path / "m.tflite"
    result = run_wakeword(
        "train",
        "--central",
        "--model",
        "speech_dnn",
        "--fleet",
        tiny_fleet.root,
        "--out",
        run,
        "--epochs",
        "2",
    )
    assert result.code == 0, result.stderr[-2000:]
    classifier, _, window = load_run(run)
    assert window.features.kind == "speech_embedding" and window.frames == 16 and window.stride_ms == 80
    phone = tiny_fleet.root / "phones" / tiny_fleet.training_ids()[0] / "cache"
    assert (phone / "embedding.tfrecord").is_file() and (phone / "embedding.key").is_file()
    result = run_wakeword("export", run, "--out", out)
    assert result.code == 0, result.stderr[-2000:]
    assert "float16" in result.stdout and "streaming (80 ms" in result.stderr + result.stdout
    keras, tflite = KerasScorer(classifier, window), TFLiteScorer(out, window)
    store = tiny_fleet.store(tiny_fleet.phone_ids("test")[0])
    for clip in [c for c in store.clips() if c.kind != "stream"][:4]:
        audio = store.read(clip)
        np.testing.assert_allclose(tflite(audio), keras(audio), atol=0.02)  # float16 weights


def test_server_voices_bench_pools_fleets_by_link(tiny_fleet, tmp_path):
    """bench.server_voices' pooled fleet lists every fleet's phones once, linked, with their splits;
    a bad variant is a one-line argparse error."""
    import argparse
    import shutil

    from bench.server_voices import parse_variant, pooled_fleet, results_name
    from data_tools.fleet import Fleet

    assert parse_variant("366:0.33") == (366, 0.33)
    # runs at once write apart: the file names what was measured
    name = results_name("hey computer", [(122, 1.0)], [1, 2], {"server_confusables": 20})
    assert name == "server_voices-hey-computer-122x1-seeds1_2-server_confusables=20"
    for bad, says in [("122", "VOICES:SHARE"), ("1:0.5", "server_voices"), ("122:2", "server_clip_share")]:
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            parse_variant(bad)
    fleets = []
    for name in ("122x1", "366x0.33"):
        folder = tmp_path / "computer" / name / "fleet"
        shutil.copytree(tiny_fleet.root, folder, symlinks=True)
        fleets.append(folder)
    pooled = Fleet(pooled_fleet(fleets))
    ids = tiny_fleet.phone_ids("train")
    assert pooled.phone_ids("train") == [f"v{k}-{p}" for k in range(2) for p in ids]
    assert len(pooled.phone_ids("test")) == 2 * len(tiny_fleet.phone_ids("test"))
    first = pooled.store(f"v1-{ids[0]}")
    assert first.root.is_symlink() and first.root.resolve() == (fleets[1] / "phones" / ids[0]).resolve()
    assert len(first.clips()) == len(tiny_fleet.store(ids[0]).clips())


def test_threshold_rules():
    from orchestrator.evaluation import choose_threshold
    from wakeword.metrics import NegativeScores

    with pytest.raises(ParameterError, match="threshold rule"):
        EvalConfig(threshold_rule="max")
    # 3 h of negatives whose peaks fall off in logit, and one clip far above them: the counted
    # rule clears that clip, the tail rule reads the curve the others draw
    rng = np.random.default_rng(0)
    peaks = 1 / (1 + np.exp(-rng.exponential(1.0, size=1000)))
    outliers = [0.99999, 0.99998]
    negatives = [NegativeScores(np.array([p], np.float32), 10.8, "") for p in [*peaks, *outliers]]
    count, rule = choose_threshold(negatives, EvalConfig(threshold_rule="count"))
    tail, tail_rule = choose_threshold(negatives, EvalConfig())
    assert count > 0.99998 and 0.9 < tail < 0.9999 and (rule, tail_rule) == ("count", "tail")
    # too few hours for the fit (a third of them): the counted rule, said so
    assert choose_threshold(negatives[::3], EvalConfig())[1] == "count"
