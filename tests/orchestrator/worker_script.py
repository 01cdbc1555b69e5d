"""Run by test_worker.py in a subprocess: start an owned worker, report it, then end as told."""

import os
import signal
import sys
import time

from orchestrator.worker import OwnedWorker

# A job started in the background by a non-interactive shell (as CI starts .ci/run) inherits
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler. A user pressing Ctrl-C
# runs wakeword from a terminal, where SIGINT has its default: restore that here.
signal.signal(signal.SIGINT, signal.default_int_handler)
mode = sys.argv[1]
worker = OwnedWorker().start()
print(f"{worker.process.pid} {worker.port}", flush=True)
if mode == "exit":
    sys.exit(0)  # normal exit: atexit stops the worker
if mode == "raise":
    raise RuntimeError("an exception in the orchestrator")
if mode == "with":
    with worker:
        pass
    sys.exit(0)
while True:  # "wait": until the test interrupts or kills us
    time.sleep(0.2)
    if not os.path.exists(f"/proc/{worker.process.pid}"):
        sys.exit(3)
