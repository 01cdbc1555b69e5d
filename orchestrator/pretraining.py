"""The default recipe: the server pre-trains on voices it synthesizes itself, the phones fine-tune.

Phase 1 (server pre-training) is central training on a fleet of speakers the server synthesizes
for itself: the same synthesis, rooms and noise as a simulated phone, never a phone's audio. Its
model is cached (``$WAKEWORD_SERVER_CACHE``, default ``~/.cache/wakeword/server``) under a key of
the phrase and every setting that shapes it, and reused by every later run with the same key.
Server models the project made once ship in the repository (``orchestrator/server_models``, same
layout and keys as the cache) and are used before the cache: a fresh machine training the default
phrase with the default settings skips phase 1. Phase 2 (federated fine-tuning) starts the
phones' rounds from that model. Measured on the 200-phone fleet (docs/BENCHMARKS.md): 5.0% FRR at
0.5 FA/h, where 40 federated rounds from a random start miss 91%.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_tools.fleet import Fleet, write_fleet_description
from data_tools.fleet_config import MIN_CLIP_SHARE, SOUNDALIKE_CHANGES, clip_counts
from data_tools.public_speech import add_public_speech
from data_tools.synth import OWNER_VOICES, FleetConfig, synth_fleet
from data_tools.text import DEFAULT_SENTENCES, SENTENCE_SOURCES, normalize_phrase
from orchestrator.central import CentralConfig, train_central
from orchestrator.federated import train_federated
from orchestrator.federated_config import FederatedConfig
from orchestrator.isolated import call_isolated
from orchestrator.run import RUN_FILE, RunDescription, read_description, write_description
from wakeword.options import check_choice, check_range, setting

__all__ = [
    "SERVER_CACHE_ENV",
    "PretrainConfig",
    "server_cache",
    "server_model",
    "server_path",
    "shipped_server_models",
    "train_pretrained",
]

SERVER_CACHE_ENV = "WAKEWORD_SERVER_CACHE"
# Server models made by the project with this module's defaults (docs/BENCHMARKS.md says how),
# shipped read-only in the repository under the same keys as the cache.
SHIPPED_SERVER_MODELS = Path(__file__).resolve().parent / "server_models"
SERVER_FORMAT = 1  # bump when the same settings would make a different server model
SERVER_SEED = 2  # the server's synthesis: another seed than a fleet's default (1)
PUBLIC_SPEECH = ("asterisk", "none")  # real recordings the server may add (data_tools.public_speech)
# Fleet settings left out of a server model's key at these values: what the server did before they existed.
KEY_NEUTRAL = {
    "pronunciation_variants": 0.0,
    "confusables": 0,
    "other_take_repeats": 0,
    "sentences": DEFAULT_SENTENCES,
    "voice_shift": 0.0,
    "soundalike_changes": "any",
    "stream_hard": "partials+soundalikes",
}


@dataclass(frozen=True)
class PretrainConfig:
    """Phase 1 of the default recipe: what the server synthesizes and trains for itself."""

    # The defaults are the server of the measured-best recipe (docs/BENCHMARKS.md, section 2:
    # 122 voices with a phone's clips, central training's 20 epochs); made once per phrase and
    # machine, about 8 + 10 minutes on 2 cores.
    server_voices: int = setting(
        122,
        doc="speakers the server synthesizes for its own pre-training (about 7 s of CPU each: "
        "half are Kokoro)",
    )
    server_clip_share: float = setting(
        1.0, doc="clips per server speaker as a share of a phone's (0.5: half the clips, half the time)"
    )
    server_epochs: int = setting(20, doc="at most this many central epochs of the server's pre-training")
    server_owner_voices: str = setting(
        "all",
        choices=OWNER_VOICES,
        doc="the server's speakers: all engines, or classic (espeak-ng and flite only: a server "
        "without neural voices, to measure what the phones' voices teach it)",
    )

    server_public_speech: str = setting(
        "asterisk",
        choices=PUBLIC_SPEECH,
        doc="real recorded speech the server adds to its negatives: asterisk (Debian's Asterisk "
        "voice prompts: 4 people, 5 languages, about 2 h, scaled by --server-clip-share; installed "
        "by make setup) or none",
    )

    # a quarter of the speakers saying the phrase as a dictionary does not: real "computer" clips
    # missed at <= 0.5 / 1 / 2 FA/h, 37.1 / 28.5 / 25.2% (none, three seeds) -> 20.9 / 15.9 / 12.8%
    # (six seeds); half of them: 27.3 / 16.7 / 15.5% (six seeds; BENCHMARKS section 1, sessions 25-27)
    server_pronunciation_variants: float = setting(
        0.25,
        doc="share of the server's Kokoro and Piper speakers who say the phrase in pronunciation "
        "variants (data_tools.pronunciation: a schwa said as written, t for a flap, stress on the "
        "first syllable...; 0: as the dictionary says it)",
    )

    # off: 20 per speaker left real "computer" misses level at <= 0.5 FA/h and 4-6 points worse
    # from 1 to 20 FA/h (three seeds; BENCHMARKS section 1, session 26)
    server_confusables: int = setting(
        0,
        doc="hard negatives per server speaker (scaled by --server-clip-share): the phrase with a "
        'real word that sounds like its longest one ("hey community"; data_tools.confusables)',
    )

    # WordNet's natural sentences in place of the templates, the free word strings kept: real
    # "computer" clips missed at <= 0.5 / 1 / 2 / 5 / 20 FA/h, 20.9 / 15.9 / 12.8 / 10.8 / 7.2%
    # (templates+words, six seeds) -> 15.3 / 13.0 / 11.8 / 8.8 / 5.8% (three seeds, each within
    # 14.4-15.8% at 0.5); templates+wordnet: 25.6 / 23.2 / 21.2 / 16.4 / 10.3% (BENCHMARKS
    # section 1, session 29)
    server_sentences: str = setting(
        "wordnet+words",
        choices=SENTENCE_SOURCES,
        doc="what the server's other people say, two kinds half and half: templates (everyday "
        "sentences), words (strings from a 100k-word list), wordnet (WordNet's natural example "
        "sentences)",
    )

    server_voice_shift: float = setting(
        0.0,
        doc="the most semitones the server's voices are shifted down, spectrum and pitch together, "
        "tempo kept (data_tools FleetConfig.voice_shift; 0: as synthesized)",
    )

    # consonant: real "computer" clips missed at <= 0.5 / 1 / 2 / 5 / 20 FA/h, 13.6 / 12.2 / 10.9 /
    # 9.2 / 6.2% (any) -> 5.9 / 4.3 / 4.1 / 3.6 / 2.3% (three seeds each; BENCHMARKS section 1,
    # session 33): "komputer" and "cumputer" were negatives the pronunciation variants contradict
    server_soundalike_changes: str = setting(
        "consonant",
        choices=SOUNDALIKE_CHANGES,
        doc="which sound-alikes the server's speakers say as hard negatives: any, or consonant (only "
        "those said with other consonants; data_tools FleetConfig.soundalike_changes)",
    )

    def __post_init__(self) -> None:
        check_choice("server_soundalike_changes", self.server_soundalike_changes, SOUNDALIKE_CHANGES)
        check_range("server_voice_shift", self.server_voice_shift, low=0, high=12)
        check_range("server_voices", self.server_voices, low=2)
        check_choice("server_sentences", self.server_sentences, SENTENCE_SOURCES)
        check_range("server_confusables", self.server_confusables, low=0)
        check_range("server_pronunciation_variants", self.server_pronunciation_variants, low=0, high=1)
        check_range("server_epochs", self.server_epochs, low=1)
        check_range("server_clip_share", self.server_clip_share, low=MIN_CLIP_SHARE, high=1)
        check_choice("server_owner_voices", self.server_owner_voices, OWNER_VOICES)
        check_choice("server_public_speech", self.server_public_speech, PUBLIC_SPEECH)

    def fleet_config(self, phrase: str) -> FleetConfig:
        """The server's own fleet: ``server_voices`` training speakers (a tenth validate) and one
        held out (a fleet needs one), no background streams, no Kokoro among other people."""
        devices = self.server_voices + 1
        clips = clip_counts(self.server_clip_share)
        return FleetConfig(
            phrase=phrase, devices=devices, test_fraction=1 / devices, seed=SERVER_SEED,
            background_minutes=0, other_kokoro_texts=0, other_take_repeats=0,
            owner_voices=self.server_owner_voices,
            pronunciation_variants=self.server_pronunciation_variants, sentences=self.server_sentences,
            voice_shift=self.server_voice_shift, soundalike_changes=self.server_soundalike_changes,
            confusables=round(self.server_confusables * self.server_clip_share), **clips,
        )  # fmt: skip

    def central_config(self, *, model: str, width: float) -> CentralConfig:
        return CentralConfig(model=model, width=width, epochs=self.server_epochs)


def server_cache(cache: str | os.PathLike | None = None) -> Path:
    """Where server models are kept: ``cache``, else ``$WAKEWORD_SERVER_CACHE``, else
    ``~/.cache/wakeword/server``."""
    default = Path.home() / ".cache" / "wakeword" / "server"
    return Path(cache or os.environ.get(SERVER_CACHE_ENV) or default)


def fleet_key_settings(fleet: FleetConfig) -> dict:
    """The fleet settings that name a server model (or a bench's server fleet): all of them but
    those at the value they had before they existed, so that older keys stay valid."""
    settings = dataclasses.asdict(fleet)
    if not fleet.background_minutes:  # no streams: how they would be made shapes nothing
        settings.pop("stream_hard")
    return {k: v for k, v in settings.items() if KEY_NEUTRAL.get(k, object()) != v}


def _key(phrase: str, fleet: FleetConfig, central: CentralConfig, public_speech: str) -> str:
    """A folder name for everything that shapes a server model."""
    central_settings = {k: v for k, v in dataclasses.asdict(central).items() if k != "init_from"}
    shaping = {"format": SERVER_FORMAT, "fleet": fleet_key_settings(fleet), "central": central_settings}
    if public_speech != "none":  # (keys made before public speech existed stay valid without it)
        shaping["public_speech"] = public_speech
    blob = json.dumps(shaping, sort_keys=True, default=str)
    slug = "-".join(normalize_phrase(phrase).split())
    return f"{slug}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def server_path(
    phrase: str, config: PretrainConfig, *, model: str, width: float, cache: str | os.PathLike | None = None
) -> Path:
    """The run folder the server model for these settings is (or will be) saved in."""
    fleet = config.fleet_config(phrase)
    central = config.central_config(model=model, width=width)
    return server_cache(cache) / _key(phrase, fleet, central, config.server_public_speech) / "model"


def shipped_server_models() -> Path:
    """The folder of server models shipped with wakeword (keyed like :func:`server_cache`)."""
    return SHIPPED_SERVER_MODELS


def is_finished(run: Path) -> bool:
    return (run / RUN_FILE).is_file()


def existing_server_model(
    phrase: str, config: PretrainConfig, *, model: str, width: float, cache: str | os.PathLike | None = None
) -> Path | None:
    """The finished server model for these settings: the shipped one, else the cached one, else None."""
    for root in (shipped_server_models(), server_cache(cache)):
        run = server_path(phrase, config, model=model, width=width, cache=root)
        if is_finished(run):
            return run
    return None


def server_model(
    phrase: str,
    config: PretrainConfig = PretrainConfig(),
    *,
    model: str,
    width: float,
    cache: str | os.PathLike | None = None,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """The run folder of the server's pre-trained model for ``phrase`` (made once, then reused).

    An interrupted call resumes: finished speakers are kept; the central training restarts.
    The server's fleet is deleted once its model is saved (the model is what is reused). It is made
    in a child process (:func:`~orchestrator.isolated.call_isolated`), whose memory is given back
    before the caller goes on to the federated phase.
    """
    existing = existing_server_model(phrase, config, model=model, width=width, cache=cache)
    if existing is not None:
        shipped = existing.is_relative_to(shipped_server_models())
        log(f"server pre-training: reusing {existing}" + (" (shipped with wakeword)" if shipped else ""))
        return existing
    run = server_path(phrase, config, model=model, width=width, cache=cache)
    log(f"server pre-training: {config.server_voices} voices the server synthesizes itself -> {run.parent}")
    # in a child process: what synthesis and central training held goes back before phase 2
    where = {"model": model, "width": width, "jobs": jobs}
    return call_isolated(make_server_model, phrase, config, run, **where, progress=progress, log=log)


def make_server_model(
    phrase: str,
    config: PretrainConfig,
    run: Path,
    *,
    model: str,
    width: float,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Synthesize the server's fleet for ``phrase`` next to ``run``, train on it, save to ``run``."""
    root = run.parent
    # synthesis names each phone it finishes: one bar for all of them
    voices = None if progress is None else lambda _phone, done, total: progress("server voices", done, total)
    fleet = synth_fleet(config.fleet_config(phrase), root / "fleet", jobs=jobs, progress=voices)
    if config.server_public_speech == "asterisk":
        fleet = with_public_speech(fleet, share=config.server_clip_share, progress=_server_side(progress))
    central = config.central_config(model=model, width=width)
    train_central(fleet, run, central, progress=_server_side(progress), log=log or print)
    shutil.rmtree(root / "fleet", ignore_errors=True)
    return run


def with_public_speech(fleet: Fleet, *, share: float = 1.0, progress: Callable | None = None) -> Fleet:
    """``fleet`` with the public recordings of :mod:`data_tools.public_speech` (``share`` of them)
    as more negative phones (split "public": they train, never validate), listed in its fleet.json."""
    entries = add_public_speech(fleet.root, share=share, progress=progress)
    description = dict(fleet.description)
    listed = {p["phone_id"] for p in description["phones"]}
    description["phones"] = description["phones"] + [e for e in entries if e["phone_id"] not in listed]
    for written_by_it in ("format", "version"):
        description.pop(written_by_it, None)
    write_fleet_description(fleet.root, description)
    return Fleet(fleet.root)


def _server_side(progress: Callable | None) -> Callable | None:
    """``progress`` with each bar's name marked as the server's own work."""
    return None if progress is None else lambda what, done, total: progress(f"server {what}", done, total)


def train_pretrained(
    fleet: Fleet,
    out: str | os.PathLike,
    config: FederatedConfig = FederatedConfig(),
    pretrain: PretrainConfig = PretrainConfig(),
    *,
    resume: bool = False,
    workers: list[str] | None = None,
    cache: str | os.PathLike | None = None,
    prepare: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> RunDescription:
    """The default recipe: :func:`server_model`, then federated fine-tuning of it on ``fleet``
    (``resume``, ``workers``, ``prepare``: as :func:`~orchestrator.federated.train_federated`'s).

    Returns the federated run's description with ``phases``: each phase's time, the federated
    evaluation (loss, accuracy; FRR at the target and its threshold) on the validation phones after
    it, and whether model.keras is its model (``kept``: ``config.ship``; also in run.json). The
    phones' audio is read only inside their client computations, as in :func:`train_federated`.
    """
    started = time.perf_counter()
    where = {"model": config.model, "width": config.width, "cache": cache}
    reused = existing_server_model(fleet.phrase, pretrain, **where) is not None
    start = server_model(fleet.phrase, pretrain, **where, progress=progress, log=log)
    server_seconds = time.perf_counter() - started
    description = train_federated(
        fleet, out, dataclasses.replace(config, init_from=str(start)), resume=resume, workers=workers,
        prepare=prepare, progress=progress, log=log,
    )  # fmt: skip
    last, chosen = description.history[-1], description.selection or {}
    phases = [
        {
            "phase": "server pre-training",
            "model": str(start),
            "voices": pretrain.server_voices,
            "epochs": len(read_description(start).history),
            "seconds": round(server_seconds, 1),  # this run's: ~0 when the cached model is reused
            "reused": reused,
            "shipped": start.is_relative_to(shipped_server_models()),  # made by the project
            "validation": _validation(description.start_eval or {}, chosen.get("start")),
            "kept": chosen.get("shipped") == "start",  # model.keras is this phase's model
        },
        {
            "phase": "federated fine-tuning",
            "rounds": len(description.history),
            "seconds": description.train_seconds,
            "validation": _validation(last, chosen.get("final")),
            "kept": chosen.get("shipped", "final") == "final",
        },
    ]
    description = dataclasses.replace(description, phases=phases)
    write_description(out, description)
    return description


def _validation(row: dict, at_target: dict | None) -> dict:
    """The federated evaluation's loss and accuracy from a history row (or the start's), and the
    validation FRR and threshold at the target FA/h (:mod:`orchestrator.phase_choice`) if counted."""
    names = {"eval_loss": "loss", "eval_accuracy": "accuracy"}
    out = {name: round(float(row[key]), 5) for key, name in names.items() if key in row}
    if at_target:
        out.update({"frr": at_target["frr"], "threshold": at_target["threshold"]})
    return out
