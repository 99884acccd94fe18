"""Reconstruction Inception Dissimilarity, eq. (18) of the paper:

    RID = exp{ E_{x ~ D} KL( p(y|x) || p(y|G(E(x))) ) },

with p(y|.) the softmax of a pre-trained classifier's logits (torch-fidelity's
``logits_unbiased``, as for the Inception Score). Low RID: the reconstruction kept the content.
"""

import torch
import torch.nn.functional as F


def kl_divergence(logits_x: torch.Tensor, logits_rec: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(p(y|x) || p(y|x_rec)) of eq. (18), in float64, shape (N,).

    The expectation is under p(y|x), the prediction on the *original* image.
    """
    log_p_x = logits_x.double().log_softmax(dim=1)
    log_p_rec = logits_rec.double().log_softmax(dim=1)
    # F.kl_div(input, target) = sum target * (log target - input) = KL(target || input)
    return F.kl_div(log_p_rec, log_p_x, log_target=True, reduction="none").sum(dim=1)


def rid(kl: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """RID of eq. (18) from per-sample KLs over the test set, and its ± (std).

    The value is exp(mean KL) over all samples. The std follows the paper's rule for the
    Inception Score: the test set in its own order is cut into ``splits`` consecutive parts
    (sample ``i * N // splits`` up to ``(i + 1) * N // splits``, no shuffling), RID is computed
    on each part, and the std (``ddof=0``, as torch-fidelity's IS) of those values is returned.
    """
    n = len(kl)
    if n < splits:
        raise ValueError(f"RID needs at least {splits} samples for {splits} splits, got {n}")
    parts = torch.stack(
        [kl[i * n // splits : (i + 1) * n // splits].mean().exp() for i in range(splits)]
    )
    return float(kl.mean().exp()), float(parts.std(correction=0))
