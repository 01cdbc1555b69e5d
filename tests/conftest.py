"""Shared fixtures: a seeded rng, synthesized speech, generated audio files, the shared recordings."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite synthesizes its neural takes and trains its server models itself, in temporary
# caches removed when it ends (not the user's ~/.cache/wakeword). Under pytest-xdist the controller
# makes them and its workers inherit them: the TTS cache is shared (entries are written whole, then
# renamed), the server cache gets a folder per worker (two workers never build one model at once).
if "WAKEWORD_TTS_CACHE" not in os.environ:
    os.environ["WAKEWORD_TTS_CACHE"] = tempfile.mkdtemp(prefix="wakeword-test-tts-")
    atexit.register(shutil.rmtree, os.environ["WAKEWORD_TTS_CACHE"], ignore_errors=True)
if "WAKEWORD_SERVER_CACHE" not in os.environ:
    os.environ["WAKEWORD_SERVER_CACHE"] = tempfile.mkdtemp(prefix="wakeword-test-server-")
    os.environ["WAKEWORD_TEST_OWN_CACHES"] = "1"
    atexit.register(shutil.rmtree, os.environ["WAKEWORD_SERVER_CACHE"], ignore_errors=True)
if os.environ.get("WAKEWORD_TEST_OWN_CACHES") and "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["WAKEWORD_SERVER_CACHE"] = os.path.join(
        os.environ["WAKEWORD_SERVER_CACHE"], os.environ["PYTEST_XDIST_WORKER"]
    )
    os.environ.pop("WAKEWORD_TEST_OWN_CACHES")

from pathlib import Path

import numpy as np
import pytest

from data_tools.shared_data import shared_speech_dir
from data_tools.tts import Voice, synthesize
from wakeword.audio import write_wav
from wakeword.constants import SAMPLE_RATE

# Fixtures that take minutes to build, and the group of tests that share one build under
# pytest-xdist (`-n 2 --dist loadgroup`, setup.cfg); every other module is a group of its own, so
# module-scoped fixtures are built once too.
SHARED_BUILDS = {"trained_run": "trained-model", "exported_model": "trained-model"}
# The longest groups start first (each takes minutes), so neither worker is left alone at the end.
LONGEST_FIRST = (
    "tests/wakeword/test_demo.py",
    "trained-model",
    "tests/data_tools/test_neural_tts.py",
    "tests/orchestrator/test_workers.py",
    "tests/orchestrator/test_federated.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    group_of = {}
    for item in items:
        groups = {SHARED_BUILDS[name] for name in item.fixturenames if name in SHARED_BUILDS}
        group_of[item.nodeid] = groups.pop() if groups else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group_of[item.nodeid]))
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of[item.nodeid], len(rank)))  # stable


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: tests pass it explicitly, nothing seeds globally."""
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def phrase_audio() -> dict[str, np.ndarray]:
    """'hey computer' from two engines, 16 kHz float32 (real espeak-ng and flite runs)."""
    return {
        "espeak-ng": synthesize("hey computer", voice=Voice("espeak-ng", "en-us")),
        "flite": synthesize("hey computer", voice=Voice("flite", "slt")),
    }


@pytest.fixture(scope="session")
def phrase_wav(tmp_path_factory, phrase_audio) -> Path:
    """A 16 kHz WAV file of 'hey computer' (espeak-ng)."""
    path = tmp_path_factory.mktemp("speech") / "hey_computer.wav"
    return write_wav(path, phrase_audio["espeak-ng"])


@pytest.fixture(scope="session")
def shared_speech() -> Path:
    """The real recordings in ../shared/speech; tests that need them skip where it is absent."""
    path = shared_speech_dir()
    if path is None:
        pytest.skip("../shared/speech is absent")
    return path


def tone(
    freq_hz: float, seconds: float, *, amplitude: float = 0.5, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A sine tone, float32."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


# --- a small trained and exported model (export, detect and listen tests) -------------------------

DETECT_FLEET = {
    "devices": 8, "test_fraction": 0.25, "positives": 30, "in_sentence": 3, "partials": 6,
    "soundalikes": 6, "speech": 30, "noise": 6, "background_minutes": 1.0, "stream_minutes": 0.5,
    "other_kokoro_texts": 0,
}  # fmt: skip


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """The default model (speech_dnn, which streams) trained centrally for 15 epochs on 6 synthetic
    phones, evaluated (so its report holds a threshold): detects "hey computer" in clean synthetic
    speech (~1 min to build)."""
    from data_tools.synth import FleetConfig, synth_fleet
    from tests.helpers import run_wakeword

    root = tmp_path_factory.mktemp("trained")
    fleet = synth_fleet(FleetConfig(**DETECT_FLEET), root / "fleet", jobs=2)
    run = root / "run"
    result = run_wakeword(
        "train", "--central", "--fleet", fleet.root, "--out", run, "--epochs", "15", "--patience", "15"
    )
    assert result.code == 0, result.stderr[-2000:]
    result = run_wakeword("eval", "--model", run, "--fleet", fleet.root, "--split", "validation")
    assert result.code == 0, result.stderr[-2000:]
    return run


@pytest.fixture(scope="session")
def exported_model(trained_run, tmp_path_factory) -> Path:
    """``trained_run`` exported as the default export writes it (float16, the streaming form) with a
    detection threshold of 0.5."""
    from tests.helpers import run_wakeword

    out = tmp_path_factory.mktemp("exported") / "model.tflite"
    result = run_wakeword("export", trained_run, "--out", out, "--threshold", "0.5")
    assert result.code == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def virtual_mic():
    """A private PulseAudio server whose null sink's monitor is the default input (see
    tests/virtual_mic.py); stopped at the end of the session."""
    from tests.virtual_mic import VirtualMicrophone

    mic = VirtualMicrophone().start()
    yield mic
    mic.stop()
