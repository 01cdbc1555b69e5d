"""The Keras frontend layer inside a model: serialisation, TFLite conversion with builtins, parity."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from wakeword.constants import SAMPLE_RATE
from wakeword.features import DEFAULT_FEATURES, FeatureConfig
from wakeword.frontend import log_mel
from wakeword.tf_frontend import LogMelFrontend


def frontend_model(config: FeatureConfig = DEFAULT_FEATURES) -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(SAMPLE_RATE,), dtype=tf.float32)
    return tf.keras.Model(inputs, LogMelFrontend(config)(inputs))


def run_tflite(flatbuffer: bytes, audio: np.ndarray) -> np.ndarray:
    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], audio)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_layer_has_static_output_shape_and_no_weights():
    model = frontend_model()
    assert model.output_shape == (None, 49, 40)
    assert model.count_params() == 0


def test_saved_model_round_trip(tmp_path, phrase_audio):
    config = FeatureConfig(n_mels=32)
    model = frontend_model(config)
    path = tmp_path / "frontend.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    layer = next(layer for layer in loaded.layers if isinstance(layer, LogMelFrontend))
    assert layer.config == config
    audio = phrase_audio["flite"][None, :SAMPLE_RATE]
    np.testing.assert_allclose(loaded(audio).numpy(), model(audio).numpy(), atol=1e-6)


def test_converts_to_tflite_builtins_and_matches(phrase_audio):
    model = frontend_model()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex/TF ops
    flatbuffer = converter.convert()
    audio = np.zeros((1, SAMPLE_RATE), np.float32)
    clip = phrase_audio["espeak-ng"][:SAMPLE_RATE]
    audio[0, : clip.size] = clip
    out = run_tflite(flatbuffer, audio)
    assert out.shape == (1, 49, 40)
    np.testing.assert_allclose(out, log_mel(audio), atol=1e-3)
    np.testing.assert_allclose(out, model(audio).numpy(), atol=1e-3)
