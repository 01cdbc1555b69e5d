"""Listen to the microphone and report the wake word live, with an exported model.

Audio is read in 50 ms blocks, resampled to 16 kHz and fed to the same streaming detector as
`wakeword detect` (window, stride, smoothing and threshold from the model file). Each detection is
printed with the wall-clock time and its score. Ctrl-C stops cleanly and prints the CPU used.

Example:  wakeword listen --model model.tflite
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "detect the wake word live on the microphone with an exported TFLite model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a .tflite file from `wakeword export`")
    parser.add_argument("--device", help="input device: index or part of its name (default: system default)")
    parser.add_argument("--threshold", type=float, help="override the model's recommended threshold")
    parser.add_argument("--seconds", type=float, help="stop after this much audio (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    import datetime
    import resource
    import sys
    import time

    from device_client.microphone import Microphone
    from wakeword.errors import ParameterError
    from wakeword.stream import StreamingDetector, TFLiteModel

    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise ParameterError(f"--threshold must be in (0, 1], got {args.threshold}")
    if args.seconds is not None and args.seconds <= 0:
        raise ParameterError(f"--seconds must be positive, got {args.seconds}")
    model = TFLiteModel(args.model)
    config = model.detector_config(threshold=args.threshold)
    detector = StreamingDetector(model, config)
    phrase = model.metadata["phrase"]
    rate = config.window.features.sample_rate
    limit = None if args.seconds is None else round(args.seconds * rate)
    detections = 0
    with Microphone(args.device, sample_rate=rate) as mic:
        print(f"listening on input {mic.device.index} ({mic.device.name}) for {phrase!r}, threshold "
              f"{config.threshold:.3f}; Ctrl-C to stop", file=sys.stderr, flush=True)  # fmt: skip
        cpu0, wall0 = _cpu_seconds(resource), time.monotonic()
        try:
            while limit is None or detector.samples_in < limit:
                for d in detector.feed(mic.read()):
                    detections += 1
                    now = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
                    print(f"{now}  detected {phrase!r}  score {d.score:.2f}  "
                          f"(stream {d.start_s:.2f}-{d.end_s:.2f} s)", flush=True)  # fmt: skip
        except KeyboardInterrupt:
            pass
        cpu, wall = _cpu_seconds(resource) - cpu0, time.monotonic() - wall0
    plural = "s" * (detections != 1)
    print(f"stopped after {detector.samples_in / rate:.1f} s of audio: {detections} detection{plural}, "
          f"CPU {100 * cpu / max(wall, 1e-9):.1f}% of one core", file=sys.stderr)  # fmt: skip
    return 0


def _cpu_seconds(resource) -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
