"""The phone's microphone: PortAudio through sounddevice, resampled to 16 kHz as it arrives.

Every failure a user can meet (PortAudio missing, no input device, an unknown or busy device, a
device that stops delivering audio) is an :class:`~wakeword.errors.AudioDeviceError` with a
one-line message saying what to do.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

import numpy as np

from wakeword.constants import SAMPLE_RATE
from wakeword.errors import AudioDeviceError

__all__ = ["InputDevice", "Microphone", "input_devices", "resolve_device"]

BLOCK_MS = 50  # audio arrives in blocks of 50 ms (the level meter's refresh rate)
READ_TIMEOUT_S = 3.0  # a device that delivers nothing for this long is reported as failing


def _sounddevice():
    """Import sounddevice; its import loads the PortAudio library."""
    try:
        import sounddevice
    except OSError as exc:
        raise AudioDeviceError(
            f"PortAudio is missing or broken ({exc}); install it with `apt-get install libportaudio2` "
            "(`make setup` does)"
        ) from None
    return sounddevice


@dataclass(frozen=True)
class InputDevice:
    """An audio input as PortAudio lists it."""

    index: int
    name: str
    channels: int
    sample_rate: float  # native rate; recordings are resampled from it to 16 kHz
    default: bool

    def describe(self) -> str:
        mark = "*" if self.default else " "
        return f"{mark} {self.index:3d}  {self.name}  ({self.channels} ch, {self.sample_rate:g} Hz)"


def input_devices() -> list[InputDevice]:
    """The input devices PortAudio sees (empty when there is none)."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices ({exc})") from None
    return [
        InputDevice(i, d["name"], int(d["max_input_channels"]), float(d["default_samplerate"]), i == default)
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def resolve_device(device: str | int | None = None) -> InputDevice:
    """The input device to use: ``None`` for the default, an index, or part of a device's name."""
    devices = input_devices()
    if not devices:
        raise AudioDeviceError(
            "no input device found: connect a microphone, or check that the sound server "
            "(PulseAudio/PipeWire) is running; `wakeword record --list-devices` lists what PortAudio sees"
        )
    if device is None or device == "":
        return next((d for d in devices if d.default), devices[0])
    text = str(device).strip()
    if text.isdigit():
        match = [d for d in devices if d.index == int(text)]
    else:
        match = [d for d in devices if d.name == text]
        match = match or [d for d in devices if text.lower() in d.name.lower()]
    if not match:
        raise AudioDeviceError(
            f"`device` {text}: no such input device; `wakeword record --list-devices` lists them"
        )
    return match[0]


class Microphone:
    """An open input stream delivering mono float32 audio at 16 kHz.

    Use as a context manager; :meth:`read` returns the next block (about :data:`BLOCK_MS` ms),
    :meth:`record` a number of seconds, :meth:`discard` drops what is queued (audio from before a
    prompt).

    Parameters
    ----------
    device : str, int or None
        See :func:`resolve_device`.
    sample_rate : int
        Rate of the audio returned (the device records at its native rate).
    """

    def __init__(self, device: str | int | None = None, *, sample_rate: int = SAMPLE_RATE) -> None:
        import soxr

        self.device = resolve_device(device)
        self.sample_rate = sample_rate
        self.native_rate = round(self.device.sample_rate)
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._resampler = soxr.ResampleStream(self.native_rate, sample_rate, 1, dtype="float32")
        self._stream = None
        self.overflows = 0  # blocks PortAudio dropped because we read too slowly

    def __enter__(self) -> Microphone:
        sd = _sounddevice()
        block = max(1, round(self.native_rate * BLOCK_MS / 1000))
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                samplerate=self.native_rate,
                dtype="float32",
                blocksize=block,
                callback=self._callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise AudioDeviceError(
                f"input device {self.device.index} ({self.device.name}) cannot record: {exc}; "
                "is another program using it exclusively?"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.close()
            self._stream = None

    def _callback(self, indata, frames, time, status) -> None:  # PortAudio's thread
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata[:, 0].copy())

    def read(self) -> np.ndarray:
        """The next block of audio at ``sample_rate`` (may be empty while the resampler fills)."""
        try:
            block = self._queue.get(timeout=READ_TIMEOUT_S)
        except queue.Empty:
            raise AudioDeviceError(
                f"input device {self.device.index} ({self.device.name}) delivered no audio for "
                f"{READ_TIMEOUT_S:g} s; was it unplugged or taken by another program?"
            ) from None
        if self.native_rate == self.sample_rate:
            return block
        return self._resampler.resample_chunk(block)

    def discard(self) -> None:
        """Drop the audio queued so far."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def record(self, seconds: float, *, on_block=None) -> np.ndarray:
        """Record ``seconds`` of audio; ``on_block(block)`` is called for each block (level meters)."""
        need = round(seconds * self.sample_rate)
        parts, have = [], 0
        while have < need:
            block = self.read()
            if on_block is not None and block.size:
                on_block(block)
            parts.append(block)
            have += block.size
        return np.concatenate(parts)[:need].astype(np.float32)
