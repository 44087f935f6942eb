"""``dior evaluate --plot DIR``: PNG plots of a metrics document (schema ``dior.metrics/v1``).

- ``hota_curves.png``: HOTA, DetA and AssA over the 19 localisation thresholds (alpha),
  one panel per class (and the class average), from ``doc["curves"]["combined"]``.
- ``per_sequence.png``: HOTA, DetA and AssA (means over alpha) of each sequence, one panel
  per class, from ``doc["per_sequence"]``.

matplotlib is an optional extra (``pip install 'dior-cli[plot]'``), imported only here and
only when plotting; figures are drawn on the Agg canvas directly (no pyplot global state).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from dior_cli.errors import DiorError
from dior_cli.formats.atomic import write_bytes_atomic

MISSING = "--plot needs matplotlib: pip install 'dior-cli[plot]'"
METRICS = ("HOTA", "DetA", "AssA")


def require_matplotlib() -> None:
    """Raise a ``DiorError`` saying how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise DiorError(MISSING) from None


def write_plots(doc: dict[str, Any], folder: str | os.PathLike) -> list[Path]:
    """Write both plots into ``folder`` (created if missing), atomically; returns their paths."""
    require_matplotlib()
    folder = Path(folder)
    curves = doc["curves"]["combined"]
    alphas = doc["alphas"]
    fig = _figure(len(curves))
    for ax, (cls, values) in zip(_axes(fig, len(curves)), curves.items()):
        for metric in METRICS:
            ax.plot(alphas, values[metric], marker="o", markersize=3, label=metric)
        ax.set_title(cls)
        ax.set_xlabel("alpha (localisation threshold)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    paths = [folder / "hota_curves.png"]
    _save(fig, paths[-1])

    sequences = doc["sequences"]
    classes = doc["classes"]
    fig = _figure(len(classes), width_per=max(4.0, 0.6 * len(sequences) + 2))
    for ax, cls in zip(_axes(fig, len(classes)), classes):
        width = 0.8 / len(METRICS)
        for k, metric in enumerate(METRICS):
            heights = [doc["per_sequence"][s][cls][metric] or 0.0 for s in sequences]
            ax.bar([i + (k - 1) * width for i in range(len(sequences))], heights, width=width, label=metric)
        ax.set_xticks(range(len(sequences)))
        ax.set_xticklabels(sequences, rotation=45, ha="right")
        ax.set_title(f"{cls}: per sequence")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    paths.append(folder / "per_sequence.png")
    _save(fig, paths[-1])
    return paths


def _figure(panels: int, width_per: float = 4.5):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_per * panels, 3.8), layout="constrained")


def _axes(fig, panels: int) -> list:
    axes = fig.subplots(1, panels, squeeze=False)
    return list(axes[0])


def _save(fig, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes_atomic(path, buffer.getvalue())
