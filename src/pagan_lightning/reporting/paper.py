"""The paper's reported numbers (all on CIFAR10), to print beside ours.

Keys are ``(dataset name, row)`` with the row a ``variant`` (``pagan``, ``l1``, ``noaug``,
``wgan_gp``), ``vae`` or ``aug`` (the AUG baseline of Table 2). Metric names follow
:func:`pagan_lightning.metrics.compute_metrics`: the paper's RMSE (about 6 to 9) is our
``l2_image``, the per-image Euclidean distance on pixels in [0, 1].
"""

PAPER: dict[tuple[str, str], dict[str, float]] = {
    # Tables 1, 2 and 3: PAGAN
    ("CIFAR10", "pagan"): {
        "fid": 32.84,
        "is": 6.56,
        "is_std": 0.06,
        "rid": 13.01,
        "rid_std": 0.82,
        "l2_image": 8.12,
    },
    # Table 3: ablations
    ("CIFAR10", "l1"): {"fid": 76.73, "is": 4.46, "is_std": 0.03, "rid": 30.94, "rid_std": 1.58},
    ("CIFAR10", "noaug"): {
        "fid": 111.151,
        "is": 4.23,
        "is_std": 0.06,
        "rid": 50.15,
        "rid_std": 2.71,
    },
    # Table 4: WPAGAN (its "RIS" column is RID)
    ("CIFAR10", "wgan_gp"): {
        "fid": 52.29,
        "is": 5.62,
        "is_std": 0.09,
        "rid": 13.44,
        "rid_std": 0.44,
    },
    # Table 2: baselines
    ("CIFAR10", "vae"): {"l2_image": 5.85, "rid": 44.33, "rid_std": 2.27},
    ("CIFAR10", "aug"): {"l2_image": 8.89, "rid": 1.57, "rid_std": 0.02},
}
