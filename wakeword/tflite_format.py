"""The TFLite file format of a wake-word model: the metadata a device reads, nothing of training.

An exported model (``wakeword export``) carries everything a device needs besides its graph (phrase,
window and stride, smoothing, refractory period, recommended threshold and the FA/h it was chosen
for, model version) as one TFLite metadata entry named :data:`METADATA_NAME` holding JSON. This
module writes and reads that entry; the on-device detector (:mod:`wakeword.stream`) and the server's
converter (:mod:`orchestrator.export`) both use it, so the detector needs no converter.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from wakeword.detector import DetectorConfig
from wakeword.errors import WakewordError
from wakeword.window import WindowConfig

__all__ = [
    "METADATA_FORMAT",
    "METADATA_NAME",
    "detector_from_metadata",
    "embed_metadata",
    "native_output_silenced",
    "read_metadata",
    "restore_tail",
    "window_from_metadata",
]

METADATA_NAME = "wakeword"  # name of the TFLite metadata entry holding our JSON
METADATA_FORMAT = "wakeword-tflite-1"


def embed_metadata(flatbuffer: bytes, metadata: dict, *, strip_names: bool = True) -> bytes:
    """Return ``flatbuffer`` with ``metadata`` (JSON) stored as the TFLite metadata entry
    :data:`METADATA_NAME` (replacing one already there).

    ``strip_names`` also drops the names of internal tensors (debug information: about a third of a
    small model's file); the input and output keep theirs.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.util import _convert_model_from_object_to_bytearray

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    if strip_names:
        for graph in model.subgraphs:
            keep = set(graph.inputs) | set(graph.outputs)
            for i, tensor in enumerate(graph.tensors):
                if i not in keep:
                    tensor.name = b""
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), dtype=np.uint8)
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME.encode()
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(_convert_model_from_object_to_bytearray(model))


def read_metadata(model: str | os.PathLike | bytes) -> dict:
    """The wakeword metadata of a TFLite file (or its bytes).

    Raises
    ------
    WakewordError
        The file is missing, not a TFLite model, or has no wakeword metadata.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    name = "<bytes>" if isinstance(model, bytes) else str(model)
    content = model if isinstance(model, bytes) else _read(model)
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise WakewordError(f"{name}: not a TFLite model; give a file written by `wakeword export`")
    try:
        root = schema.Model.GetRootAsModel(content, 0)
        for i in range(root.MetadataLength()):
            entry = root.Metadata(i)
            if entry.Name() == METADATA_NAME.encode():
                data = root.Buffers(entry.Buffer()).DataAsNumpy()
                meta = json.loads(np.asarray(data, dtype=np.uint8).tobytes())
                break
        else:
            meta = None
    except Exception as exc:  # a damaged flatbuffer fails in many ways; all mean the same here
        raise WakewordError(f"{name}: damaged TFLite file ({type(exc).__name__}); export it again") from None
    if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
        raise WakewordError(
            f"{name}: a TFLite model without wakeword metadata; export it with `wakeword export`"
        )
    return meta


def _read(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if path.is_dir():
        raise WakewordError(f"{path}: is a folder; give a .tflite file (`wakeword export RUN --out FILE`)")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise WakewordError(f"{path}: no such file") from None
    except OSError as exc:
        raise WakewordError(f"{path}: cannot read ({exc.strerror})") from None


def window_from_metadata(meta: dict) -> WindowConfig:
    return WindowConfig.from_dict(meta["window"])


def detector_from_metadata(meta: dict, *, threshold: float | None = None) -> DetectorConfig:
    det = meta["detector"]
    return DetectorConfig(
        window=window_from_metadata(meta),
        smooth_windows=int(det["smooth_windows"]),
        refractory_s=float(det["refractory_s"]),
        threshold=float(meta["threshold"] if threshold is None else threshold),
    )


def restore_tail(interpreter, weights: dict) -> None:
    """Set a trainable file's tail (``wakeword export --trainable``) on ``interpreter`` through its
    ``restore`` signature: ``weights`` maps each weight's name to its values (any shape, e.g. the
    flat lists a personalized file's metadata holds: its ``weights``, or in files personalized
    before the block trained, its output unit's ``kernel`` and ``bias``)."""
    weights = weights.get("weights", weights)
    shapes = {name: value.shape for name, value in interpreter.get_signature_runner("save")().items()}
    interpreter.get_signature_runner("restore")(
        **{name: np.asarray(weights[name], np.float32).reshape(shape) for name, shape in shapes.items()}
    )


@contextlib.contextmanager
def native_output_silenced():
    """Discard what native code writes to stdout/stderr meanwhile (the TFLite converter's and
    delegate's chatter, which Python's logging settings do not reach)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
