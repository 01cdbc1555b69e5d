"""Kokoro and Piper with the real models installed by `make setup` (onnxruntime, espeak-ng IPA)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from data_tools import neural_tts, voice_assets
from data_tools.profiles import KOKORO_STYLES, is_held_out_voice, kokoro_pool, sample_profiles
from data_tools.synth import FleetConfig, synth_fleet
from data_tools.tts import Voice, synthesize
from tests.helpers import assert_one_line_error, run_wakeword
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError


def test_kokoro_speaks_the_same_bytes_every_time():
    a = neural_tts.kokoro("hey computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE)
    b = neural_tts.kokoro("hey computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE)
    assert a.dtype == np.float32 and 0.5 < a.size / SAMPLE_RATE < 2.0
    assert a.tobytes() == b.tobytes()
    slow = neural_tts.kokoro("hey computer", voice="af_heart", speed=0.7, sample_rate=SAMPLE_RATE)
    assert slow.size > 1.2 * a.size


def _conv_integer_model(float_convs: bool) -> bytes:
    """One ConvInteger (uint8 input and weights with zero points, two groups, a dilation), as
    onnxruntime's dynamic quantization writes them; or its float form."""
    from onnx import TensorProto, helper, numpy_helper

    from data_tools.onnx_integer import float_convolutions

    rng = np.random.default_rng(7)
    weights = rng.integers(0, 256, (6, 4, 5)).astype(np.uint8)
    weights[0] = 0  # the largest sums the float form must hold exactly
    node = helper.make_node(
        "ConvInteger", ["x", "w", "x_zero", "w_zero"], ["y"], group=2, dilations=[2], pads=[4, 4]
    )
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 8, 32])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array(3, np.uint8), "x_zero"),
            numpy_helper.from_array(np.array(128, np.uint8), "w_zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return (float_convolutions(model) if float_convs else model).SerializeToString()


def test_float_convolutions_give_the_same_integers(rng):
    import onnxruntime as ort

    x = rng.integers(0, 256, (1, 8, 32)).astype(np.uint8)
    x[0, :, :8] = 255
    out = [ort.InferenceSession(_conv_integer_model(f)).run(None, {"x": x})[0] for f in (False, True)]
    assert out[1].dtype == np.int32 and np.abs(out[0]).max() > 100_000
    np.testing.assert_array_equal(out[0], out[1])


def test_the_installed_kokoro_speaks_as_the_int8_model_it_is_made_from(monkeypatch):
    """The float-convolution form synthesis loads gives the packager's int8 model's audio, bit for bit."""
    int8 = neural_tts._session(voice_assets.kokoro_int8_model())
    styles = voice_assets.kokoro_styles()
    texts = [("hey computer", "af_heart", 1.0), ("consume reveals loons", "bm_george:0.7,af_sky:0.3", 1.3)]
    ours = [neural_tts.kokoro(t, voice=v, speed=s, sample_rate=SAMPLE_RATE) for t, v, s in texts]
    monkeypatch.setattr(neural_tts, "_kokoro", lambda: (int8, styles))
    theirs = [neural_tts.kokoro(t, voice=v, speed=s, sample_rate=SAMPLE_RATE) for t, v, s in texts]
    assert [a.tobytes() for a in ours] == [b.tobytes() for b in theirs]


def test_kokoro_blends_are_new_timbres():
    styles = voice_assets.kokoro_styles()
    assert sorted(styles) == sorted(KOKORO_STYLES)
    blend = neural_tts.kokoro_style("af_heart:0.25,bm_george:0.75")
    np.testing.assert_allclose(blend, 0.25 * styles["af_heart"] + 0.75 * styles["bm_george"], atol=1e-6)
    a = neural_tts.kokoro("computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE)
    b = neural_tts.kokoro("computer", voice="af_heart:0.5,am_adam:0.5", speed=1.0, sample_rate=SAMPLE_RATE)
    assert a.tobytes() != b.tobytes()
    with pytest.raises(ParameterError, match="nobody"):
        neural_tts.kokoro_style("nobody")
    with pytest.raises(ParameterError, match="NAME:WEIGHT"):
        Voice("kokoro", "af_heart:-1")


def test_piper_is_deterministic():
    a = neural_tts.piper("please turn on the lights", length_scale=1.0, sample_rate=SAMPLE_RATE)
    b = neural_tts.piper("please turn on the lights", length_scale=1.0, sample_rate=SAMPLE_RATE)
    assert a.tobytes() == b.tobytes() and 0.8 < a.size / SAMPLE_RATE < 3.0


def test_neural_takes_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path))
    first = synthesize("set a timer", voice=Voice("kokoro", "bf_emma", 170))
    assert len(list(tmp_path.rglob("*.npy"))) == 1
    assert synthesize("set a timer", voice=Voice("kokoro", "bf_emma", 170)).tobytes() == first.tobytes()
    next(tmp_path.rglob("*.npy")).write_bytes(b"corrupt")  # a broken entry is made again
    assert synthesize("set a timer", voice=Voice("kokoro", "bf_emma", 170)).tobytes() == first.tobytes()


def test_held_out_owners_use_held_out_styles_only():
    profiles = sample_profiles(60, test_phones=20, rng=np.random.default_rng(3))
    engines = {p.speaker.engine for p in profiles}
    assert {"kokoro", "piper", "espeak-ng"} <= engines
    test_styles = set(kokoro_pool("test"))
    for p in profiles:
        assert is_held_out_voice(p.speaker.voice) == (p.split == "test"), p.speaker
        if p.speaker.engine == "kokoro":
            styles = {item.split(":")[0] for item in p.speaker.voice.split(",")}
            assert (styles <= test_styles) == (p.split == "test")
        if p.speaker.engine == "piper":
            assert p.split == "train"


def test_fleet_with_neural_owners_is_deterministic(tmp_path, monkeypatch):
    """Also with pronunciation variants: the same bytes for a seed; they change the neural owners'
    phones only (their phrase takes, and the random draws after them), no other owner's."""
    from tests.data_tools.test_synth import TINY, tree_digest

    small = {"positives": 2, "in_sentence": 0, "partials": 1, "soundalikes": 1, "speech": 1, "noise": 1}
    config = FleetConfig(**{**TINY.__dict__, **small, "devices": 6, "seed": 5, "pronunciation_variants": 1.0})
    engines = {p.speaker.engine for p in sample_profiles(6, test_phones=config.test_phones,
               rng=np.random.default_rng(np.random.SeedSequence([5, 2**31 - 1])))}  # fmt: skip
    assert "kokoro" in engines  # the seed was picked so that this fleet has Kokoro owners
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path / "cache-a"))
    a = synth_fleet(config, tmp_path / "a", jobs=2)
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path / "cache-b"))  # synthesized again
    b = synth_fleet(config, tmp_path / "b", jobs=2)  # jobs: test_synth (Kokoro owners too)
    assert tree_digest(a.root) == tree_digest(b.root)
    plain_config = FleetConfig(**{**config.__dict__, "pronunciation_variants": 0.0})
    plain = synth_fleet(plain_config, tmp_path / "c", jobs=2)
    for phone in a.phones:
        ours, theirs = a.store(phone.phone_id), plain.store(phone.phone_id)
        neural = ours.info["profile"]["speaker"]["engine"] in ("kokoro", "piper")
        takes = [x.sha256 != y.sha256 for x, y in zip(ours.clips(kind="phrase"), theirs.clips(kind="phrase"))]
        assert all(takes) if neural else tree_digest(ours.root) == tree_digest(theirs.root), phone.phone_id


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_broken_voice_files_give_one_line(tmp_path, monkeypatch, damage):
    assets = tmp_path / "assets"
    shutil.copytree(voice_assets.assets_dir(), assets)
    model = assets / voice_assets.KOKORO_MODEL_FILE
    if damage == "missing":
        model.unlink()
    else:
        model.write_bytes(b"not an onnx model")
    monkeypatch.setenv("WAKEWORD_ASSETS", str(assets))
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path / "cache"))
    result = run_wakeword(
        "data", "synth", "--devices", "6", "--seed", "5", "--positives", "2", "--in-sentence", "0",
        "--partials", "1", "--soundalikes", "1", "--speech", "1", "--noise", "1",
        "--background-minutes", "0", "--out", tmp_path / "fleet",
    )  # fmt: skip
    assert_one_line_error(result, str(model), "make setup")
    result = run_wakeword("data", "voices")
    assert_one_line_error(result, str(model) if damage == "missing" else "", "make setup")
