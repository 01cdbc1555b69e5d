"""The streaming detector and `wakeword detect` with a trained, exported model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_tools.server_audio import phrase_stream
from models import DEFAULT_MODEL
from models.registry import default_quantize
from models.streaming import streamable
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.audio import write_wav
from wakeword.detector import detection_events, smooth
from wakeword.scoring import TFLiteScorer
from wakeword.stream import StreamingDetector, TFLiteModel, phrase_bounds


@pytest.fixture(scope="module")
def stream():
    """A synthetic speaker (not a fleet phone) saying the phrase 3 times among 3 other sentences."""
    rng = np.random.default_rng(3)
    return phrase_stream("hey computer", occurrences=3, other_speech=3, split="train", rng=rng)


def _detect(model_path, audio, chunk, threshold=0.5):
    detector = StreamingDetector.from_tflite(model_path, threshold=threshold)
    found = []
    for lo in range(0, audio.size, chunk):
        found += detector.feed(audio[lo : lo + chunk])
    return found + detector.flush()


def test_phrase_found_at_its_times(exported_model, stream):
    found = _detect(exported_model, stream.audio, 1600)
    for start, end in stream.spans:
        near = [d for d in found if abs(d.start_s - start) <= 0.3 and abs(d.end_s - end) <= 0.3]
        assert near, (stream.spans, found)
        assert near[0].score >= 0.5 and start < near[0].time_s < end + 0.6


def test_detections_do_not_depend_on_chunk_size(exported_model, stream):
    reference = _detect(exported_model, stream.audio, 1600)
    assert reference
    for chunk in (1, 591, 16_000, stream.audio.size):
        audio = stream.audio if chunk > 1 else stream.audio[:40_000]  # sample by sample: a prefix
        expected = reference if chunk > 1 else _detect(exported_model, audio, 1600)
        assert _detect(exported_model, audio, chunk) == expected, chunk


def test_streaming_matches_the_evaluation_path(exported_model, stream):
    """Same windows, smoothing and refractory counting as `wakeword eval` (to the window)."""
    model = TFLiteModel(exported_model)
    config = model.detector_config(threshold=0.5)
    scores = TFLiteScorer(exported_model, config.window)(stream.audio)
    events = detection_events(smooth(scores, config.smooth_windows), 0.5, config.refractory_windows)
    found = _detect(exported_model, stream.audio, 4000)
    stride = config.window.stride_ms / 1000
    fired = [round(d.time_s / stride) - 1 for d in found]  # window k ends (k + 1) strides in
    assert fired == list(events)


def test_phrase_bounds_bridge_word_gaps():
    rate = 16_000
    window = np.zeros(2 * rate, np.float32)
    window[1920:4800] = 0.3  # "hey"
    window[6400:12000] = 0.3  # "computer", 100 ms later: bridged
    window[16000:16480] = 0.3  # something else, 250 ms after: not
    assert phrase_bounds(window, fire=12500, sample_rate=rate) == (1920, 12000)
    assert phrase_bounds(window, fire=16200, sample_rate=rate) == (16000, 16480)
    assert phrase_bounds(np.zeros(rate), fire=100, sample_rate=rate) == (0, rate)


def test_detect_cli_text_and_json(exported_model, stream, tmp_path):
    wav = write_wav(tmp_path / "talk.wav", stream.audio)
    silent = write_wav(tmp_path / "silence.wav", np.zeros(32_000, np.float32))
    result = run_wakeword("detect", "--model", exported_model, wav, silent, "--json")
    assert result.code == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["phrase"] == "hey computer" and doc["threshold"] == 0.5
    talk, quiet = doc["files"]
    assert len(talk["detections"]) >= 3 and quiet["detections"] == []
    assert 0 < talk["real_time_factor"] < 0.5
    text = run_wakeword("detect", "--model", exported_model, wav, "--chunk-ms", "37")
    assert text.code == 0 and f"{len(talk['detections'])} detections" in text.stdout
    first = talk["detections"][0]
    assert f"{first['start_s']:8.2f} s - {first['end_s']:8.2f} s" in text.stdout


def test_detect_bad_model_or_file(tmp_path, exported_model):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    wav = write_wav(tmp_path / "a.wav", np.zeros(16000, np.float32))
    assert_one_line_error(run_wakeword("detect", "--model", junk, wav), "junk.tflite", "not a TFLite model")
    assert_one_line_error(run_wakeword("detect", "--model", tmp_path / "none.tflite", wav), "no such file")
    assert_one_line_error(run_wakeword("detect", "--model", tmp_path, wav), "is a folder")
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(exported_model.read_bytes()[:5000])
    assert_one_line_error(run_wakeword("detect", "--model", truncated, wav), "cut.tflite")
    assert_one_line_error(run_wakeword("detect", "--model", exported_model, tmp_path / "x.wav"), "x.wav")


@pytest.fixture(scope="module")
def tcn_files(trained_run, exported_model, tmp_path_factory):
    """``trained_run`` (the default model, which streams) exported in both forms (float) and in the
    streaming form it ships in (float16 for speech_dnn: ``exported_model``)."""
    name = json.loads((trained_run / "run.json").read_text())["model"]
    assert name == DEFAULT_MODEL and streamable(name)
    root, run = tmp_path_factory.mktemp("default"), trained_run
    files = {("stream", default_quantize(name)): exported_model}
    for form, quantize in (("stream", "none"), ("window", "none")):
        files[form, quantize] = root / f"{form}-{quantize}.tflite"
        extra = ["--window"] if form == "window" else []
        result = run_wakeword("export", run, "--out", files[form, quantize], "--quantize", quantize, *extra)
        assert result.code == 0, result.stderr[-2000:]
    return files


def test_streaming_file_detects_as_the_window_file(tcn_files, stream):
    """Same scores window by window (float, 1e-4), so the same detections, in any chunk size;
    the quantized streaming file stays within the export's quantization bound of float."""
    window, streaming = tcn_files["window", "none"], tcn_files["stream", "none"]
    assert TFLiteModel(streaming).streaming and not TFLiteModel(window).streaming
    scores = {key: TFLiteScorer(path)(stream.audio) for key, path in tcn_files.items()}
    np.testing.assert_allclose(scores["stream", "none"], scores["window", "none"], atol=1e-4, rtol=0)
    shipped = scores["stream", default_quantize(DEFAULT_MODEL)]
    assert np.abs(shipped - scores["stream", "none"]).max() <= 0.25
    threshold = float(np.quantile(scores["window", "none"], 0.9))  # fires on the phrases at least
    expected = _detect(window, stream.audio, 1600, threshold)
    assert expected
    for chunk in (591, 1600, 16_000):
        found = _detect(streaming, stream.audio, chunk, threshold)
        assert [(d.start_s, d.end_s, d.time_s) for d in found] == [
            (d.start_s, d.end_s, d.time_s) for d in expected
        ]
        np.testing.assert_allclose([d.score for d in found], [d.score for d in expected], atol=1e-4, rtol=0)
