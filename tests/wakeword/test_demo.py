"""`wakeword demo`: the whole pipeline on a tiny fleet, then re-run reusing what it built."""

from __future__ import annotations

import json

from tests.helpers import assert_one_line_error, run_wakeword

TINY = ["--devices", "4", "--rounds", "2", "--clip-share", "0.25", "--server-voices", "3",
        "--server-clip-share", "0.25", "--server-epochs", "12", "--background-minutes", "0.5"]  # fmt: skip


def test_demo_runs_end_to_end_and_reuses_its_output(tmp_path):
    first = run_wakeword("demo", "--out", tmp_path / "demo", *TINY, timeout=900)
    assert first.code == 0, first.stderr[-3000:]
    out = first.stdout + first.stderr
    # "real recordings": a count where ../shared/speech is, else why there is none
    for line in ("FRR at 0.5 FA/h", "federated rounds", "hard negatives", "TFLite model", "real recordings"):
        assert line in out
    # what each phase gained: its model's FRR on the validation phones, at its own threshold there
    rows = ("  server pre-training ", "  federated fine-tuning ")
    phases = [line for line in out.splitlines() if line.startswith(rows)]
    assert len(phases) == 2 and all("FRR " in line and "at 0.5 FA/h" in line for line in phases), phases
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["detection"]["phrases"] == 3 and len(summary["detection"]["spans"]) == 3
    assert (tmp_path / "demo" / "model.tflite").stat().st_size > 10_000
    report = json.loads((tmp_path / "demo" / "eval" / "report.json").read_text())
    assert report["test"]["positives"] == 10  # one held-out phone, a quarter of 40 positives
    assert (tmp_path / "demo" / "eval" / "det.png").stat().st_size > 10_000
    model = tmp_path / "demo" / "run" / "model.keras"
    stamp = model.stat().st_mtime_ns
    second = run_wakeword("demo", "--out", tmp_path / "demo", *TINY, timeout=900)
    assert second.code == 0, second.stderr[-3000:]
    assert "reusing the finished run" in second.stdout + second.stderr
    assert "reusing the exported model" in second.stdout + second.stderr
    assert model.stat().st_mtime_ns == stamp


def test_demo_rejects_a_tiny_fleet(tmp_path):
    result = run_wakeword("demo", "--out", tmp_path, "--devices", "2")
    assert result.code == 1 and "--devices must be at least 3" in result.stderr
    assert_one_line_error(run_wakeword("demo", "--out", tmp_path, "--clip-share", "2"), "--clip-share")


def test_the_demos_server_is_the_default_one_that_ships():
    from orchestrator.pretraining import PretrainConfig
    from wakeword.cli.demo_job import DemoConfig, pretrain_config

    assert pretrain_config(DemoConfig()) == PretrainConfig()
