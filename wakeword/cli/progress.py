"""Progress bars for long work (tqdm on stderr), one per named stage."""

from __future__ import annotations


class ProgressBars:
    """``update(stage, done, total)`` drives one bar per stage; ``write`` prints above the bars."""

    def __init__(self) -> None:
        self._bars: dict = {}

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self._bars.values():
            bar.close()

    def update(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, dynamic_ncols=True, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    def write(self, message: str) -> None:
        from tqdm import tqdm

        tqdm.write(message)
