"""The speech-embedding frontend: the ONNX models it comes from, slid as openWakeWord slides them;
a stream and a whole clip give the same frames; silence is zero; a missing file is one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword import embedding_assets
from wakeword.embedding_onnx import EMBED_FRAMES
from wakeword.features import EMBEDDING_FEATURES
from wakeword.frontend import features_of
from wakeword.tf_embedding import SpeechEmbeddingFrontend, speech_embedding_tf

HOP_FRAMES = 8  # log-mel frames between two embeddings


def _session(name: str):
    import onnxruntime as ort

    return ort.InferenceSession(str(embedding_assets.onnx_dir() / name), providers=["CPUExecutionProvider"])


def _onnx_embeddings(audio: np.ndarray) -> np.ndarray:
    """openWakeWord's way: the log-mel model on the whole clip (scaled by /10 + 2), then the
    embedding model on every 76-frame window, 8 frames apart."""
    mel = _session("melspectrogram.onnx")
    spec = np.squeeze(mel.run(None, {"input": audio[None].astype(np.float32) * 32767})[0]) / 10 + 2
    n = (spec.shape[0] - EMBED_FRAMES) // HOP_FRAMES + 1
    index = np.arange(n)[:, None] * HOP_FRAMES + np.arange(EMBED_FRAMES)[None]
    emb = _session("embedding_model.onnx")
    out = emb.run(None, {"input_1": spec[index][..., None].astype(np.float32)})[0]
    return out.reshape(n, -1)


@pytest.fixture
def speech(phrase_audio, rng) -> np.ndarray:
    """'hey computer' twice over a noise floor loud enough in every band that the ONNX log-mel
    model's 80 dB clamp (which the frontend leaves out) never binds."""
    clip = np.concatenate([phrase_audio["espeak-ng"], phrase_audio["flite"]])
    return (clip + rng.normal(0, 0.003, clip.size)).astype(np.float32)


def test_equals_the_onnx_models_it_was_converted_from(speech):
    ours = speech_embedding_tf(speech) + embedding_assets.load_weights()["silence"]
    theirs = _onnx_embeddings(speech)
    assert ours.shape == theirs.shape == (EMBEDDING_FEATURES.num_frames(speech.size), 96)
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def test_log_mel_equals_the_onnx_log_mel(speech):
    import tensorflow as tf

    spec = _session("melspectrogram.onnx").run(None, {"input": speech[None] * 32767})[0]
    ours = SpeechEmbeddingFrontend().log_mel(tf.constant(speech[None])).numpy()[0]
    np.testing.assert_allclose(ours, np.squeeze(spec) / 10 + 2, atol=2e-3)


def test_a_stream_gives_the_frames_of_the_whole_clip(speech):
    whole = speech_embedding_tf(speech)
    hop, first = EMBEDDING_FEATURES.hop_length, EMBEDDING_FEATURES.n_fft
    for k in (0, 5, whole.shape[0] - 1):  # the frame from its own 12,512 samples alone
        alone = speech_embedding_tf(speech[k * hop : k * hop + first])
        np.testing.assert_allclose(alone[0], whole[k], atol=1e-3 * np.abs(whole).max())


def test_silence_is_the_zero_vector():
    silence = features_of(np.zeros(3 * EMBEDDING_FEATURES.n_fft, np.float32), config=EMBEDDING_FEATURES)
    assert np.abs(silence).max() < 1e-3
    assert EMBEDDING_FEATURES.silence_value == 0.0


def test_missing_weights_are_one_line_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(embedding_assets.ENV_VAR, str(tmp_path))
    with pytest.raises(embedding_assets.EmbeddingAssetError) as err:
        embedding_assets.load_weights()
    message = str(err.value)
    assert str(tmp_path / embedding_assets.WEIGHTS_FILE) in message and "make setup" in message
    assert "\n" not in message


def test_corrupt_weights_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(embedding_assets.ENV_VAR, str(tmp_path))
    (tmp_path / embedding_assets.WEIGHTS_FILE).write_bytes(b"not a numpy file")
    with pytest.raises(embedding_assets.EmbeddingAssetError, match=r"unreadable.*make setup"):
        embedding_assets.load_weights()
