"""Real people: the Picovoice wake-word benchmark's protocol on models trained on synthetic voices.

    python -m bench.real_speech [--keywords computer jarvis "hey computer"] [--devices 200]
                                [--train-args "--central"] [--synth-args "--neural-phrase-takes 20"]
                                [--sphinx-thresholds 1e-30,1e-20,...]

For each keyword: a fleet synthesized for it (``wakeword data synth``), ``wakeword train`` with its
defaults (plus ``--train-args``), ``wakeword export`` (int8 for the log-mel models); then every real clip of
``../shared/speech`` streamed through the exported model at its shipped threshold, as
``wakeword detect`` does (:mod:`wakeword.file_eval`):

- FRR on the keyword's real clips (Picovoice benchmark; Precise for "hey computer"), clean and
  mixed with real noise (Speech Commands ``_silence_``) at 10 dB SNR;
- false accepts per hour on LibriSpeech (1.09 h) plus the fleet's background streams;
- the share of the other keywords' real clips that fire.

In the same run PocketSphinx (keyword-spotting mode, its en-us model) decodes the same clips at
several thresholds; its FRR is read at the FA/h the model reached. Results: runs/bench/real_speech.json,
a DET plot per keyword in runs/bench/real-speech/. Skips cleanly where ../shared/speech is absent.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from bench.common import RESULTS, record, wakeword

OUT = RESULTS / "real-speech"
SNR_DB = 10.0  # the Picovoice benchmark's mixing level
SPHINX_THRESHOLDS = (1e-40, 1e-30, 1e-20, 1e-10, 1e-5)  # a full decode of every clip each


def build_model(
    keyword: str, *, devices: int, train_args: list[str], synth_args: list[str] = ()
) -> tuple[Path, Path]:
    """Fleet, default training and default export for ``keyword`` (each step skipped when done)."""
    folder = OUT / keyword.replace(" ", "-")
    fleet, run, model = folder / "fleet", folder / "run", folder / "model.tflite"
    if not (fleet / ".complete").exists():
        wakeword("data", "synth", "--phrase", keyword, "--devices", devices, "--out", fleet, *synth_args)
        (fleet / ".complete").touch()
    if not (run / "model.keras").exists() and not (run / "run.json").exists():
        wakeword("train", "--fleet", fleet, "--out", run, *train_args)
    if not list(run.glob("eval-*/report.json")):  # the threshold the model ships with
        wakeword("eval", "--model", run, "--fleet", fleet)
    if not model.exists():
        wakeword("export", run, "--out", model)  # the model's own default (int8; float16 for speech_dnn)
    return fleet, model


def _sets(keyword: str, fleet: Path | None, rng: np.random.Generator) -> dict[str, list]:
    """The test sets as lists of (name, audio)."""
    from data_tools import real_sets
    from data_tools.fleet import Fleet

    if keyword in real_sets.PICOVOICE_KEYWORDS:
        positives = list(real_sets.load_clips(real_sets.keyword_clips(keyword)))
        others = [
            clip
            for other in real_sets.PICOVOICE_KEYWORDS
            if other != keyword and not set(other.split()) & set(keyword.split())
            for clip in real_sets.load_clips(real_sets.keyword_clips(other))
        ]
    else:
        positives = list(real_sets.load_clips(real_sets.precise_clips(keyword)))
        others = [
            clip
            for k in real_sets.PICOVOICE_KEYWORDS
            for clip in real_sets.load_clips(real_sets.keyword_clips(k))
        ]
    noises = real_sets.noise_clips()
    noisy = [
        (name, real_sets.mix_at_snr(audio, noises[int(rng.integers(len(noises)))], SNR_DB, rng))
        for name, audio in positives
    ] if noises else []  # fmt: skip
    negatives = list(real_sets.load_clips(real_sets.librispeech_files()))
    if fleet is not None:
        negatives += [(s.root.name, s.read(s.clips()[0])) for s in Fleet(fleet).streams("test")]
    # Precise's real owners of a Picovoice keyword ("computer": two people), a second real set
    precise = real_sets.precise_clips(keyword) if keyword in real_sets.PICOVOICE_KEYWORDS else []
    return {
        "positives": positives, "noisy": noisy, "others": others, "negatives": negatives,
        "precise": list(real_sets.load_clips(precise)),
    }  # fmt: skip


def evaluate_model(model_path: Path, sets: dict[str, list]) -> dict:
    """The exported model at its shipped threshold, plus its DET curve from the kept scores."""
    from wakeword.file_eval import det_rows, score_files
    from wakeword.progress import ProgressBars
    from wakeword.stream import TFLiteModel

    model = TFLiteModel(model_path)
    config = model.detector_config()
    scored = {}
    for name, audios in sets.items():
        if name == "precise" and not audios:  # no Precise owner of this keyword
            continue
        with ProgressBars() as bars:
            progress = lambda _what, done, total, n=name: bars.update(f"wakeword on {n}", done, total)  # noqa: E731
            scored[name] = score_files(model, config, audios, progress=progress)
    hours = scored["negatives"].hours
    return {
        "threshold": config.threshold,
        "frr": 1 - scored["positives"].found_rate(),
        "frr_noisy": 1 - scored["noisy"].found_rate() if scored["noisy"].files else None,
        "fa_per_hour": scored["negatives"].false_accepts() / max(hours, 1e-9),
        "false_accepts": scored["negatives"].false_accepts(),
        "negative_hours": hours,
        "other_keywords_firing": scored["others"].found_rate(),
        **_precise_result(scored.get("precise")),
        "positives": len(scored["positives"].files),
        "missed": [f.name for f in scored["positives"].files if f.detections == 0],
        "false_accept_files": {f.name: f.detections for f in scored["negatives"].files if f.detections},
        "det_curve": det_rows(scored["positives"], scored["negatives"], config),
    }


def _precise_result(scored) -> dict:
    """FRR on Precise's real owners of the keyword, and the clips missed (None where absent)."""
    if scored is None:
        return {"frr_precise": None, "precise_missed": []}
    missed = [f.name for f in scored.files if f.detections == 0]
    return {"frr_precise": len(missed) / len(scored.files), "precise_missed": missed}


def _sphinx_detections(keyphrase: str, threshold: float, audios: list) -> list[int]:
    from pocketsphinx import Decoder

    decoder = Decoder(keyphrase=keyphrase, kws_threshold=threshold, loglevel="FATAL")
    counts = []
    for _, audio in audios:
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = decoder.seg()
        counts.append(sum(1 for _ in segments) if segments is not None else 0)
    return counts


_WORKER_SETS: dict[str, list] = {}


def _sphinx_worker_init(keyword: str, fleet: Path | None, seed: int) -> None:
    _WORKER_SETS.update(_sets(keyword, fleet, np.random.default_rng(seed)))  # the same clips, rebuilt


def _sphinx_row(keyword: str, threshold: float, sets: dict[str, list] | None = None) -> dict:
    sets = sets if sets is not None else _WORKER_SETS
    hours = sum(a.size for _, a in sets["negatives"]) / 16_000 / 3600
    found = _sphinx_detections(keyword, threshold, sets["positives"])
    noisy = _sphinx_detections(keyword, threshold, sets["noisy"]) if sets["noisy"] else []
    false = sum(_sphinx_detections(keyword, threshold, sets["negatives"]))
    return {
        "threshold": threshold,
        "frr": float(np.mean([c == 0 for c in found])),
        "frr_noisy": float(np.mean([c == 0 for c in noisy])) if noisy else None,
        "fa_per_hour": false / max(hours, 1e-9),
    }


def evaluate_pocketsphinx(
    keyword: str, thresholds, *, fleet: Path | None, seed: int, jobs: int = 1
) -> list[dict]:
    """PocketSphinx keyword spotting on the same clips, one full decode per threshold, thresholds
    spread over ``jobs`` processes (each rebuilds the same sets from ``fleet`` and ``seed``)."""
    import functools
    import multiprocessing

    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")  # this process holds TFLite threads: no fork
    processes = max(1, min(jobs, len(thresholds)))
    with context.Pool(processes, _sphinx_worker_init, (keyword, fleet, seed)) as pool:
        rows = []
        work = pool.imap(functools.partial(_sphinx_row, keyword), thresholds)
        for row in tqdm(work, total=len(thresholds), desc="pocketsphinx thresholds", unit="decode"):
            rows.append(row)
            print(f"  pocketsphinx {row['threshold']:g}: FRR {row['frr']:.1%}, {row['fa_per_hour']:.2f} FA/h")
    return rows


def frr_at(rows: list[dict], fa_per_hour: float, key: str = "frr") -> float | None:
    """The lowest FRR among operating points with at most ``fa_per_hour`` (None if none)."""
    values = [r[key] for r in rows if r["fa_per_hour"] <= fa_per_hour + 1e-9 and r[key] is not None]
    return min(values) if values else None


def _plot(keyword: str, ours: dict, sphinx: list[dict]) -> Path:
    from wakeword.plots import save_det_plot

    path = OUT / f"det-{keyword.replace(' ', '-')}.png"
    curves = {"wakeword (the shipped file)": ours["det_curve"]}
    if sphinx:
        curves["PocketSphinx"] = sorted(sphinx, key=lambda r: r["fa_per_hour"])
    save_det_plot(
        path, curves, points={"wakeword (shipped threshold)": (ours["fa_per_hour"], ours["frr"])},
        target_fa_per_hour=0.5, title=f"real people saying {keyword!r} (LibriSpeech + streams negatives)",
    )  # fmt: skip
    return path


def run_keyword(keyword: str, args: argparse.Namespace) -> dict:
    fleet, model = build_model(
        keyword, devices=args.devices, train_args=shlex.split(args.train_args),
        synth_args=shlex.split(args.synth_args),
    )  # fmt: skip
    sets = _sets(keyword, fleet, np.random.default_rng(args.seed))
    ours = evaluate_model(model, sets)
    sphinx = []
    if not args.no_pocketsphinx:
        sphinx = evaluate_pocketsphinx(
            keyword, args.sphinx_thresholds, fleet=fleet, seed=args.seed, jobs=args.jobs
        )
    result = {
        "keyword": keyword,
        "model": str(model),
        "wakeword": ours,
        "pocketsphinx": sphinx,
        "pocketsphinx_frr_at_same_fa": frr_at(sphinx, ours["fa_per_hour"]),
        "det_plot": str(_plot(keyword, ours, sphinx)),
    }
    print(_summary(result))
    return result


def _summary(r: dict) -> str:
    o = r["wakeword"]
    noisy = "-" if o["frr_noisy"] is None else f"{o['frr_noisy']:.1%}"
    ps = r["pocketsphinx_frr_at_same_fa"]
    return (
        f"{r['keyword']!r}: {o['positives']} real clips, FRR {o['frr']:.1%} (10 dB SNR: {noisy}) at "
        f"threshold {o['threshold']:.3f}, {o['fa_per_hour']:.2f} FA/h over {o['negative_hours']:.2f} h, "
        f"other keywords firing {o['other_keywords_firing']:.1%}"
        + ("" if o.get("frr_precise") is None else f"; Precise's speakers: FRR {o['frr_precise']:.1%}")
        + "; PocketSphinx at the same FA/h: "
        + ("-" if ps is None else f"{ps:.1%}")
    )


def main(argv: list[str] | None = None) -> int:
    from data_tools.shared_data import shared_speech_dir

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keywords", nargs="+", default=["computer", "jarvis", "hey computer"])
    parser.add_argument("--devices", type=int, default=200, help="phones in each keyword's fleet")
    parser.add_argument("--train-args", default="", help="extra `wakeword train` options (default none)")
    parser.add_argument("--synth-args", default="", help="extra `wakeword data synth` options (default none)")
    parser.add_argument("--seed", type=int, default=1, help="noise mixing seed")
    parser.add_argument("--no-pocketsphinx", action="store_true")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="PocketSphinx processes")
    parser.add_argument(
        "--sphinx-thresholds",
        type=lambda s: [float(x) for x in s.split(",")],
        default=list(SPHINX_THRESHOLDS),
    )
    args = parser.parse_args(argv)
    if shared_speech_dir() is None:
        print("skipped: ../shared/speech is absent")
        return 0
    results = [run_keyword(k, args) for k in args.keywords]
    path = record("real_speech", {"keywords": results})
    print(f"results: {path}")
    (OUT / "summary.txt").write_text("\n".join(_summary(r) for r in results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
