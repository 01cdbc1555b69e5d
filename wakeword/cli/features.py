"""Compute log-mel features of an audio file, print their shape and range, and save them.

Useful to check what the model will see: the same frontend runs in training and on devices.
Example:  wakeword features clip.wav --out clip.npy --plot clip.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wakeword.frontend import BACKENDS

HELP = "log-mel features of an audio file (shape, range, .npy, plot)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="audio file (WAV, FLAC, OGG, ...; any rate, mono or stereo)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="librosa",
        help="implementation: librosa (NumPy reference) or tf (the in-model Keras layer); default librosa",
    )
    parser.add_argument("--out", type=Path, help="save the features as a .npy array (frames x mels)")
    parser.add_argument("--plot", type=Path, help="save a picture of the features (PNG)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from wakeword.audio import load_audio
    from wakeword.constants import SAMPLE_RATE
    from wakeword.features import DEFAULT_FEATURES
    from wakeword.fileio import atomic_write
    from wakeword.frontend import log_mel
    from wakeword.plots import save_log_mel_plot

    config = DEFAULT_FEATURES
    audio = load_audio(args.file, min_seconds=config.n_fft / SAMPLE_RATE)
    feats = log_mel(audio, config=config, backend=args.backend, source=str(args.file))
    print(
        f"{args.file}: {audio.size / SAMPLE_RATE:.2f} s -> log-mel {feats.shape[0]} frames x "
        f"{feats.shape[1]} mels ({1000 / config.hop_ms:g} frames/s, backend {args.backend})"
    )
    print(
        f"  range [{feats.min():.2f}, {feats.max():.2f}]  mean {feats.mean():.2f}  "
        f"std {feats.std():.2f}  (log floor {np.log(config.log_floor):.2f} = silence)"
    )
    if args.out is not None:
        out = args.out if args.out.suffix == ".npy" else args.out.with_suffix(args.out.suffix + ".npy")
        with atomic_write(out) as handle:
            np.save(handle, feats)
        print(f"  saved {out}")
    if args.plot is not None:
        save_log_mel_plot(args.plot, feats, config=config, title=args.file.name)
        print(f"  plotted {args.plot}")
    return 0
