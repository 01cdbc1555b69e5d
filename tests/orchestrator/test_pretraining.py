"""The default recipe (`wakeword train` with no recipe flags): server pre-training, then federated
fine-tuning; the server model is cached and reused; a kill -9 in either phase resumes to the same
weights."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import DEFAULT_MODEL
from orchestrator.pretraining import SERVER_CACHE_ENV, PretrainConfig, server_path
from orchestrator.run import load_run
from wakeword.errors import ParameterError

TINY = ["--server-voices", "3", "--server-clip-share", "0.1", "--server-epochs", "2", "--rounds", "3",
        "--clients-per-round", "3"]  # fmt: skip


def _train(fleet: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "wakeword", "train", "--fleet", str(fleet), "--out", str(out), *TINY, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", SERVER_CACHE_ENV: str(cache)},
    )  # fmt: skip


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return out + err


def _kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + 600
    while not ready():
        assert proc.poll() is None, f"finished before {what}: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {what} in 10 minutes"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def _weights(run: Path) -> list[np.ndarray]:
    return load_run(run)[0].get_weights()


def _assert_same(a: Path, b: Path) -> None:
    for x, y in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(x, y, atol=1e-6)


@pytest.fixture(scope="module")
def default_run(tiny_fleet, tmp_path_factory):
    """One uninterrupted run of the default recipe, with its own server cache."""
    root = tmp_path_factory.mktemp("recipe")
    log = _finish(_train(tiny_fleet.root, root / "run", root / "cache"))
    return root, log


def test_both_phases_run_and_are_recorded(default_run, tiny_fleet):
    root, log = default_run
    config = PretrainConfig(server_voices=3, server_clip_share=0.1, server_epochs=2)
    server = server_path(tiny_fleet.phrase, config, model=DEFAULT_MODEL, width=1.0, cache=root / "cache")
    assert "server pre-training: 3 voices the server synthesizes itself" in log
    assert (server / "model.keras").is_file() and not (server.parent / "fleet").exists()
    # 2 of the 3 server voices train (one validates), beside 5 phones of real prompts (one per voice)
    assert json.loads((server / "run.json").read_text())["training_phones"] == 2 + 5
    run = json.loads((root / "run" / "run.json").read_text())
    assert run["settings"]["init_from"] == str(server)
    pre, fine = run["phases"]
    assert pre["phase"] == "server pre-training" and not pre["reused"] and pre["epochs"] >= 1
    assert fine["phase"] == "federated fine-tuning" and fine["rounds"] == 3 == len(run["history"])
    for phase in (pre, fine):  # the federated evaluation on the validation phones after each phase
        assert 0 < phase["validation"]["loss"] < 5 and 0 <= phase["validation"]["accuracy"] <= 1
    assert "federated fine-tuning: " in log and "validation phones after it: loss" in log


def test_the_run_keeps_the_phase_that_misses_fewer_validation_phrases(default_run, tiny_fleet):
    """Each phase's validation FRR at 0.5 FA/h, counted by the phones in their client computations,
    is what `wakeword eval` finds from the audio; model.keras is the better phase's model."""
    from orchestrator.evaluation import evaluate_fleet
    from wakeword.scoring import KerasScorer

    root, log = default_run
    run = json.loads((root / "run" / "run.json").read_text())
    selection, phases = run["selection"], run["phases"]
    models = {"start": run["settings"]["init_from"], "final": None}
    for name, phase in zip(("start", "final"), phases):
        counted = selection[name]
        assert phase["validation"]["frr"] == counted["frr"]
        assert phase["kept"] == (selection["shipped"] == name)
        if models[name] is not None:  # the start model, evaluated from the audio
            classifier, _, window = load_run(models[name])
            report = evaluate_fleet(KerasScorer(classifier, window), tiny_fleet, split="validation")
            assert report.threshold == counted["threshold"]
            assert report.validation["frr"] == pytest.approx(counted["frr"], abs=1e-5)
            assert report.validation["fa_per_hour"] == pytest.approx(counted["fa_per_hour"], abs=1e-3)
    better = "start" if selection["start"]["frr"] < selection["final"]["frr"] else "final"
    assert selection["shipped"] == better and "validation phrases missed at 0.5 FA/h: start" in log
    kept = _weights(root / "run")
    same = all(np.array_equal(a, b) for a, b in zip(kept, _weights(Path(models["start"]))))
    assert same == (better == "start")


# phase 1 has no checkpoints: a resumed run makes it again, the same (slow, 75-95 s: the default
# suite runs phase 1 from the start in `default_run`, and the kill -9 resume test below)
@pytest.mark.slow
def test_kill_9_in_the_server_phase_resumes_to_the_same_weights(default_run, tiny_fleet, tmp_path):
    cache = tmp_path / "cache"
    crashed = _train(tiny_fleet.root, tmp_path / "run", cache)
    _kill_when(crashed, lambda: any(cache.glob("*/fleet/phones/*/manifest.json")), "server voice")
    assert not any(cache.glob("*/model/run.json"))  # killed in phase 1
    log = _finish(_train(tiny_fleet.root, tmp_path / "run", cache, "--resume"))
    assert "server pre-training: 3 voices" in log
    _assert_same(default_run[0] / "run", tmp_path / "run")


def test_a_second_run_reuses_the_server_model_and_resumes_after_kill_9(default_run, tiny_fleet, tmp_path):
    root, _ = default_run
    server = Path(json.loads((root / "run" / "run.json").read_text())["settings"]["init_from"])
    stamp = (server / "model.keras").stat().st_mtime_ns
    crashed = _train(tiny_fleet.root, tmp_path / "run", root / "cache")
    latest = tmp_path / "run" / "checkpoints" / "latest.json"
    _kill_when(crashed, lambda: latest.exists() and json.loads(latest.read_text())["round"] >= 1, "round")
    assert not (tmp_path / "run" / "run.json").exists()
    refused = _train(tiny_fleet.root, tmp_path / "run", root / "cache")  # a run is there: say --resume
    _, err = refused.communicate(timeout=600)
    assert refused.returncode == 1 and "--resume" in err and "Traceback" not in err
    log = _finish(_train(tiny_fleet.root, tmp_path / "run", root / "cache", "--resume"))
    assert f"server pre-training: reusing {server}" in log and "resuming after round" in log
    assert (server / "model.keras").stat().st_mtime_ns == stamp
    _assert_same(root / "run", tmp_path / "run")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [row["round"] for row in run["history"]] == [1, 2, 3]
    assert run["phases"][0]["reused"] and run["phases"][0]["validation"]["loss"] > 0
    assert not run["phases"][0]["shipped"]


def test_settings_are_checked():
    with pytest.raises(ParameterError, match="`server_voices`"):
        PretrainConfig(server_voices=1)
    with pytest.raises(ParameterError, match="`server_epochs`"):
        PretrainConfig(server_epochs=0)
    with pytest.raises(ParameterError, match="`server_public_speech`"):
        PretrainConfig(server_public_speech="librispeech")
    where = {"model": DEFAULT_MODEL, "width": 1.0, "cache": Path("/cache")}
    with_prompts = server_path("computer", PretrainConfig(), **where)
    assert with_prompts != server_path("computer", PretrainConfig(server_public_speech="none"), **where)
    with pytest.raises(ParameterError, match="`server_pronunciation_variants`"):
        PretrainConfig(server_pronunciation_variants=2)
    old = {"server_confusables": 0, "server_sentences": "templates+words", "server_soundalike_changes": "any"}
    varied, plain = (PretrainConfig(server_pronunciation_variants=share, **old) for share in (0.25, 0.0))
    assert varied.fleet_config("computer").pronunciation_variants == 0.25
    assert server_path("computer", varied, **where) != server_path("computer", plain, **where)
    natural = PretrainConfig()  # WordNet's sentences among the other people's
    assert natural.fleet_config("computer").sentences == "wordnet+words"
    assert server_path("computer", natural, **where) != server_path("computer", varied, **where)
    # a setting at the value it had before it existed leaves the server models' keys as they were
    # (the "hey computer" model shipped before pronunciation variants, confusables, sentences and
    # consonant-only sound-alikes)
    assert server_path("hey computer", plain, **where).parent.name == "hey-computer-6dcb23d500a4"
    # the server makes no streams: how a fleet's streams are made leaves its key as it was
    assert server_path("hey computer", PretrainConfig(), **where).parent.name == "hey-computer-c7fb56c83652"
    with pytest.raises(ParameterError, match="`server_confusables`"):
        PretrainConfig(server_confusables=-1)
    consonant = PretrainConfig(**{**old, "server_soundalike_changes": "consonant"})
    assert consonant.fleet_config("computer").soundalike_changes == "consonant"
    assert server_path("computer", consonant, **where) != server_path("computer", plain, **where)
    confusing = PretrainConfig(server_confusables=20, server_clip_share=0.5)
    assert confusing.fleet_config("computer").confusables == 10  # scaled like the other clips
    assert server_path("computer", confusing, **where) != server_path("computer", varied, **where)


def test_a_shipped_server_model_is_used_before_the_cache(default_run, tiny_fleet, tmp_path, monkeypatch):
    from orchestrator import pretraining

    config = PretrainConfig(server_voices=3, server_clip_share=0.1, server_epochs=2)
    where = {"model": DEFAULT_MODEL, "width": 1.0}
    made = server_path(tiny_fleet.phrase, config, **where, cache=default_run[0] / "cache")
    shipped = server_path(tiny_fleet.phrase, config, **where, cache=tmp_path / "shipped")
    shutil.copytree(made, shipped)
    monkeypatch.setattr(pretraining, "SHIPPED_SERVER_MODELS", tmp_path / "shipped")
    lines = []
    got = pretraining.server_model(
        tiny_fleet.phrase, config, **where, cache=tmp_path / "empty", log=lines.append
    )
    assert got == shipped and lines == [f"server pre-training: reusing {shipped} (shipped with wakeword)"]
    assert not (tmp_path / "empty").exists()  # nothing synthesized, nothing cached


def test_the_default_phrase_ships_its_server_model_for_todays_settings():
    """Changing what shapes the default server model (FleetConfig's or PretrainConfig's defaults)
    changes its key: make the shipped model again (docs/BENCHMARKS.md, section 7)."""
    from orchestrator.pretraining import existing_server_model, shipped_server_models

    run = existing_server_model("hey computer", PretrainConfig(), model=DEFAULT_MODEL, width=1.0,
                                cache=Path("/nonexistent"))  # fmt: skip
    assert run is not None and run.is_relative_to(shipped_server_models()), "no shipped server model"
    model, description, _window = load_run(run)
    assert description.phrase == "hey computer" and model.count_params() == description.parameters
