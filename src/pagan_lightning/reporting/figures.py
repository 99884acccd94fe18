"""Pictures of a model: sample, reconstruction and interpolation grids (training callbacks and
``pagan-evaluate``), and RMSE against RID (Figure 3)."""

from pathlib import Path

import torch
from matplotlib.figure import Figure  # no pyplot: no display backend needed
from torchvision.utils import make_grid


def reconstruction_grid(
    x: torch.Tensor, x_rec: torch.Tensor, pairs_per_row: int = 8
) -> torch.Tensor:
    """Originals and reconstructions side by side, like the paper's figures: odd columns are
    originals, even columns their reconstructions. Returns one image in [0, 1]."""
    pairs = torch.stack([x, x_rec], dim=1).flatten(0, 1)  # x0, rec0, x1, rec1, ...
    return make_grid(pairs, nrow=2 * pairs_per_row, normalize=True, value_range=(-1, 1))


def sample_grid(x_prior: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """A grid of generated images in [0, 1]."""
    return make_grid(x_prior, nrow=nrow, normalize=True, value_range=(-1, 1))


def interpolation_grid(path: torch.Tensor) -> torch.Tensor:
    """(steps, N, C, H, W) decoded points from mu(x1) to mu(x2) -> one image in [0, 1], a row
    per pair of images, from x1's reconstruction (left) to x2's (right)."""
    steps = path.shape[0]
    return make_grid(
        path.transpose(0, 1).flatten(0, 1), nrow=steps, normalize=True, value_range=(-1, 1)
    )


def rmse_rid_scatter(points: dict[str, tuple[float, float]], path: Path, title: str) -> None:
    """Figure 3 of the paper: one labelled point (RMSE, RID) per model or baseline.

    ``points`` maps a label to ``(l2_image, rid)``; RMSE is the per-image Euclidean distance on
    pixels in [0, 1] as in the paper's Table 2.
    """
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    for label, (rmse, rid) in points.items():
        marker = "s" if label.startswith("paper") else "o"
        ax.scatter([rmse], [rid], marker=marker)
        ax.annotate(label, (rmse, rid), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("RMSE (per-image L2, pixels in [0, 1])")
    ax.set_ylabel("RID (eq. 18)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summary_bars(
    labels: list[str],
    panels: dict[str, list[tuple[float, float | None] | None]],
    path: Path,
    lines: dict[str, tuple[str, float]] | None = None,
) -> None:
    """Bars of mean ± std over seeds (``pagan-collect``'s ``summary.png``): one panel per
    metric, one bar per group (``labels``), the std as error bars (none for a single seed).

    ``panels`` maps a panel title to ``(mean, std)`` per label (``None``: no bar); ``lines``
    maps a panel title to a ``(label, value)`` drawn as a dashed horizontal line, e.g. AUG's
    RID (Table 2), the RID of an augmentation that keeps the content.
    """
    colors = [f"C{i % 10}" for i in range(len(labels))]
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    width = max(2.5, 0.55 * len(labels) + 1.0)
    fig = Figure(figsize=(width * columns, 4.5 * rows))
    axes = fig.subplots(rows, columns, squeeze=False).flatten()
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    for ax, (title, bars) in zip(axes, panels.items(), strict=False):
        for i, bar in enumerate(bars):
            if bar is not None:
                ax.bar(i, bar[0], yerr=bar[1], color=colors[i], capsize=4, width=0.7)
        if title in (lines or {}):
            name, value = lines[title]
            ax.axhline(value, color="k", linestyle="--", linewidth=1, label=f"{name} {value:.3g}")
            ax.legend(fontsize=8, loc="best")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("mean ± std over seeds (n: seeds per group)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
