"""`wakeword demo`: the steps that exist so far, on real inputs, re-runnable."""

from __future__ import annotations

from tests.helpers import run_wakeword


def test_demo_runs_and_reuses_its_output(tmp_path):
    first = run_wakeword("demo", "--out", tmp_path / "demo")
    assert first.code == 0, first.stderr
    assert "Steps still to come" in first.stdout
    clips = sorted((tmp_path / "demo" / "clips").glob("*.wav"))
    assert len(clips) == 4
    assert (tmp_path / "demo" / "frontend.tflite").stat().st_size > 10_000
    stamps = [clip.stat().st_mtime_ns for clip in clips]
    second = run_wakeword("demo", "--out", tmp_path / "demo")
    assert second.code == 0
    assert [clip.stat().st_mtime_ns for clip in clips] == stamps  # reused, not rebuilt


def test_demo_rejects_a_tiny_fleet(tmp_path):
    result = run_wakeword("demo", "--out", tmp_path, "--devices", "1")
    assert result.code == 1 and "--devices must be at least 2" in result.stderr
