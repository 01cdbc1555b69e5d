"""Which model a fine-tuning run ships: the phones' summed detection counts against `wakeword
eval`'s curves from the audio, and the choice on NumPy counts."""

from __future__ import annotations

import numpy as np
import pytest

from device_client.detection_counts import detection_counts, ensure_scoring_cache
from orchestrator.evaluation import EvalConfig, choose_threshold, score_stores
from orchestrator.phase_choice import choose_for_run, choose_model, operating_summary, validation_members
from wakeword.metrics import THRESHOLDS, fa_per_hour, false_reject_rate


def test_a_phones_counts_give_the_evaluations_curves(tiny_fleet):
    """Summed over the validation phones and streams, the counts are the FRR and FA/h curves
    `wakeword eval` computes from the audio (a seeded untrained model: scores spread widely)."""
    from models import DEFAULT_MODEL, build_model
    from wakeword.scoring import KerasScorer
    from wakeword.window import DEFAULT_WINDOW

    window = DEFAULT_WINDOW

    model = build_model(DEFAULT_MODEL, (window.frames, window.features.n_mels), seed=3)
    config = EvalConfig()
    stores = [tiny_fleet.store(p) for p in tiny_fleet.validation_ids()] + tiny_fleet.streams("validation")
    assert sorted(validation_members(tiny_fleet)) == sorted(s.phone_id for s in stores)
    scored = score_stores(KerasScorer(model, window), stores[:-1], stores[-1:], config)
    total: dict = {}
    for store in stores:
        det = config.detector
        counts = detection_counts(
            str(ensure_scoring_cache(store, window)), lambda x: model(x, training=False), window=window,
            thresholds=THRESHOLDS, smooth_windows=det.smooth_windows, refractory=det.refractory_windows,
            accept_after_s=config.accept_after_s,
        )  # fmt: skip
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value.numpy()
    assert total["positives"] == len(scored.positives) > 0
    np.testing.assert_allclose(1 - total["found"] / total["positives"], false_reject_rate(scored.positives))
    hours = total["negative_seconds"] / 3600
    assert hours == pytest.approx(sum(n.seconds for n in scored.negatives) / 3600)
    fa = fa_per_hour(scored.negatives, THRESHOLDS, config.detector.refractory_windows)
    np.testing.assert_allclose(total["false_accepts"] / hours, fa)
    assert operating_summary(total, config)["threshold"] == choose_threshold(scored.negatives, config)[0]


def test_the_start_is_kept_only_where_it_misses_fewer():
    """The choice on summed counts (NumPy): 1 of 4 phrases missed beats 2 of 4; a tie keeps the
    fine-tuned model. 0.5 h of negatives, one event at every threshold up to 0.6."""
    t = THRESHOLDS.size
    events = np.where(THRESHOLDS <= 0.6, 1, 0)

    def counts(found_below_09: int):
        found = np.where(THRESHOLDS < 0.9, found_below_09, 0)
        return {"positives": 4, "found": found, "negative_seconds": 1800.0, "false_accepts": events}

    summary = operating_summary(counts(3), EvalConfig())
    assert summary["frr"] == 0.25 and summary["fa_per_hour"] == 0.0 and summary["positives"] == 4
    assert 0.6 < summary["threshold"] < 0.62 and summary["rule"] == "count" and t == 402
    measured = {"start": counts(3), "final": counts(2)}
    assert choose_model(measured.get, "start", "final")["shipped"] == "start"
    measured["final"] = counts(3)
    assert choose_model(measured.get, "start", "final")["shipped"] == "final"


def test_ship_is_checked():
    from orchestrator.federated_config import FederatedConfig
    from wakeword.errors import ParameterError

    assert FederatedConfig().ship == "better" and FederatedConfig(ship="final").ship == "final"
    with pytest.raises(ParameterError, match="`ship`"):
        FederatedConfig(ship="best")


def test_no_validation_members_keeps_the_fine_tuned_model(tmp_path):
    """A fleet without validation phones or streams: nothing to count on, the run says so and
    keeps the fine-tuned model (None), opening no store."""
    import json

    from data_tools.fleet import Fleet

    description = {
        "format": "wakeword-fleet", "version": 1, "phrase": "hey computer", "background": [],
        "phones": [{"path": "phones/p0", "phone_id": "p0", "split": "train"}],
    }  # fmt: skip
    (tmp_path / "fleet.json").write_text(json.dumps(description))
    lines = []
    chosen = choose_for_run(
        None, Fleet(tmp_path), None, "start", "final", prepare=True, progress=None, log=lines.append
    )  # fmt: skip
    assert chosen is None and validation_members(Fleet(tmp_path)) == {}
    assert lines == ["no validation phones or streams to compare the models on: keeping the fine-tuned one"]
