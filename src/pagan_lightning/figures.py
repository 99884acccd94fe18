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
