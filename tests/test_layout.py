"""Architecture and environment: import boundaries, the pinned environment, the layout."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VERSIONS = "import tensorflow_federated as t, tensorflow as tf; print(t.__version__, tf.__version__)"
PACKAGES = ("wakeword", "models", "device_client", "orchestrator", "data_tools")


def imported_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_wakeword_is_light():
    """`import wakeword` and the audio/feature code pull in neither TensorFlow nor TFF."""
    modules = imported_modules("import wakeword, wakeword.audio, wakeword.features, wakeword.cli.main")
    assert "tensorflow" not in modules
    assert "tensorflow_federated" not in modules


def test_only_the_orchestrator_imports_tff():
    pattern = re.compile(r"^\s*(import|from)\s+tensorflow_federated", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        if package != "orchestrator"
        for path in (REPO / package).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []


def test_packages_exist():
    for package in PACKAGES:
        assert (REPO / package / "__init__.py").is_file()


def test_installed_versions_match_the_lock():
    """A fresh `make setup` gives exactly the locked environment."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    assert {"tensorflow", "tensorflow-federated", "librosa", "sounddevice", "jax"} <= set(pins)
    mismatched = {}
    for name, version in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            mismatched[name] = (version, installed)
    assert mismatched == {}


def test_tff_imports_with_the_pinned_tensorflow():
    out = subprocess.run(
        [sys.executable, "-c", VERSIONS],
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    assert out.stdout.split() == ["0.87.0", "2.14.1"]


@pytest.mark.parametrize("tool", ["espeak-ng", "flite", "sox"])
def test_system_tools_installed(tool):
    import shutil

    assert shutil.which(tool), f"{tool} missing: run `make setup`"


def test_portaudio_is_found():
    import sounddevice

    assert "PortAudio" in sounddevice.get_portaudio_version()[1]


def test_setup_stops_with_one_line_when_the_disk_is_too_full():
    script = REPO / "scripts" / "check-disk.sh"
    fine = subprocess.run([script, "0", "nothing"], capture_output=True, text=True)
    assert fine.returncode == 0 and fine.stderr == ""
    full = subprocess.run([script, "1000000", "the venv"], capture_output=True, text=True)
    assert full.returncode == 1 and full.stdout == ""
    assert re.fullmatch(
        r"wakeword setup: only \d+ GB free on /\S*; the venv needs about 1000000 GB: free some "
        r"space \(e\.g\. old runs/ folders\) and run make again\.\n",
        full.stderr,
    )


def test_every_package_turns_tensorflows_onednn_cache_off_before_tensorflow_loads():
    """oneDNN keeps a primitive per input shape (memory grew ~0.3 MB a clip of a new length);
    each package imports wakeword first, which turns it off unless the user set it."""
    check = (
        "import os, {module}; from tensorflow.python.util import _pywrap_util_port as port; "
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for module in ("orchestrator.federated", "models", "device_client.pipeline", "data_tools.synth"):
        out = subprocess.run(
            [sys.executable, "-c", check.format(module=module)], capture_output=True, text=True, env=env
        )
        assert out.stdout.split() == ["0", "False"], (module, out.stderr[-500:])
    chosen = subprocess.run(
        [sys.executable, "-c", check.format(module="wakeword")],
        capture_output=True, text=True, env={**env, "TF_ENABLE_ONEDNN_OPTS": "1"},
    )  # fmt: skip
    assert chosen.stdout.split()[0] == "1"  # the user's choice stands
