"""Reading the speech-embedding ONNX files at install time (``onnx`` and ``onnxruntime`` only here).

The two graphs are checked op by op against the layout this converter knows: any other graph is an
error, never a silently different frontend.
"""

from __future__ import annotations

import numpy as np

from wakeword.errors import WakewordError

__all__ = ["embedding_layers", "mel_arrays", "silence_embedding"]

STFT_FRAME = 512  # samples per STFT frame (the kernel of the STFT convolutions)
STFT_HOP = 160  # samples between frames (10 ms)
EMBED_FRAMES = 76  # log-mel frames per embedding (the network's receptive field)


def _model(data: bytes):
    import onnx

    return onnx.load_from_string(data)


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _inits(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def mel_arrays(data: bytes) -> dict[str, np.ndarray]:
    """STFT kernels (512, 257) and the mel matrix (257, 32) of the log-mel model."""
    inits = _inits(_model(data))
    real, imag = inits["0.stft.conv_real.weight"], inits["0.stft.conv_imag.weight"]
    mel = inits["1.melW"]
    if real.shape != (257, 1, STFT_FRAME) or imag.shape != real.shape or mel.shape != (257, 32):
        raise WakewordError("melspectrogram.onnx: unexpected layout; not converted")
    return {
        "stft_real": np.ascontiguousarray(real[:, 0, :].T, dtype=np.float32),
        "stft_imag": np.ascontiguousarray(imag[:, 0, :].T, dtype=np.float32),
        "mel": mel.astype(np.float32),
    }


def embedding_layers(data: bytes) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The embedding network as a list of layers (conv, leaky_relu, maximum, max_pool) and its
    convolution weights in TensorFlow's layout ``(kh, kw, in, out)``."""
    model = _model(data)
    inits = _inits(model)
    layers: list[dict] = []
    weights: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        a = _attrs(node)
        if node.op_type == "Reshape":
            continue
        if node.op_type == "Conv":
            k = sum(1 for layer in layers if layer["op"] == "conv")
            w = inits[node.input[1]]
            b = inits[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
            pads = list(a.get("pads", [0, 0, 0, 0]))
            if list(a.get("strides", [1, 1])) != [1, 1] or pads[0] or pads[2] or a.get("group", 1) != 1:
                raise WakewordError("embedding_model.onnx: unexpected convolution; not converted")
            weights[f"conv{k}_w"] = np.ascontiguousarray(w.transpose(2, 3, 1, 0), dtype=np.float32)
            weights[f"conv{k}_b"] = b.astype(np.float32)
            layers.append({"op": "conv", "index": k, "pad_freq": [int(pads[1]), int(pads[3])]})
        elif node.op_type == "LeakyRelu":
            layers.append({"op": "leaky_relu", "alpha": float(a["alpha"])})
        elif node.op_type == "Max":
            layers.append({"op": "maximum", "value": float(inits[node.input[1]].ravel()[0])})
        elif node.op_type == "MaxPool":
            if list(a["kernel_shape"]) != list(a["strides"]):
                raise WakewordError("embedding_model.onnx: overlapping pooling; not converted")
            layers.append({"op": "max_pool", "size": [int(s) for s in a["kernel_shape"]]})
        else:
            raise WakewordError(f"embedding_model.onnx: unexpected op {node.op_type}; not converted")
    return layers, weights


def silence_embedding(mel_data: bytes, embedding_data: bytes) -> np.ndarray:
    """The embedding of digital silence (96,), from the ONNX files run by onnxruntime."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    mel = ort.InferenceSession(mel_data, opts, providers=["CPUExecutionProvider"])
    emb = ort.InferenceSession(embedding_data, opts, providers=["CPUExecutionProvider"])
    samples = (EMBED_FRAMES - 1) * STFT_HOP + STFT_FRAME
    spec = mel.run(None, {mel.get_inputs()[0].name: np.zeros((1, samples), np.float32)})[0]
    spec = np.squeeze(spec)[None, :, :, None] / 10 + 2
    out = emb.run(None, {emb.get_inputs()[0].name: spec.astype(np.float32)})[0]
    return out.reshape(-1).astype(np.float32)
