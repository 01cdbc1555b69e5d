"""An exported model on real recordings at its shipped threshold (skips where ../shared/speech is absent)."""

from __future__ import annotations

import json

import numpy as np

from data_tools import real_sets
from tests.helpers import run_wakeword
from wakeword.file_eval import det_rows, score_files
from wakeword.stream import StreamingDetector, TFLiteModel


def test_real_clips_at_the_shipped_threshold(exported_model, shared_speech):
    model = TFLiteModel(exported_model)
    config = model.detector_config()
    clips = list(real_sets.load_clips(real_sets.keyword_clips("computer", root=shared_speech)[:3]))
    speech = list(real_sets.load_clips(real_sets.librispeech_files(root=shared_speech)[:2]))
    assert len(clips) == 3 and len(speech) == 2
    positives = score_files(model, config, clips)
    negatives = score_files(model, config, speech)
    for (_, audio), scored in zip(speech + clips, negatives.files + positives.files):
        detector = StreamingDetector(model, config)  # what `wakeword detect` reports, chunk by chunk
        found = detector.feed(audio) + detector.flush()
        assert scored.detections == len(found)
        # the kept scores give the same count through the detector's own rule
        kept = type(negatives)([scored]).events_at(np.array([config.threshold]), config.refractory_windows)
        assert kept[0] == scored.detections
    rows = det_rows(positives, negatives, config)
    assert rows[0]["frr"] == 0.0 and rows[-1]["frr"] == 1.0
    assert all(a["fa_per_hour"] >= b["fa_per_hour"] for a, b in zip(rows, rows[1:]))
    noise = real_sets.noise_clips(root=shared_speech)
    mixed = real_sets.mix_at_snr(clips[0][1], noise[0], 10.0, np.random.default_rng(0))
    residual = mixed - clips[0][1]
    ratio = 10 * np.log10(np.mean(clips[0][1] ** 2) / np.mean(residual**2))
    assert abs(ratio - 10.0) < 0.5 or np.max(np.abs(mixed)) >= 0.98  # limited clips lose exactness


def test_eval_all_phones_at_the_model_threshold(exported_model, shared_speech, tmp_path):
    fleet = tmp_path / "precise"
    result = run_wakeword(
        "data", "import", shared_speech / real_sets.PRECISE, "--layout", "csv",
        "--positive", "positive", "--label-column", "kind", "--speaker-column", "contributor",
        "--out", fleet,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    out = tmp_path / "eval"
    result = run_wakeword(
        "eval", "--model", exported_model, "--fleet", fleet, "--split", "all",
        "--threshold-from-model", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["threshold"] == TFLiteModel(exported_model).detector_config().threshold
    assert report["threshold_chosen_on"] == "model" and report["validation"] is None
    assert report["test"]["positives"] > 0
    assert "from the model" in result.stdout
