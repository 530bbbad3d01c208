"""The per-epoch progress display of :func:`bricks.train.fit`.

On a terminal (``sys.stderr.isatty()``) with tqdm installed: a bar per epoch that shows the
running loss, ending with the epoch's metrics.  Elsewhere (a log file, a notebook cell
captured by a test): no bar, one summary line per epoch on stdout.  ``verbose=False``:
nothing at all.
"""

from __future__ import annotations

import math
import sys


def format_logs(logs: dict) -> str:
    """``'loss=0.1234 accuracy=0.9500 val_loss=...'`` for the scalar entries of ``logs``."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key}={value:.4g}" if key == "lr" else f"{key}={value:.4f}")
    return " ".join(parts)


class EpochProgress:
    """Progress of one epoch: ``update(loss)`` per batch, ``close(logs)`` at the end."""

    def __init__(self, epoch: int, epochs: int, total: int | None, verbose: bool = True):
        self.prefix = f"epoch {epoch + 1}/{epochs}"
        self.verbose = verbose
        self.bar = None
        self._loss_sum, self._count = 0.0, 0
        if verbose and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:  # no tqdm: the summary line still comes
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=self.prefix, unit="batch", leave=True,
                                file=sys.stderr, dynamic_ncols=True)

    def update(self, loss: float) -> None:
        if self.bar is None:
            return
        if math.isfinite(loss):
            self._loss_sum += loss
            self._count += 1
        self.bar.update(1)
        mean = self._loss_sum / self._count if self._count else loss
        self.bar.set_postfix_str(f"loss={mean:.4f}", refresh=False)

    def close(self, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs), refresh=True)
            self.abort()
        elif self.verbose:
            print(f"{self.prefix} {format_logs(logs)}", flush=True)

    def abort(self) -> None:
        """End the bar where it stands (the epoch did not finish); no summary line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
