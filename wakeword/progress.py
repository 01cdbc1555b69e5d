"""Progress for long work, one bar per named stage: tqdm bars on a terminal; on a pipe or log
file, one plain line per stage every ``PLAIN_EVERY_S`` seconds and when it ends (a bar redrawn
per step would flood the log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

# The one shape of a progress callback: ``progress(what, done, total)``; ``what`` names the stage
# (or the item just done), ``total`` is 0 when unknown. ProgressBars.update takes it as it is.
Progress = Callable[[str, int, int], None]

PLAIN_EVERY_S = 30.0  # seconds between plain progress lines (not a terminal)


class ProgressBars:
    """``update(stage, done, total)`` drives one bar per stage; ``write`` prints above the bars."""

    def __init__(self, *, stream=None) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._bars: dict = {}
        self._plain: dict[str, tuple[float, float]] = {}  # stage -> (started, last line)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self._bars.values():
            bar.close()

    def update(self, stage: str, done: int, total: int, detail: str = "") -> None:
        if total <= 0:  # nothing to do (e.g. everything already built): no bar, no line
            return
        if not self._tty:
            self._update_plain(stage, done, total)
            return
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None or bar.disable or done < bar.n:  # new or restarted stage
            bar = self._bars[stage] = tqdm(
                total=total, desc=stage, dynamic_ncols=True, leave=False, file=self._stream
            )
        bar.n = done
        if detail:
            bar.set_postfix_str(detail, refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()

    def _update_plain(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        started, last = self._plain.get(stage, (now, now))
        if done <= 1 or stage not in self._plain:
            started = last = now
        if done >= total or now - last >= PLAIN_EVERY_S:
            print(f"{stage}: {done}/{total} ({now - started:.0f} s)", file=self._stream, flush=True)
            last = now
        self._plain[stage] = (started, last)

    def write(self, message: str) -> None:
        if not self._tty:
            print(message, flush=True)
            return
        from tqdm import tqdm

        tqdm.write(message)
