"""`wakeword export`: every registered model and quantization mode converts, passes its parity
check and carries its metadata; a model failing the check is not written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from models import MODELS, build_model
from models.registry import default_quantize, window_for
from models.streaming import streamable
from orchestrator.export import QUANTIZE_MODES, ExportCheckError, ExportConfig, audio_model, export_run
from orchestrator.run import RunDescription, save_run
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.errors import WakewordError
from wakeword.tflite_format import embed_metadata, read_metadata
from wakeword.window import DEFAULT_WINDOW


def _untrained_run(root, name):
    """A run folder holding a freshly initialised model (conversion does not need training)."""
    window = window_for(name)
    classifier = build_model(name, (window.frames, window.features.n_mels), seed=4)
    description = RunDescription(
        mode="central", model=name, width=1.0, parameters=int(classifier.count_params()),
        window=window.to_dict(), fleet="", phrase="hey computer", training_phones=0,
        validation_phones=[], settings={}, history=[], code="test",
    )  # fmt: skip
    return save_run(root, classifier=classifier, description=description)


# every model in the mode it ships in (int8; float16 for speech_dnn); every mode for the previous
# default (window, slow-marked beyond int8: the same converter paths as tcn's) and the default (streaming)
SHIPPED = {(name, default_quantize(name)) for name in MODELS}
CASES = [
    pytest.param(n, q, marks=pytest.mark.slow) if n == "tc_resnet" and (n, q) not in SHIPPED else (n, q)
    for n, q in sorted(SHIPPED | {(n, q) for n in ("tc_resnet", "tcn") for q in QUANTIZE_MODES})
]


@pytest.mark.parametrize(("name", "quantize"), CASES)
def test_every_model_and_mode_exports_and_checks_itself(name, quantize, tmp_path):
    run = _untrained_run(tmp_path / "run", name)
    out = tmp_path / f"{name}-{quantize}.tflite"
    report = export_run(run, out, config=ExportConfig(quantize=quantize, calibration_clips=8, check_clips=4))
    assert out.is_file() and report["bytes"] == out.stat().st_size
    assert report["float_error"] <= 1e-4
    if quantize == "none":
        assert report["quantization_error"] is None
    else:
        assert report["quantization_error"]["max"] < 0.25
    meta = read_metadata(out)
    assert meta["quantize"] == quantize and meta["model"] == name and meta["phrase"] == "hey computer"
    window = window_for(name)
    assert meta["window_samples"] == window.samples and meta["stride_samples"] == window.stride_samples
    assert meta["threshold"] == 0.5 and meta["threshold_fa_per_hour"] is None  # no eval report yet
    assert meta["streaming"] == streamable(name)  # the streaming form wherever there is one
    # the file runs with the plain TFLite interpreter on raw audio and only builtin ops
    interpreter = tf.lite.Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    if meta["streaming"]:
        runner = interpreter.get_signature_runner()
        inputs = runner.get_input_details()
        assert list(inputs["audio"]["shape"]) == [1, window.stride_samples] and all(
            k.startswith("state_") for k in inputs if k != "audio"
        )
        out = runner(**{k: np.zeros(v["shape"], v["dtype"]) for k, v in inputs.items()})
        assert set(out) == {"probability"} | (set(inputs) - {"audio"}) and 0 <= out["probability"][0, 0] <= 1
        return
    inp = interpreter.get_input_details()[0]
    assert list(inp["shape"]) == [1, DEFAULT_WINDOW.samples] and inp["dtype"] == np.float32
    interpreter.set_tensor(inp["index"], np.zeros((1, DEFAULT_WINDOW.samples), np.float32))
    interpreter.invoke()
    assert 0 <= interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, 0] <= 1


def test_int8_is_refused_for_a_head_on_the_embedding_in_one_line(tmp_path):
    run = _untrained_run(tmp_path / "run", "speech_dnn")
    assert_one_line_error(
        run_wakeword("export", str(run), "--out", str(tmp_path / "m.tflite"), "--quantize", "int8"),
        "does not quantize to int8",
    )
    assert not (tmp_path / "m.tflite").exists()


def test_float_tflite_matches_keras_on_speech(tmp_path, phrase_audio):
    run = _untrained_run(tmp_path / "run", "tc_resnet")
    export_run(run, tmp_path / "m.tflite", config=ExportConfig(quantize="none", check_clips=2))
    from orchestrator.run import load_run
    from wakeword.stream import TFLiteModel

    classifier, _, window = load_run(run)
    keras = audio_model(classifier, window)
    model = TFLiteModel(tmp_path / "m.tflite")
    clip = np.pad(phrase_audio["flite"], (4000, window.samples))[: window.samples].astype(np.float32)
    assert abs(model(clip) - float(keras(clip[None]).numpy()[0, 0])) <= 1e-4


def test_streaming_file_scores_every_window_as_the_window_file(tmp_path, phrase_audio):
    """tcn exports both forms; streamed one stride at a time, the streaming file gives the window
    file's score on every window (float within 1e-5), and int8 stays within its checked bound."""
    from wakeword.scoring import TFLiteScorer

    run = _untrained_run(tmp_path / "run", "tcn")
    files = {}
    for form, quantize in (("stream", "none"), ("window", "none"), ("stream", "int8")):
        files[form, quantize] = tmp_path / f"{form}-{quantize}.tflite"
        config = ExportConfig(
            quantize=quantize, streaming=form == "stream", calibration_clips=8, check_clips=3
        )
        report = export_run(run, files[form, quantize], config=config)
    audio = np.concatenate([phrase_audio["flite"], phrase_audio["espeak-ng"]])
    scores = {key: TFLiteScorer(path, DEFAULT_WINDOW)(audio) for key, path in files.items()}
    assert (
        read_metadata(files["stream", "none"])["streaming"]
        and not read_metadata(files["window", "none"])["streaming"]
    )
    assert scores["window", "none"].std() > 1e-3
    np.testing.assert_allclose(scores["stream", "none"], scores["window", "none"], atol=1e-5, rtol=0)
    assert np.abs(scores["stream", "int8"] - scores["stream", "none"]).max() <= 0.25
    assert report["quantization_error"]["max"] <= 0.25
    assert files["stream", "int8"].stat().st_size < files["window", "none"].stat().st_size


def test_metadata_round_trip_and_replacement(tmp_path):
    run = _untrained_run(tmp_path / "run", "tiny_cnn")
    out = tmp_path / "m.tflite"
    export_run(run, out, config=ExportConfig(quantize="none", threshold=0.7, check_clips=2))
    meta = read_metadata(out)
    assert meta["threshold"] == 0.7 and meta["threshold_source"] == "--threshold"
    assert meta["model_version"].startswith("run-") and len(meta["model_version"]) == len("run-") + 12
    changed = embed_metadata(out.read_bytes(), {**meta, "phrase": "hey nova"})
    assert read_metadata(changed)["phrase"] == "hey nova"  # replaced, not duplicated


def test_threshold_comes_from_the_runs_eval_report(tmp_path):
    run = _untrained_run(tmp_path / "run", "tiny_cnn")
    (run / "eval-validation").mkdir()
    (run / "eval-validation" / "report.json").write_text(
        json.dumps({"threshold": 0.8125, "target_fa_per_hour": 0.5})
    )
    export_run(run, tmp_path / "m.tflite", config=ExportConfig(quantize="none", check_clips=2))
    meta = read_metadata(tmp_path / "m.tflite")
    assert meta["threshold"] == 0.8125 and meta["threshold_fa_per_hour"] == 0.5
    assert meta["threshold_source"].endswith("report.json")


@pytest.mark.parametrize("name", ["tc_resnet", "tcn"])  # the window and the streaming export
def test_a_failing_check_writes_nothing(tmp_path, name):
    run = _untrained_run(tmp_path / "run", name)
    out = tmp_path / "m.tflite"
    out.write_bytes(b"the previous model")
    config = ExportConfig(quantize="int8", calibration_clips=4, check_clips=2, max_quantization_error=1e-9)
    with pytest.raises(ExportCheckError, match="differs from float"):
        export_run(run, out, config=config)
    assert out.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite", "run"]  # no temp file left


def test_bad_inputs_get_one_line_errors(tmp_path):
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(WakewordError, match="not a TFLite model"):
        read_metadata(tmp_path / "junk.tflite")
    result = run_wakeword("export", tmp_path, "--out", tmp_path / "m.tflite")
    assert_one_line_error(result, "not a training run")
    run = _untrained_run(tmp_path / "run", "tiny_cnn")
    assert_one_line_error(run_wakeword("export", run, "--out", tmp_path / "m.onnx"), "must end in .tflite")
    assert_one_line_error(
        run_wakeword("export", run, "--out", tmp_path / "m.tflite", "--threshold", "2"), "--threshold"
    )
    with pytest.raises(WakewordError, match="has no streaming form"):
        export_run(run, tmp_path / "m.tflite", config=ExportConfig(streaming=True))


@pytest.mark.parametrize("name", ["tc_resnet", "tcn"])  # the window and the streaming form
def test_int8_files_reach_the_high_thresholds_low_false_accepts_need(tmp_path, name, phrase_audio):
    """The output layer stays float in int8 files: an int8 sigmoid stops at 255/256 = 0.9961, so
    a shipped threshold of 0.998 would never fire. A model whose logits are all near 8 must
    score near sigmoid(8) = 0.99966 in int8 too."""
    from orchestrator.run import load_run
    from wakeword.scoring import TFLiteScorer

    run = _untrained_run(tmp_path / "run", name)
    classifier, description, _ = load_run(run)
    dense = classifier.get_layer("probability")
    dense.set_weights([dense.kernel.numpy() * 0.01, np.array([8.0], np.float32)])
    save_run(tmp_path / "high", classifier=classifier, description=description)
    out = tmp_path / "m.tflite"
    config = ExportConfig(quantize="int8", calibration_clips=4, check_clips=2)
    export_run(tmp_path / "high", out, config=config)
    scores = TFLiteScorer(out, DEFAULT_WINDOW)(phrase_audio["flite"])
    assert scores.min() > 0.999, scores.min()
