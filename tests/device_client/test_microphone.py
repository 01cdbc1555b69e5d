"""`wakeword record` and `wakeword listen` through a real (virtual) sound device.

A private PulseAudio server's null sink is played into with `paplay`; its monitor is the default
input, recorded by sounddevice/PortAudio in the `wakeword` subprocess. Error paths run the real
command without a sound server, without PortAudio (hidden in a private mount namespace), with a
read-only store and with a full disk (a tiny tmpfs).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal as sps

from data_tools.server_audio import phrase_stream
from device_client.store import PhoneStore
from tests.helpers import LiveCommand, assert_one_line_error, run_wakeword
from wakeword.audio import load_audio, speech_bounds, write_wav
from wakeword.constants import SAMPLE_RATE
from wakeword.stream import StreamingDetector

pytestmark = pytest.mark.usefixtures("virtual_mic")


@pytest.fixture(scope="module")
def take_wav(tmp_path_factory, phrase_audio):
    """'hey computer' (flite) with 0.3 s of silence before and after, at a normal level."""
    audio = phrase_audio["flite"]
    audio = 0.3 * audio / np.max(np.abs(audio))
    pad = np.zeros(round(0.3 * SAMPLE_RATE), np.float32)
    return write_wav(tmp_path_factory.mktemp("play") / "take.wav", np.concatenate([pad, audio, pad]))


def _best_correlation(recorded: np.ndarray, played: np.ndarray) -> float:
    """Peak normalised cross-correlation of the played speech inside the recording."""
    lo, hi = speech_bounds(played, top_db=35)
    ref = played[lo:hi]
    if recorded.size < ref.size:
        recorded = np.pad(recorded, (0, ref.size - recorded.size))
    corr = sps.correlate(recorded, ref, mode="valid", method="fft")
    k = int(np.argmax(np.abs(corr)))
    seg = recorded[k : k + ref.size]
    return float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12))


def _record(store, *extra):
    return LiveCommand("record", "--store", store, "--countdown", "0", "--seconds", "2.5", *extra)


def test_list_devices(virtual_mic):
    result = run_wakeword("record", "--list-devices")
    assert result.code == 0, result.stderr
    assert "pulse" in result.stdout and "Hz" in result.stdout


def test_record_stores_what_was_played(virtual_mic, take_wav, tmp_path):
    played = load_audio(take_wav)
    store = tmp_path / "phone"
    cmd = _record(store, "--count", "2")
    for _ in range(2):
        cmd.wait_for("● recording")
        virtual_mic.play(take_wav).wait(timeout=30)
        cmd.wait_for("✓ saved")
    result = cmd.finish()
    assert result.code == 0, result.stderr
    assert "saved 2 positive takes" in result.stdout
    clips = PhoneStore(store).clips(label="positive")
    assert len(clips) == 2 and all(c.kind == "recorded" and c.text == "hey computer" for c in clips)
    lo, hi = speech_bounds(played, top_db=35)
    for clip in clips:
        take = PhoneStore(store).read(clip)
        # trimmed to the speech plus 0.1 s margins: the played phrase's length, within 0.3 s
        assert abs(take.size - (hi - lo)) / SAMPLE_RATE < 0.3, (take.size, hi - lo)
        assert _best_correlation(take, played) > 0.9


def test_bad_takes_are_rejected_with_a_reason_and_retried(virtual_mic, take_wav, tmp_path):
    loud = tmp_path / "loud.wav"
    write_wav(loud, np.sign(np.sin(np.linspace(0, 2000, 16000))).astype(np.float32) * 0.9999)
    click = tmp_path / "click.wav"
    write_wav(click, np.concatenate([np.zeros(8000), 0.5 * np.ones(800), np.zeros(8000)]).astype(np.float32))
    cmd = _record(tmp_path / "phone", "--count", "1")
    cmd.wait_for("● recording")  # play nothing
    assert "silent" in cmd.wait_for("✗ rejected")
    for wav, reason in ((loud, "clipped"), (click, "too short")):
        cmd.wait_for("● recording")
        virtual_mic.play(wav).wait(timeout=30)
        assert reason in cmd.wait_for("✗ rejected")
    cmd.wait_for("● recording")
    virtual_mic.play(take_wav).wait(timeout=30)
    result = cmd.finish()
    assert result.code == 0, result.stderr
    assert len(PhoneStore(tmp_path / "phone").clips()) == 1


def test_two_recorders_on_one_store_keep_every_take(virtual_mic, take_wav, tmp_path):
    store = tmp_path / "phone"
    PhoneStore.create(store, phone_id="phone")
    first, second = _record(store, "--count", "2"), _record(store, "--count", "2", "--label", "negative")
    player = subprocess.Popen(["sh", "-c", f"for i in $(seq 12); do paplay --device=vmic {take_wav}; done"])
    results = [first.finish(timeout=120), second.finish(timeout=120)]
    player.kill()
    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    reopened = PhoneStore(store)
    assert len(reopened.clips(label="positive")) == 2 and len(reopened.clips(label="negative")) == 2
    assert all(reopened.path(c).is_file() for c in reopened.clips())
    json.loads((store / "manifest.json").read_text())  # intact


def test_ctrl_c_keeps_saved_takes(virtual_mic, take_wav, tmp_path):
    store = tmp_path / "phone"
    cmd = _record(store, "--count", "5")
    cmd.wait_for("● recording")
    virtual_mic.play(take_wav).wait(timeout=30)
    cmd.wait_for("✓ saved")
    cmd.wait_for("● recording")
    cmd.proc.send_signal(signal.SIGINT)
    result = cmd.finish()
    assert result.code == 130 and "Traceback" not in result.stderr
    assert "interrupted" in result.stderr.splitlines()[-1]
    assert len(PhoneStore(store).clips()) == 1
    assert sorted(p.name for p in (store / "audio").iterdir()) == [PhoneStore(store).clips()[0].file[6:]]


# --- listen ----------------------------------------------------------------------------------------


def _offline(model, audio):
    """Detections and the highest smoothed score of the offline detector on ``audio``."""
    peak = [0.0]
    detector = StreamingDetector.from_tflite(
        model, on_score=lambda _t, s: peak.__setitem__(0, max(peak[0], s))
    )
    return detector.feed(audio) + detector.flush(), peak[0]


def _pick(model, *, occurrences, tmp_path):
    """A generated recording the model handles with a clear margin offline: with the phrase, all of
    them found and nothing else; without it, no score above 0.3."""
    for seed in range(12):
        stream = phrase_stream(
            "hey computer",
            occurrences=occurrences,
            other_speech=3,
            split="train",
            rng=np.random.default_rng(seed),
        )
        found, peak = _offline(model, stream.audio)
        if occurrences == 0 and peak < 0.3:
            return write_wav(tmp_path / "speech.wav", stream.audio), found
        if (
            occurrences
            and len(found) == occurrences
            and all(any(abs(d.end_s - end) < 0.3 for _, end in stream.spans) for d in found)
        ):
            return write_wav(tmp_path / "phrase.wav", stream.audio), found
    pytest.fail("the test model found no clean recording; it is weaker than expected")


def test_listen_reports_the_phrase_live(virtual_mic, exported_model, tmp_path):
    wav, offline = _pick(exported_model, occurrences=3, tmp_path=tmp_path)
    seconds = load_audio(wav).size / SAMPLE_RATE
    cmd = LiveCommand("listen", "--model", exported_model, "--seconds", f"{seconds + 3:.1f}")
    cmd.wait_for("listening on")
    virtual_mic.play(wav).wait(timeout=60)
    result = cmd.finish(timeout=60)
    assert result.code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "detected 'hey computer'" in line]
    assert len(lines) == len(offline), (result.stdout, offline)
    live = [float(line.split("(stream ")[1].split("-")[1].split(" ")[0]) for line in lines]
    # same spacing as offline (the live stream starts earlier than the file, by an unknown offset)
    np.testing.assert_allclose(np.diff(live), np.diff([d.end_s for d in offline]), atol=0.3)
    assert "CPU" in result.stderr.splitlines()[-1]


def test_listen_stays_silent_for_other_speech(virtual_mic, exported_model, tmp_path):
    wav, _ = _pick(exported_model, occurrences=0, tmp_path=tmp_path)
    cmd = LiveCommand("listen", "--model", exported_model)
    cmd.wait_for("listening on")
    virtual_mic.play(wav).wait(timeout=60)
    cmd.proc.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
    result = cmd.finish(timeout=60)
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    assert "detected" not in result.stdout
    assert "0 detections" in result.stderr.splitlines()[-1]


# --- errors ----------------------------------------------------------------------------------------

NO_SERVER = {"PULSE_SERVER": "unix:/nonexistent/pulse/native", "XDG_RUNTIME_DIR": "/nonexistent"}


def _without_server(*args):
    cmd = LiveCommand(*args, env=NO_SERVER)
    return cmd.finish()


def test_no_input_device(tmp_path, exported_model):
    assert_one_line_error(
        _without_server("record", "--store", tmp_path / "p", "--countdown", "0"), "no input device"
    )
    assert_one_line_error(_without_server("listen", "--model", exported_model), "no input device")
    assert not (tmp_path / "p" / "audio").exists() or not list((tmp_path / "p" / "audio").iterdir())


def test_unknown_device(tmp_path):
    result = run_wakeword("record", "--store", tmp_path / "p", "--device", "no-such-mic")
    assert_one_line_error(result, "--device no-such-mic", "--list-devices")


def _in_private_mounts(script: str) -> subprocess.CompletedProcess:
    """Run a shell script in its own mount namespace (mounts vanish with it); skip if not allowed."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode
    ):
        pytest.skip("no mount namespaces here (unshare -m not permitted)")
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=120)


def _wakeword_cmd(*args) -> str:
    return " ".join([sys.executable, "-m", "wakeword", *map(str, args)])


def test_portaudio_missing(tmp_path):
    import ctypes.util

    lib = ctypes.util.find_library("portaudio")
    real = subprocess.run(["sh", "-c", f"ldconfig -p | grep -m1 '{lib}' | sed 's/.*=> //'"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert real, "libportaudio2 is not installed"
    proc = _in_private_mounts(
        f"mount --bind /dev/null {real}\nexec {_wakeword_cmd('record', '--list-devices')}"
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "PortAudio is missing" in lines[0], proc.stderr


def test_store_not_writable(tmp_path):
    store = tmp_path / "phone"
    PhoneStore.create(store, phone_id="phone")
    proc = _in_private_mounts(
        f"mount --bind {store} {store}\nmount -o remount,bind,ro {store}\n"
        f"exec {_wakeword_cmd('record', '--store', store, '--countdown', '0')}"
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "not writable" in lines[0], proc.stderr


def test_disk_full_keeps_the_store_intact(virtual_mic, take_wav, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    player = f"(sleep 6; for i in 1 2 3 4 5 6; do paplay --device=vmic {take_wav}; done) &"
    record = _wakeword_cmd(
        "record", "--store", f"{disk}/p", "--countdown", "0", "--seconds", "2.5", "--count", "3"
    )
    proc = _in_private_mounts(
        f"mount -t tmpfs -o size=64k tmpfs {disk}\nmkdir -p {disk}/p\n{player}\n{record} || code=$?\n"
        f"cat {disk}/p/manifest.json; ls -a {disk}/p/audio; exit ${{code:-0}}"
    )
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert proc.returncode == 1 and len(lines) == 1 and "disk full" in lines[0], proc.stderr
    manifest = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    files = proc.stdout[proc.stdout.rindex("}") + 1 :].split()
    assert sorted(f for f in files if f not in (".", "..")) == sorted(
        c["file"][6:] for c in manifest["clips"]
    )
