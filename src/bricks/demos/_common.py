"""What every demo returns, and the figure helper they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import bricks

__all__ = ["DemoResult", "new_figure", "save_figure", "compiled_step", "compiled_loss"]


@dataclass
class DemoResult:
    """A demo's outcome.

    Attributes:
        claim: the lecture's claim, in one or two sentences.
        lines: the numbers that show it, as printable lines (tables welcome).
        figures: paths of the PNG files written.
        checks: named numbers the tests assert on (e.g. ``{"xor_single_neuron_acc": 0.75}``).
    """

    claim: str
    lines: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    checks: dict = field(default_factory=dict)

    def report(self) -> str:
        """The claim, the numbers and the figure paths, ready to print."""
        parts = [self.claim, ""] + list(self.lines)
        if self.figures:
            parts += [""] + [f"figure: {p}" for p in self.figures]
        return "\n".join(parts)


def new_figure(*args, **kwargs):
    """A matplotlib Figure on the Agg canvas (no pyplot, the user's backend is untouched)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("demos draw with matplotlib: pip install matplotlib") from None
    fig = Figure(*args, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, out_dir, name: str) -> Path:
    """Save ``fig`` as ``out_dir/name`` (PNG) atomically and return the path."""
    from bricks.io import atomic_write

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return path


def compiled_step(model, loss_fn, opt, outputs: bool = False):
    """``step(x, y)``: one training step (zero_grad, loss, backward, optimizer step) through
    ``bricks.compile``, returning the loss (and the model's outputs, with ``outputs``).

    The demos that train many small networks spend most of their time in Python around
    each tiny op; the compiled step runs the same arithmetic (the same numbers: the tests
    compare them bit for bit) several times faster.  It is traced on its first two calls
    with each input shape and replayed from then on.
    """

    def train_step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        return (loss, out) if outputs else loss

    return bricks.compile(train_step)


def compiled_loss(model, loss_fn):
    """``loss(x, y)`` without gradients (an evaluation between steps), compiled."""

    def evaluate(x, y):
        with bricks.no_grad():
            return loss_fn(model(x), y)

    return bricks.compile(evaluate)
