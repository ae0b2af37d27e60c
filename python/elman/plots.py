"""Training plots as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from . import files


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), imported only when a plot is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(history: list[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> None:
    """Training and validation loss over steps and, when the history holds gradient flow, a heatmap
    of log10 ||dL/dh_t|| of the bottom layer at each validation (rows) and step t (columns)."""
    plt = _pyplot()
    flows = [(r["step"], np.asarray(r["grad_flow"])[0]) for r in history if "grad_flow" in r]
    fig, axes = plt.subplots(2 if flows else 1, 1, figsize=(8, 7 if flows else 4), squeeze=False)
    ax = axes[0, 0]
    train = [(r["step"], r["loss"]) for r in history if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in history if "val_loss" in r]
    if train:
        ax.plot(*zip(*train), label="training", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", lw=1.5, ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    if flows:
        ax = axes[1, 0]
        steps = [s for s, _ in flows]
        width = max(len(f) for _, f in flows)
        grid = np.full((len(flows), width), np.nan)
        for i, (_, f) in enumerate(flows):
            grid[i, : len(f)] = np.log10(np.maximum(f, 1e-30))
        image = ax.imshow(
            grid,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            interpolation="nearest",
            extent=(-0.5, width - 0.5, 0, len(flows)),
        )
        ax.set_yticks(np.arange(len(flows)) + 0.5, [str(s) for s in steps])
        if len(flows) > 12:
            ax.set_yticks(ax.get_yticks()[:: len(flows) // 12 + 1])
        ax.set_xlabel("time step t of the last training batch")
        ax.set_ylabel("training step")
        ax.set_title("gradient flow: log10 ||dL/dh_t||, bottom layer")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    files.atomic_write(path, buffer.getvalue())


def plot_forecast(
    history: tuple[Any, np.ndarray],
    forecast: tuple[Any, np.ndarray],
    path: str | os.PathLike[str],
    band: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = "",
    label: str = "",
) -> None:
    """A series' history (x, values), its forecast (x, values) past the end, and the interval band
    (lower, upper) around the forecast, if given; x may be dates or numbers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(history[0], history[1], label=label or "history", lw=1.2, color="black")
    ax.plot(forecast[0], forecast[1], label="forecast", lw=1.5, color="tab:blue")
    if band is not None:
        ax.fill_between(forecast[0], band[0], band[1], color="tab:blue", alpha=0.25, lw=0, label="interval")
    ax.set_title(title or "forecast")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    files.atomic_write(path, buffer.getvalue())
