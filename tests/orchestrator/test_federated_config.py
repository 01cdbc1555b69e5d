"""A federated run's settings and its parts without TFF: sampling, the algorithm description,
schedules, the DP accountant (plain Python and NumPy, no TFF runtime)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from orchestrator.federated import (
    FederatedConfig,
    _changed_settings,
    _settings,
    dp_epsilon,
    evaluation_sample,
    sample_clients,
)
from orchestrator.federated_config import dp_noise_for_epsilon, dp_settings
from orchestrator.schedules import cosine_learning_rate
from orchestrator.tff_process import client_learning_rate_fn
from wakeword.errors import ParameterError

IDS = [f"phone-{i:04d}" for i in range(20)]


def test_sampling_is_seeded_and_drops_out():
    config = FederatedConfig(clients_per_round=5, dropout_rate=0.4, seed=3)
    a, b = sample_clients(IDS, 7, config), sample_clients(IDS, 7, config)
    assert a == b and len(a[0]) == 5 and set(a[1]) <= set(a[0])
    assert sample_clients(IDS, 8, config)[0] != a[0]
    dropped = sum(5 - len(sample_clients(IDS, r, config)[1]) for r in range(200))
    assert 0.3 < dropped / 1000 < 0.5
    all_fail = FederatedConfig(clients_per_round=3, dropout_rate=0.99)
    assert len(sample_clients(IDS, 1, all_fail)[1]) == 1  # at least one phone reports


def test_evaluation_phones_are_a_fixed_capped_sample():
    config = FederatedConfig(eval_clients=5, seed=3)
    sample = evaluation_sample(IDS, config)
    assert len(sample) == 5 and set(sample) <= set(IDS) and sample == sorted(sample)
    assert evaluation_sample(IDS, config) == sample
    assert evaluation_sample(IDS[:4], config) == IDS[:4]  # fewer than the cap: all of them


def test_resume_compares_settings_an_older_version_did_not_record_as_defaults():
    settings = _settings(FederatedConfig(rounds=7))
    older = {k: v for k, v in settings.items() if k not in ("eval_clients", "server_momentum")}
    older["augment"] = {k: v for k, v in older["augment"].items() if k != "warp"}
    assert _changed_settings(older, settings) == []
    assert _changed_settings(older, _settings(FederatedConfig(rounds=7, eval_clients=3))) == ["eval_clients"]
    fedavgm = FederatedConfig(rounds=8, server_optimizer="sgd", server_momentum=0.9)
    assert _changed_settings(settings, _settings(fedavgm)) == [
        "rounds",
        "server_momentum",
        "server_optimizer",
    ]


def test_server_options_are_checked():
    for bad, fragment in (
        ({"server_momentum": 0.9}, "`server_momentum` is for `server_optimizer` sgd"),
        ({"server_optimizer": "sgd", "server_momentum": 1.0}, "`server_momentum` must be in [0, 1)"),
        ({"server_schedule": "step"}, "`server_schedule` must be one of"),
        ({"client_optimizer": "yogi"}, "`client_optimizer` must be one of"),
        ({"proximal_strength": -0.1}, "`proximal_strength` must be >= 0"),
        ({"client_schedule": "step"}, "`client_schedule` must be one of"),
        ({"client_schedule": "cosine", "proximal_strength": 0.1}, "select different client algorithms"),
        ({"client_schedule": "cosine", "aggregator": "dp"}, "drop `client_schedule`"),
        ({"fairness_q": -1.0}, "`fairness_q` must be >= 0"),
        ({"fairness_q": float("inf")}, "`fairness_q` must be >= 0, got inf"),
        ({"fairness_q": 1.0, "aggregator": "dp"}, "drop `fairness_q`"),
        ({"rounds": 0}, "`rounds` must be >= 1, got 0"),
        ({"aggregator": "dp", "dp_target_epsilon": 0.0}, "`dp_target_epsilon` must be > 0"),
        ({"aggregator": "dp", "dp_delta": 1.0}, "`dp_delta` must be in [0, 1)"),
        ({"aggregator": "dp", "dp_clipping": "median"}, "`dp_clipping` must be one of"),
    ):
        with pytest.raises(ParameterError, match=re.escape(fragment)):
            FederatedConfig(**bad)


def test_one_algorithm_description_covers_every_combination():
    from orchestrator.federated_config import AGGREGATORS, CLIENT_WORK, UNWEIGHTED_WORK
    from orchestrator.tff_process import _CLIENT_WORK

    assert set(_CLIENT_WORK) == {"fedavg", *CLIENT_WORK}  # a builder for each described algorithm
    selects = {
        "fedavg": {},
        "fedprox": {"proximal_strength": 0.1},
        "fair": {"fairness_q": 1.0},
        "scheduled": {"client_schedule": "cosine"},
    }
    for work, settings in selects.items():
        for aggregator in AGGREGATORS:
            if aggregator == "dp" and work not in UNWEIGHTED_WORK:
                with pytest.raises(ParameterError, match="`aggregator` dp"):
                    FederatedConfig(aggregator=aggregator, **settings)
                continue
            algorithm = FederatedConfig(aggregator=aggregator, **settings).algorithm
            assert (algorithm.client_work, algorithm.weighted) == (work, aggregator != "dp")


def test_cosine_server_schedule_decays_to_the_floor():
    steps = [float(cosine_learning_rate(r, peak=0.01, rounds=40)) for r in (0, 20, 40, 60)]
    np.testing.assert_allclose(steps, [0.01, 0.01 * 0.525, 0.0005, 0.0005], rtol=1e-6)
    cosine = FederatedConfig(rounds=40, client_learning_rate=0.02, client_schedule="cosine")
    phones = client_learning_rate_fn(cosine)
    np.testing.assert_allclose([float(phones(r)) for r in (0, 40)], [0.02, 0.001], rtol=1e-6)
    assert client_learning_rate_fn(FederatedConfig(rounds=40, client_learning_rate=0.02))(39) == 0.02


def test_dp_epsilon_follows_noise_and_rounds():
    base = {"n_clients": 1000, "clients_per_round": 50, "delta": 1e-5}
    eps = dp_epsilon(noise_multiplier=1.0, rounds=100, **base)
    assert 0 < eps < float("inf")
    assert dp_epsilon(noise_multiplier=2.0, rounds=100, **base) < eps
    assert dp_epsilon(noise_multiplier=1.0, rounds=400, **base) > eps
    assert dp_epsilon(noise_multiplier=0.0, rounds=1, **base) == float("inf")


def test_dp_epsilon_is_dp_accountings_for_the_same_sampling():
    """The RDP accountant of dp-accounting composed here for 100 rounds of 100 of 1,000 phones
    sampled without replacement (replace-one neighbours), and the value it gave when written."""
    import dp_accounting

    sampled = dp_accounting.SampledWithoutReplacementDpEvent(1000, 100, dp_accounting.GaussianDpEvent(1.5))
    replace_one = dp_accounting.NeighboringRelation.REPLACE_ONE
    accountant = dp_accounting.rdp.RdpAccountant(neighboring_relation=replace_one)
    accountant.compose(dp_accounting.SelfComposedDpEvent(sampled, 100))
    ours = dp_epsilon(n_clients=1000, clients_per_round=100, noise_multiplier=1.5, rounds=100, delta=1e-5)
    assert ours == accountant.get_epsilon(1e-5)
    assert ours == pytest.approx(8.1729, abs=1e-3)


def test_dp_target_epsilon_picks_the_least_noise_that_meets_it():
    base = {"n_clients": 1000, "clients_per_round": 100, "rounds": 100, "delta": 1e-5}
    noise = dp_noise_for_epsilon(8.0, **base)
    assert dp_epsilon(noise_multiplier=noise, **base) <= 8.0
    assert dp_epsilon(noise_multiplier=0.99 * noise, **base) > 8.0
    config = FederatedConfig(
        aggregator="dp", dp_target_epsilon=8.0, clients_per_round=100, rounds=100, dp_delta=1e-5
    )
    resolved = dp_settings(config, 1000)
    assert resolved.dp_noise_multiplier == pytest.approx(noise, rel=1e-5) and resolved.dp_delta == 1e-5
    assert dp_settings(FederatedConfig(aggregator="dp"), 100).dp_delta == pytest.approx(100**-1.1)
    assert dp_settings(FederatedConfig(), 100) == FederatedConfig()  # not dp: unchanged
    with pytest.raises(ParameterError, match="out of reach"):
        dp_noise_for_epsilon(1e-4, **base)


def test_adaptive_clipping_needs_ten_times_the_noise_in_phones():
    config = FederatedConfig(
        aggregator="dp", dp_clipping="adaptive", clients_per_round=10, dp_noise_multiplier=1.0
    )
    with pytest.raises(ParameterError, match=r"more than 10 x the noise multiplier \(1\) phones reporting"):
        dp_settings(config, 1000)
    assert dp_settings(dataclasses.replace(config, clients_per_round=11), 1000).dp_clipping == "adaptive"
