"""PNG plots for ``docs/performance.md`` (matplotlib, the ``bench`` extra), drawn from a scenario's results.

```python
from bench.plots import Series, line_plot

line_plot(
    DOCS_IMAGES / "flash_sale.png",
    title="Flash sale: orders per second against concurrency",
    xlabel="concurrency",
    ylabel="orders/s",
    series=[Series("one hot SKU", [8, 32, 64], [40.1, 52.3, 55.0], low=[...], high=[...])],
)
```

Every plot is written with the non-interactive Agg backend (no display needed), at a size that reads on a phone.
``low``/``high`` draw the spread of the runs (min and max) as a band around the median line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS_IMAGES = ROOT / "docs" / "images"


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None


def line_plot(
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    series: list[Series],
    log_x: bool = False,
    ymin: float | None = 0.0,
) -> Path:
    """Draw ``series`` as lines with markers (and the min-max band where given) and save a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    try:
        for s in series:
            (line,) = ax.plot(s.x, s.y, marker="o", label=s.label)
            if s.low is not None and s.high is not None:
                ax.fill_between(s.x, s.low, s.high, color=line.get_color(), alpha=0.15, linewidth=0)
        if log_x:
            ax.set_xscale("log", base=2)
            ax.set_xticks([x for s in series for x in s.x])
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        if ymin is not None:
            ax.set_ylim(bottom=ymin)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def bar_plot(
    path: Path,
    *,
    title: str,
    ylabel: str,
    groups: list[str],
    bars: dict[str, list[float]],
    target: float | None = None,
) -> Path:
    """Grouped bars: one group per entry of ``groups``, one bar per key of ``bars`` (its values by group); an
    optional horizontal ``target`` line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    try:
        width = 0.8 / max(len(bars), 1)
        for i, (label, values) in enumerate(bars.items()):
            xs = [g + i * width - 0.4 + width / 2 for g in range(len(groups))]
            ax.bar(xs, values, width=width, label=label)
        if target is not None:
            ax.axhline(target, color="crimson", linestyle="--", linewidth=1, label=f"target {target:g}")
        ax.set_xticks(range(len(groups)), groups)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
