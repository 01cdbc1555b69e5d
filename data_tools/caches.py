"""Have every phone of a fleet compute its feature cache ahead of training (``wakeword data cache``).

Training does this itself, each phone just before it first takes part, but only on the machine
that runs ``wakeword train``. A TFF worker on another machine reads the caches of its copy of the
fleet (``PHONE/cache/logmel.tfrecord``, the client computation cannot compute features itself), so
its copy needs them built first. Each cache is computed from the phone's own store, into that store.
"""

from __future__ import annotations

import multiprocessing
import os

from data_tools.fleet import Fleet
from device_client.pipeline import cache_is_current, ensure_feature_cache
from device_client.store import PhoneStore
from wakeword.errors import ParameterError
from wakeword.progress import Progress
from wakeword.window import DEFAULT_WINDOW, WindowConfig

__all__ = ["build_caches"]


def build_caches(
    fleet: Fleet,
    *,
    window: WindowConfig = DEFAULT_WINDOW,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Build the feature cache of every phone that trains or validates (held-out test phones are
    scored from their audio and need none).

    Parameters
    ----------
    fleet : Fleet
    window : WindowConfig
        The feature settings training uses (the default).
    jobs : int, optional
        Processes in parallel (default: all cores).
    progress : callable, optional
        Called as ``progress("caching", done, total)`` after each phone.

    Returns
    -------
    (built, current) : tuple of int
        Caches computed now, and caches that were already current.
    """
    if jobs is not None and jobs < 1:
        raise ParameterError(f"`jobs` must be >= 1, got {jobs}")
    phone_ids = fleet.training_ids() + fleet.validation_ids()
    paths = {entry.phone_id: fleet.root / entry.path for entry in fleet.phones}
    todo = [p for p in phone_ids if not cache_is_current(PhoneStore(paths[p]), window)]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if progress is not None:
        progress("caching", 0, len(todo))
    if todo:
        context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TF threads
        with context.Pool(jobs) as pool:
            args = [(str(paths[p]), window) for p in todo]
            for done, _ in enumerate(pool.imap_unordered(_build_one, args), start=1):
                if progress is not None:
                    progress("caching", done, len(todo))
    return len(todo), len(phone_ids) - len(todo)


def _build_one(args: tuple[str, WindowConfig]) -> str:
    store_root, window = args  # the store itself: no re-reading of fleet.json per phone
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return str(ensure_feature_cache(PhoneStore(store_root), window))
