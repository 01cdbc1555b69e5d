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


def test_flags_come_from_the_configs_fields():
    """Every setting a command exposes has its flag's default and help from the config field."""
    import argparse
    import dataclasses

    from data_tools.synth import FleetConfig
    from device_client.pipeline import AugmentConfig
    from orchestrator.central import CentralConfig
    from orchestrator.federated_config import FederatedConfig
    from orchestrator.pretraining import PretrainConfig
    from wakeword.cli import data, demo, train
    from wakeword.cli.demo_job import DemoConfig
    from wakeword.cli.main import build_parser

    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    checks = (
        (sub.choices["train"], FederatedConfig, train.COMMON + train.FEDERATED),
        (sub.choices["train"], CentralConfig, train.COMMON + train.CENTRAL),
        (sub.choices["data"], FleetConfig, data.SYNTH),
        (sub.choices["train"], AugmentConfig, train.AUGMENT),
        (sub.choices["train"], PretrainConfig, train.PRETRAIN),
        (sub.choices["demo"], DemoConfig, demo.FLAGS),
    )
    for command, cls, names in checks:
        required = {FleetConfig: ["synth", "--out", "O"], DemoConfig: []}
        args = command.parse_args(required.get(cls, ["--fleet", "F", "--out", "O"]))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name in names:
            assert getattr(args, name) == getattr(cls(), name), (cls.__name__, name)
            assert fields[name].metadata["doc"]
    # a setting the two trainers share has one default
    for name in train.COMMON:
        assert getattr(FederatedConfig(), name) == getattr(CentralConfig(), name)


@pytest.mark.parametrize(
    "args, message",
    [
        (("train", "--rounds", "0"), "--rounds must be >= 1, got 0"),
        (("train", "--client-batch-size", "0"), "--client-batch-size must be >= 1"),
        (
            ("train", "--fairness-q", "1", "--aggregator", "dp"),
            "drop --fairness-q or choose another --aggregator",
        ),
        (("train", "--aggregator", "dp", "--dp-target-epsilon", "0"), "--dp-target-epsilon must be > 0"),
        (("train", "--central", "--epochs", "0"), "--epochs must be >= 1"),
        (("train", "--central", "--warp", "0.9"), "--warp must be in [0, 0.5], got 0.9"),
    ],
)
def test_setting_errors_name_the_flag(tmp_path, args, message):
    """The library names settings (`rounds`); the command line shows the flag the user typed."""
    result = run_wakeword(*args, "--fleet", tmp_path, "--out", tmp_path / "run")
    assert_one_line_error(result, message)
    assert "`" not in result.stderr and not (tmp_path / "run").exists()


def test_synth_setting_errors_name_the_flag(tmp_path):
    result = run_wakeword("data", "synth", "--out", tmp_path / "f", "--in-sentence", "50")
    assert_one_line_error(result, "--in-sentence (50) cannot exceed --positives (40)")
