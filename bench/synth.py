"""Synthesis throughput: clips per second of `wakeword data synth`, one job vs all cores (same run);
Kokoro's seconds per take, the packager's int8 model vs the float-convolution form synthesis loads
(the same takes, checked to be the same bytes).

    python -m bench.synth [--devices 8] [--out runs/bench/synth] [--kokoro-takes 8]

Goal (issue 3): at least 50 clips per second on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from bench.common import record
from data_tools.synth import FleetConfig, synth_fleet


def measure(config: FleetConfig, out: Path, jobs: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    fleet = synth_fleet(config, out, jobs=jobs)
    seconds = time.perf_counter() - started
    clips = config.devices * config.clips_per_phone
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    audio_hours = sum(c.duration for p in fleet.phone_ids() for c in fleet.store(p).clips()) / 3600
    return {
        "jobs": jobs,
        "phones": config.devices,
        "clips": clips,
        "seconds": round(seconds, 2),
        "clips_per_second": round(clips / seconds, 1),
        "audio_hours": round(audio_hours, 3),
        "realtime_factor": round(seconds / (audio_hours * 3600), 4),
        "mb_on_disk": round(size / 1e6, 1),
    }


def kokoro_speed(takes: int) -> dict:
    """Seconds per Kokoro take (one thread) of both forms of the model, on the same texts."""
    import numpy as np

    from data_tools import neural_tts, voice_assets
    from data_tools.text import random_sentence
    from wakeword.constants import SAMPLE_RATE

    rng = np.random.default_rng(0)
    texts = ["hey computer", *(random_sentence(rng, avoid="hey computer") for _ in range(takes - 1))]
    styles = voice_assets.kokoro_styles()
    forms = {"int8": voice_assets.kokoro_int8_model(), "float_conv": str(voice_assets.kokoro_model_path())}
    seconds, audio, loaded = {}, {}, neural_tts._kokoro
    try:
        for name, model in forms.items():
            session = neural_tts._session(model)
            neural_tts._kokoro = lambda session=session: (session, styles)
            speak = neural_tts.kokoro
            speak("warm up", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE)
            started = time.perf_counter()
            audio[name] = [speak(t, voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE) for t in texts]
            seconds[name] = (time.perf_counter() - started) / len(texts)
    finally:
        neural_tts._kokoro = loaded  # the fleet measurement after it loads the model as synthesis does
    return {
        "takes": len(texts),
        "seconds_per_take": {k: round(v, 3) for k, v in seconds.items()},
        "speedup": round(seconds["int8"] / seconds["float_conv"], 2),
        "same_bytes": all(a.tobytes() == b.tobytes() for a, b in zip(audio["int8"], audio["float_conv"])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=8, help="phones per measurement (default 8)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/synth"))
    parser.add_argument("--kokoro-takes", type=int, default=8, help="takes per Kokoro form (0: skip)")
    args = parser.parse_args(argv)
    if args.kokoro_takes < 0:
        parser.error(f"--kokoro-takes must be >= 0 (0 skips Kokoro), got {args.kokoro_takes}")
    kokoro = kokoro_speed(args.kokoro_takes) if args.kokoro_takes > 0 else None
    if kokoro:
        per = kokoro["seconds_per_take"]
        print(f"Kokoro, one thread: {per['int8']:.2f} s per take (int8 as packaged), "
              f"{per['float_conv']:.2f} s (float convolutions): {kokoro['speedup']:.2f}x, "
              f"same bytes: {kokoro['same_bytes']}")  # fmt: skip
    config = FleetConfig(devices=args.devices, background_minutes=0)  # phones only: clips/s
    cores = os.cpu_count() or 1
    rows = [measure(config, args.out / f"jobs{j}", j) for j in sorted({1, cores})]
    speedup = rows[-1]["clips_per_second"] / rows[0]["clips_per_second"]
    print(f"{'jobs':>4} {'phones':>6} {'clips':>6} {'seconds':>8} {'clips/s':>8} {'MB':>7}")
    for r in rows:
        print(
            f"{r['jobs']:>4} {r['phones']:>6} {r['clips']:>6} {r['seconds']:>8.1f} "
            f"{r['clips_per_second']:>8.1f} {r['mb_on_disk']:>7.1f}"
        )
    print(f"speed-up with {cores} jobs: {speedup:.2f}x; goal >= 50 clips/s on 2 cores: "
          f"{'met' if rows[-1]['clips_per_second'] >= 50 else 'NOT met'}")  # fmt: skip
    print(f"results: {record('synth', {'rows': rows, 'speedup': round(speedup, 2), 'kokoro': kokoro})}")
    shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
