"""The main job, end to end, on a small default fleet (``make demo`` / ``wakeword demo``).

Runs every step that exists so far on real inputs and names the steps still to come.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wakeword.constants import SAMPLE_RATE
from wakeword.features import DEFAULT_FEATURES, FeatureConfig

# Steps of the full pipeline that later work adds, in order, with the command that will run them.
STEPS_TO_COME = (
    ("simulated phone fleet", "wakeword data synth"),
    ("federated training with TFF", "wakeword train"),
    ("evaluation on held-out phones (FRR at 0.5 FA/h, DET plot)", "wakeword eval"),
    ("int8 TFLite export", "wakeword export"),
    ("detection in a test file", "wakeword detect"),
)

# A few distinct synthetic speakers for the phrase (engine, voice, rate, pitch).
DEMO_VOICES = (
    ("espeak-ng", "en-us", 160, 50),
    ("espeak-ng", "en-gb+f3", 150, 70),
    ("flite", "slt", 175, 50),
    ("flite", "awb", 175, 50),
)


@dataclass(frozen=True)
class DemoConfig:
    """What ``wakeword demo`` runs on."""

    out: Path = Path("runs/demo")  # where clips, plots and the TFLite frontend go (ignored by git)
    phrase: str = "hey computer"  # the wake phrase
    devices: int = 24  # phones in the simulated fleet (used once fleet synthesis exists)
    features: FeatureConfig = DEFAULT_FEATURES  # the shared frontend


def run_demo(config: DemoConfig, *, echo: Callable[[str], None] = print) -> dict:
    """Run the demo steps; returns a summary dict (also printed as a table)."""
    from data_tools.shared_data import shared_speech_dir
    from data_tools.tts import Voice, synthesize
    from wakeword.audio import load_audio, write_wav
    from wakeword.features import log_mel
    from wakeword.plots import save_log_mel_plot

    clips_dir = config.out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"phrase": config.phrase}
    started = time.perf_counter()

    echo(f"[1/4] synthesizing {config.phrase!r} with {len(DEMO_VOICES)} offline voices")
    paths = []
    for engine, name, rate, pitch in DEMO_VOICES:
        path = clips_dir / f"{engine}-{name.replace('+', '_')}.wav"
        if not path.exists():
            write_wav(path, synthesize(config.phrase, voice=Voice(engine, name, rate, pitch)))
        paths.append(path)
        echo(f"      {path}")

    echo("[2/4] log-mel features, librosa reference vs in-model TF layer")
    worst = 0.0
    for path in paths:
        audio = load_audio(path)
        ref = log_mel(audio, config=config.features, source=str(path))
        tf_feats = log_mel(audio, config=config.features, backend="tf", source=str(path))
        worst = max(worst, float(np.max(np.abs(ref - tf_feats))))
    summary["clips"] = len(paths)
    summary["frontend max |librosa - tf|"] = f"{worst:.1e}"
    plot = config.out / "phrase-logmel.png"
    save_log_mel_plot(plot, log_mel(load_audio(paths[0])), title=f"{config.phrase!r} ({paths[0].name})")
    echo(f"      max difference {worst:.1e} (log domain); picture: {plot}")

    echo("[3/4] real recordings from ../shared/speech")
    speech = shared_speech_dir()
    if speech is None:
        echo("      skipped: ../shared/speech is absent")
        summary["real recordings"] = "absent"
    else:
        real = sorted((speech / "fsdd" / "recordings").glob("*.wav"))[:3]
        real += sorted((speech / "speech_commands_v0.02_testset_subset" / "yes").glob("*.wav"))[:3]
        for path in real:
            feats = log_mel(load_audio(path, min_seconds=0.05), config=config.features)
            echo(f"      {path.relative_to(speech)}: {feats.shape[0]} frames")
        summary["real recordings"] = len(real)

    echo("[4/4] the frontend inside a Keras model, converted to TFLite, run by the interpreter")
    summary.update(_check_tflite_frontend(config, paths[0]))
    echo(f"      TFLite vs Keras max difference {summary['tflite max |tflite - keras|']}")

    summary["wall time"] = f"{time.perf_counter() - started:.1f} s"
    echo("")
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        echo(f"  {key:<{width}}  {value}")
    echo("")
    echo("Steps still to come (later issues complete the demo):")
    for what, command in STEPS_TO_COME:
        echo(f"  - {what}: `{command}`")
    return summary


def _check_tflite_frontend(config: DemoConfig, clip: Path) -> dict:
    import tensorflow as tf

    from wakeword.audio import load_audio
    from wakeword.tf_frontend import LogMelFrontend

    window = np.zeros(SAMPLE_RATE, dtype=np.float32)
    audio = load_audio(clip)[:SAMPLE_RATE]
    window[: audio.size] = audio
    inputs = tf.keras.Input(shape=(SAMPLE_RATE,), dtype=tf.float32)
    model = tf.keras.Model(inputs, LogMelFrontend(config.features)(inputs))
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = config.out / "frontend.tflite"
    path.write_bytes(flatbuffer)
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], window[None])
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    diff = float(np.max(np.abs(out - model(window[None]).numpy())))
    return {
        "tflite frontend": f"{path} ({len(flatbuffer) / 1024:.0f} KB)",
        "tflite max |tflite - keras|": f"{diff:.1e}",
    }
