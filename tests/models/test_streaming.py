"""The streaming form (models.streaming): one stride of audio and a state per call gives the same
score as the window model on every window, on synthetic and real speech."""

from __future__ import annotations

import numpy as np
import pytest

from models import MODELS, build_model, with_frontend
from models.streaming import StreamingModel, stream_scores, streamable
from wakeword.errors import ParameterError
from wakeword.scoring import pad_for_streaming
from wakeword.window import DEFAULT_WINDOW as WINDOW

SHAPE = (WINDOW.frames, WINDOW.features.n_mels)


@pytest.fixture(scope="module")
def classifier():
    """A tcn whose weights are moved off their initial values (biases, gains), so every part counts."""
    model = build_model("tcn", SHAPE, seed=5)
    rng = np.random.default_rng(11)
    model.set_weights(
        [w * rng.uniform(0.5, 1.5, w.shape) + rng.normal(0, 0.05, w.shape) for w in model.get_weights()]
    )
    return model


def window_scores(classifier, audio: np.ndarray) -> np.ndarray:
    """The window model's score on every detector window of ``audio`` (silent start, as streamed)."""
    padded, n = pad_for_streaming(audio, WINDOW)
    windows = np.stack([padded[k * WINDOW.stride_samples :][: WINDOW.samples] for k in range(n)])
    keras = with_frontend(classifier, window_samples=WINDOW.samples, features=WINDOW.features)
    return keras.predict(windows, batch_size=64, verbose=0).reshape(-1)


def streamed(classifier, audio: np.ndarray) -> np.ndarray:
    padded, n = pad_for_streaming(audio, WINDOW)
    new_audio = padded[WINDOW.samples - WINDOW.stride_samples :][: n * WINDOW.stride_samples]
    return stream_scores(StreamingModel(classifier, WINDOW), new_audio)


def test_stream_equals_windows_on_synthetic_speech(classifier, phrase_audio, rng):
    audio = np.concatenate([phrase_audio["flite"], rng.normal(0, 0.01, 8000), phrase_audio["espeak-ng"]])
    expected = window_scores(classifier, audio.astype(np.float32))
    assert expected.std() > 1e-3  # the scores move: the comparison is not between constants
    np.testing.assert_allclose(streamed(classifier, audio.astype(np.float32)), expected, atol=1e-5, rtol=0)


def test_stream_equals_windows_on_real_speech(classifier, shared_speech):
    from data_tools.real_sets import precise_clips
    from wakeword.audio import load_audio

    paths = precise_clips(root=shared_speech)[:2]
    if not paths:
        pytest.skip("no Precise clips in ../shared/speech")
    audio = np.concatenate([load_audio(p) for p in paths])
    np.testing.assert_allclose(
        streamed(classifier, audio), window_scores(classifier, audio), atol=1e-5, rtol=0
    )


def test_states_are_what_silence_leaves(classifier):
    """A stream starts from the state of one window of silence: more silence changes nothing."""
    model = StreamingModel(classifier, WINDOW)
    silent = model.silent_state()
    import tensorflow as tf

    _, after = model.step(
        tf.zeros((1, WINDOW.stride_samples)), {k: tf.constant(v) for k, v in silent.items()}
    )
    for name, value in silent.items():
        np.testing.assert_allclose(after[name].numpy(), value, atol=1e-6, err_msg=name)
    assert set(silent) == set(model.state_shapes) and "state_audio" in silent


def test_only_tcn_streams_and_others_are_refused():
    assert [name for name in sorted(MODELS) if streamable(name)] == ["tcn"]
    with pytest.raises(ParameterError, match="no streaming form"):
        StreamingModel(build_model("tc_resnet", SHAPE, seed=0), WINDOW)
