"""A tiny synthetic fleet and a TFF worker shared by the orchestrator tests."""

from __future__ import annotations

import pytest

from data_tools.fleet import Fleet
from data_tools.synth import FleetConfig, synth_fleet

TINY_FLEET = FleetConfig(
    devices=6,
    test_fraction=0.2,
    positives=5,
    in_sentence=1,
    partials=2,
    soundalikes=2,
    speech=5,
    noise=2,
    background_minutes=0.5,
    stream_minutes=0.25,
    other_kokoro_texts=0,  # the Kokoro pool of other people is made in test_others
)


@pytest.fixture(scope="session")
def tiny_fleet(tmp_path_factory) -> Fleet:
    """5 training phones (one of them validation), 1 held-out phone, 30 s of streams."""
    return synth_fleet(TINY_FLEET, tmp_path_factory.mktemp("orchestrator") / "fleet", jobs=2)


@pytest.fixture(scope="module")
def tff_worker():
    """One owned TFF worker installed as the default context for the module's tests."""
    from orchestrator.context import install_context
    from orchestrator.worker import OwnedWorker

    with OwnedWorker() as worker:
        install_context([worker.target])
        yield worker
