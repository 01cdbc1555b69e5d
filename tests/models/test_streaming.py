"""The streaming form (models.streaming): one stride of audio and a state per call gives the same
score as the window model on every window, on synthetic and real speech, for every architecture that
streams (tcn on log-mel frames, speech_dnn and speech_tcn on the speech embedding)."""

from __future__ import annotations

import numpy as np
import pytest

from models import MODELS, build_model, with_frontend
from models.registry import window_for
from models.streaming import StreamingModel, stream_scores, streamable
from wakeword.errors import ParameterError
from wakeword.scoring import pad_for_streaming
from wakeword.window import DEFAULT_WINDOW

SHAPE = (DEFAULT_WINDOW.frames, DEFAULT_WINDOW.features.n_mels)
TOLERANCE = {"tcn": 1e-5, "speech_dnn": 1e-4, "speech_tcn": 1e-4}  # probability; embeddings reach ~70


@pytest.fixture(scope="module", params=sorted(TOLERANCE))
def classifier(request):
    """A model that streams, its weights moved off their initial values (biases, gains), so every
    part counts."""
    window = window_for(request.param)
    model = build_model(request.param, (window.frames, window.features.n_mels), seed=5)
    rng = np.random.default_rng(11)
    model.set_weights(
        [w * rng.uniform(0.5, 1.5, w.shape) + rng.normal(0, 0.05, w.shape) for w in model.get_weights()]
    )
    return model


def window_scores(classifier, audio: np.ndarray) -> np.ndarray:
    """The window model's score on every detector window of ``audio`` (silent start, as streamed)."""
    window = window_for(classifier.name)
    padded, n = pad_for_streaming(audio, window)
    windows = np.stack([padded[k * window.stride_samples :][: window.samples] for k in range(n)])
    keras = with_frontend(classifier, window_samples=window.samples, features=window.features)
    return keras.predict(windows, batch_size=64, verbose=0).reshape(-1)


def streamed(classifier, audio: np.ndarray) -> np.ndarray:
    window = window_for(classifier.name)
    padded, n = pad_for_streaming(audio, window)
    new_audio = padded[window.samples - window.stride_samples :][: n * window.stride_samples]
    return stream_scores(StreamingModel(classifier, window), new_audio)


def test_stream_equals_windows_on_synthetic_speech(classifier, phrase_audio, rng):
    audio = np.concatenate([phrase_audio["flite"], rng.normal(0, 0.01, 8000), phrase_audio["espeak-ng"]])
    expected = window_scores(classifier, audio.astype(np.float32))
    assert expected.std() > 1e-3  # the scores move: the comparison is not between constants
    got = streamed(classifier, audio.astype(np.float32))
    np.testing.assert_allclose(got, expected, atol=TOLERANCE[classifier.name], rtol=0)


def test_stream_equals_windows_on_real_speech(classifier, shared_speech):
    from data_tools.real_sets import precise_clips
    from wakeword.audio import load_audio

    paths = precise_clips(root=shared_speech)[:2]
    if not paths:
        pytest.skip("no Precise clips in ../shared/speech")
    audio = np.concatenate([load_audio(p) for p in paths])
    np.testing.assert_allclose(
        streamed(classifier, audio), window_scores(classifier, audio), atol=TOLERANCE[classifier.name], rtol=0
    )


def test_states_are_what_silence_leaves(classifier):
    """A stream starts from the state of one window of silence: more silence changes nothing."""
    window = window_for(classifier.name)
    model = StreamingModel(classifier, window)
    silent = model.silent_state()
    import tensorflow as tf

    _, after = model.step(
        tf.zeros((1, window.stride_samples)), {k: tf.constant(v) for k, v in silent.items()}
    )
    for name, value in silent.items():
        np.testing.assert_allclose(after[name].numpy(), value, atol=1e-6, err_msg=name)
    assert set(silent) == set(model.state_shapes) and "state_audio" in silent


def test_only_tcn_and_the_embedding_heads_stream_and_others_are_refused():
    assert [name for name in sorted(MODELS) if streamable(name)] == ["speech_dnn", "speech_tcn", "tcn"]
    with pytest.raises(ParameterError, match="no streaming form"):
        StreamingModel(build_model("tc_resnet", SHAPE, seed=0), DEFAULT_WINDOW)
