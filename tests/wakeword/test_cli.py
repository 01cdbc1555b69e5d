"""The ``wakeword`` command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.cli.main import COMMANDS


def test_console_script_is_installed():
    """The `wakeword` entry point that `make setup` installs beside the venv's python."""
    script = Path(sys.executable).with_name("wakeword")
    assert script.is_file(), f"{script} missing: run `make setup`"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("wakeword ")


def test_help_lists_every_subcommand():
    result = run_wakeword("--help")
    assert result.code == 0
    for name in COMMANDS:
        assert name in result.stdout
    assert run_wakeword("features", "--help").stdout.count("--backend") >= 1


def test_no_subcommand_is_a_usage_error():
    result = run_wakeword()
    assert result.code == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["librosa", "tf"])
def test_features_on_a_real_8k_recording(shared_speech, tmp_path, backend):
    wav = shared_speech / "fsdd" / "recordings" / "3_jackson_0.wav"
    out, plot = tmp_path / "feats.npy", tmp_path / "feats.png"
    result = run_wakeword("features", wav, "--backend", backend, "--out", out, "--plot", plot)
    assert result.code == 0, result.stderr
    feats = np.load(out)
    assert feats.shape[1] == 40 and feats.shape[0] >= 10
    assert f"{feats.shape[0]} frames x 40 mels" in result.stdout
    assert Image.open(plot).size[0] >= 300


def test_features_on_synthesized_speech(phrase_wav, tmp_path):
    result = run_wakeword("features", phrase_wav, "--out", tmp_path / "x")
    assert result.code == 0, result.stderr
    assert np.load(tmp_path / "x.npy").shape[1] == 40


def test_features_on_a_corrupt_file(tmp_path, rng):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF" + rng.integers(0, 256, 1000, dtype=np.uint8).tobytes())
    assert_one_line_error(run_wakeword("features", bad), "broken.wav", "cannot decode as audio")


def test_features_on_bad_inputs(tmp_path):
    assert_one_line_error(run_wakeword("features", tmp_path / "none.wav"), "none.wav: no such file")
    silent = tmp_path / "silent.wav"
    from wakeword.audio import write_wav

    write_wav(silent, np.zeros(16000, np.float32))
    assert_one_line_error(run_wakeword("features", silent), "silent.wav: all silent")
    out = tmp_path / "no" / "such" / "dir" / "x.npy"
    from tests.conftest import tone

    write_wav(tmp_path / "ok.wav", tone(440.0, 1.0))
    assert_one_line_error(run_wakeword("features", tmp_path / "ok.wav", "--out", out), "cannot write")
