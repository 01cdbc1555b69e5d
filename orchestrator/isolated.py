"""Run one big call in a fresh Python process, so that its memory goes back to the machine.

TensorFlow's and the C allocator's caches keep most of what a big job used after it returns: the
server's pre-training (synthesis, then central training on its whole fleet) left ~10 GB held in
the process that went on to the federated phase, which then needed 22.8 GB on a 24 GB machine.
:func:`call_isolated` runs such a call in a spawned child (no fork of a process holding TF
threads), forwards its ``progress`` and ``log`` calls to the caller's, and returns its result or
raises its exception. The child dies with its parent (a kill -9 of ``wakeword train`` leaves no
orphan writing to the cache that a resumed run would use too).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from wakeword.errors import WakewordError

POLL_SECONDS = 0.5  # how often the parent checks that a silent child is still alive
EXIT_GRACE_SECONDS = 30  # a child that has answered gets this long to exit before it is killed
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal to the process when its parent dies


def call_isolated(
    function: Callable[..., Any],
    /,
    *args: Any,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> Any:
    """``function(*args, progress=..., log=..., **kwargs)`` in a spawned child process.

    ``function``, its arguments and its result must pickle (a module-level function, paths,
    configs). ``progress(what, done, total)`` and ``log(line)`` are called here for each call the
    child makes (``None``: the child gets ``None`` too). An exception in the child is raised here
    (the same type where it pickles, else a :class:`WakewordError` or ``RuntimeError`` with its
    message; the child's traceback is in its notes). Interrupting the caller kills the child.
    """
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    forward = (progress is not None, log is not None)
    child = context.Process(
        target=_child, args=(messages, os.getpid(), function, args, kwargs, forward), name="wakeword-isolated"
    )
    child.start()
    answered = False
    try:
        while True:
            kind, payload = _next(messages, child)
            if kind == "progress":
                progress(*payload)
            elif kind == "log":
                log(payload)
            else:
                answered = True
                if kind == "error":
                    raise payload
                return payload
    finally:
        _end(child, grace=EXIT_GRACE_SECONDS if answered else 0)


def _next(messages, child) -> tuple[str, Any]:
    """The child's next message; an error if it died without answering."""
    while True:
        try:
            return messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if child.is_alive():
                continue
        try:  # it may have answered just before it ended
            return messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            ended = f"the isolated process ended without an answer (exit code {child.exitcode})"
            raise RuntimeError(ended) from None


def _end(child, *, grace: float) -> None:
    child.join(timeout=grace)
    if child.is_alive():
        child.kill()
        child.join()


def _child(messages, parent: int, function, args, kwargs, forward: tuple[bool, bool]) -> None:
    _die_with(parent)
    send_progress, send_log = forward
    callbacks = {
        "progress": (lambda what, done, total: messages.put(("progress", (what, done, total))))
        if send_progress
        else None,
        "log": (lambda line: messages.put(("log", str(line)))) if send_log else None,
    }
    try:
        messages.put(("result", function(*args, **callbacks, **kwargs)))
    except BaseException as error:  # every failure goes back to the parent, which raises it
        messages.put(("error", _portable(error)))


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else an exception of a plain type with its message."""
    import traceback

    trace = "".join(traceback.format_exception(error))
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception:
        copy = (WakewordError if isinstance(error, WakewordError) else RuntimeError)(str(error))
    copy.add_note(f"in the isolated process:\n{trace}")
    return copy


def _die_with(parent: int) -> None:
    """End this process when ``parent`` ends (Linux: the kernel's signal; elsewhere: a watcher)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
