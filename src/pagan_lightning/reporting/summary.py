"""Seeds of a reproduction aggregated per model, and the paper's Table 3 orderings checked.

``pagan-collect`` reads every job of a sweep folder into a :class:`Job`; the jobs that differ
only by ``seed`` form one :class:`Group` (``PAGAN (width)``, ``PAGAN-L1``, ``VAE``, ...), with
the mean and sample standard deviation of each metric over its seeds. :func:`verdicts` checks the
orderings of the paper's Table 3 (CIFAR10): PAGAN has a lower FID, a higher IS and a lower RID
than both PAGAN-L1 and PAGAN-NOAUG (FID 32.84 < 76.73 < 111.15, IS 6.56 > 4.46 > 4.23,
RID 13.01 < 30.94 < 50.15; L1 against NOAUG is not checked), and its generation claim: a lower
FID and a higher IS than the same generator and D_x trained as a plain GAN; each by Welch's
t-test over seeds with a Bonferroni correction for the number of orderings checked.
Pure functions only: the files are read and written by :mod:`pagan_lightning.cli.collect`.
"""

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from scipy.stats import ttest_ind_from_stats

from pagan_lightning.nets.pair import PAIR_MODES
from pagan_lightning.reporting.paper import PAPER

EVALUATED = {  # metric of pagan-evaluate's metrics.json -> its name in the summary
    "fid": "FID",
    "is": "IS",
    "kid": "KID",
    "rid": "RID",
    "rmse_pixel": "RMSE/pixel",
    "l2_image": "L2/image",
    "aug_rid": "AUG RID",
}
# the last logged value of the training's metrics.csv (does D_xx see the pair?)
LOGGED = {"val/pair_match": "pair_match"}
METRICS = EVALUATED | LOGGED
FIGURE_PANELS = {  # metric -> its panel's title in summary.png
    "fid": "FID (lower is better)",
    "is": "IS (higher is better)",
    "kid": "KID (lower is better)",
    "rid": "RID (lower is better)",
    "rmse_pixel": "RMSE per pixel (lower is better)",
    "val/pair_match": "val/pair_match (0.5: D_xx blind to x)",
}
NAMES = {  # variant (or model=vae) -> the paper's name (Tables 2-4, Appendix B.1)
    "pagan": "PAGAN",
    "noaug": "PAGAN-NOAUG",
    "l1": "PAGAN-L1",
    "wgan_gp": "WPAGAN",
    "f_gan": "f-PAGAN",
    "gan": "GAN",
    "vae": "VAE",
}
# overrides that the label shows, and those that never tell models apart
LABEL_KEYS = {"variant", "model", "model.disc_pair.mode", "model/disc_pair"}
IGNORED_KEYS = {"seed", "ckpt_path", "trainer.precision"}  # precision: the run's resolved one


@dataclass
class Job:
    """One Hydra job: its ``variant`` (``vae`` for ``model=vae``), pair mode (``None`` without
    a pair discriminator), seed, the overrides other than ``seed`` and those the label shows,
    the precision it trained in (``None`` when not recorded), the feature space of its
    evaluation (the extractor and its weights' hash) and the numbers of its newest evaluation
    (empty when it has none)."""

    variant: str
    mode: str | None = None
    seed: str | None = None
    precision: str | None = None
    features: str | None = None
    overrides: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)


def override_key(override: str) -> str:
    """``+model.x=1`` -> ``model.x``: the config key of a Hydra override string."""
    return override.split("=", 1)[0].lstrip("+~")


def finite(value: object) -> bool:
    """A number that can be averaged (not NaN, not infinite, not a string)."""
    return isinstance(value, int | float) and math.isfinite(value)


def other_overrides(overrides: list[str]) -> tuple[str, ...]:
    """The overrides that may tell groups apart: all but the :data:`LABEL_KEYS` and
    :data:`IGNORED_KEYS` (a resumed job's ``ckpt_path=last`` is the same job)."""
    return tuple(sorted(o for o in overrides if override_key(o) not in LABEL_KEYS | IGNORED_KEYS))


@dataclass
class Stat:
    """Mean and sample standard deviation (ddof=1; ``None`` with one value) of ``n`` values."""

    mean: float
    std: float | None
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4g}" + ("" if self.std is None else f" ± {self.std:.4g}")


def stat(values: list[float]) -> Stat | None:
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stat(statistics.fmean(values), std, len(values))


@dataclass
class Group:
    """The jobs of one model that differ only by ``seed``: the same overrides, precision and
    feature space (numbers of two feature spaces are never averaged or compared)."""

    variant: str
    mode: str | None
    overrides: tuple[str, ...]  # all but seed and those the label shows (Job.overrides)
    extras: tuple[str, ...]  # what sets it apart from groups of the same name
    jobs: list[Job]
    precision: str | None = None
    features: str | None = None

    @property
    def key(self) -> tuple:
        return self.variant, self.mode, self.overrides, self.precision, self.features

    @property
    def base(self) -> str:
        name = NAMES.get(self.variant, self.variant)
        return name if self.mode is None else f"{name} ({self.mode})"

    @property
    def label(self) -> str:
        return self.base + (f" [{' '.join(self.extras)}]" if self.extras else "")

    @property
    def n(self) -> int:
        """The number of seeds (jobs) with an evaluation."""
        return len(self.seeds)

    @property
    def precisions(self) -> str:
        """The precisions of the evaluated seeds, e.g. ``32-true: 2, bf16-mixed: 1``."""
        counts = Counter(job.precision or "not recorded" for job in self.evaluated)
        return ", ".join(f"{precision}: {n}" for precision, n in counts.items())

    @property
    def evaluated(self) -> list[Job]:
        """The jobs with an evaluation (a job still training has only logged values)."""
        return [job for job in self.jobs if job.metrics.keys() & EVALUATED.keys()]

    @property
    def seeds(self) -> list[str]:
        """The seeds of the jobs with an evaluation."""
        return [str(job.seed) for job in self.evaluated]

    def stat(self, metric: str) -> Stat | None:
        """Mean ± std of ``metric`` over the evaluated seeds that have it (a logged value such
        as pair_match included); ``None`` when none has it."""
        return stat([job.metrics[metric] for job in self.evaluated if metric in job.metrics])


def _order(group: Group) -> tuple:
    names = list(NAMES)
    variant = names.index(group.variant) if group.variant in names else len(names)
    mode = PAIR_MODES.index(group.mode) if group.mode in PAIR_MODES else len(PAIR_MODES)
    return variant, group.variant, mode, str(group.mode), group.extras


def group_jobs(jobs: list[Job]) -> list[Group]:
    """Jobs that differ only by ``seed`` in one group each, in the paper's order (PAGAN,
    PAGAN-NOAUG, PAGAN-L1, WPAGAN, f-PAGAN, VAE; width before channel).

    Groups of the same name (variant and pair mode) that differ by other overrides, precision
    or feature space get those in their label, all but what every group of that name shares,
    so distinct groups never merge and the usual case (one sweep per model) reads
    ``PAGAN (width)``.
    """
    by_key: dict[tuple, list[Job]] = {}
    for job in sorted(jobs, key=lambda job: job.features is None):  # evaluated ones first
        key = (job.variant, job.mode, job.overrides, job.precision, job.features)
        if job.features is None:  # not evaluated yet: joins its model's group, if any
            key = next((k for k in by_key if k[:4] == key[:4]), key)
        by_key.setdefault(key, []).append(job)

    def tags(key: tuple) -> tuple[str, ...]:
        _, _, overrides, precision, features = key
        named = (f"precision={precision}",) if precision else ()
        return overrides + named + ((f"features={features}",) if features else ())

    shared: dict[tuple, set[str]] = {}  # (variant, mode) -> tags of all its groups
    for key in by_key:
        common = shared.get(key[:2])
        shared[key[:2]] = set(tags(key)) if common is None else common & set(tags(key))
    groups = [
        Group(
            v,
            m,
            overrides,
            tuple(t for t in tags(key) if t not in shared[(v, m)]),
            members,
            precision,
            features,
        )
        for key, members in by_key.items()
        for v, m, overrides, precision, features in [key]
    ]
    return sorted(groups, key=_order)


ALPHA = 0.05  # family-wise error rate of the verdicts, Bonferroni-corrected


def welch_p(a: Stat, b: Stat) -> float | None:
    """Two-sided p-value of Welch's t-test that the means of ``a`` and ``b`` are equal (from
    means, sample stds and seed counts); ``None`` when a side has fewer than 2 seeds."""
    if a.std is None or b.std is None:
        return None
    if a.std == 0 and b.std == 0:
        return 1.0 if a.mean == b.mean else 0.0
    return float(ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n, equal_var=False)[1])


def verdict(a: Stat, b: Stat, comparisons: int) -> str:
    """The verdict on "``a`` is lower than ``b``" among ``comparisons`` tests: ``holds`` or
    ``reversed`` when Welch's p (:func:`welch_p`) is below ``ALPHA / comparisons``
    (Bonferroni), by the sign of the difference; ``undecided`` otherwise; ``one seed: no
    test`` when a side has a single seed."""
    p = welch_p(a, b)
    if p is None:
        return "one seed: no test"
    if p >= ALPHA / comparisons:
        return "undecided"
    return "holds" if a.mean < b.mean else "reversed"


def difference(a: Stat, b: Stat) -> str:
    """``mean_b - mean_a ± its standard error sqrt(std_a^2 / n_a + std_b^2 / n_b)``."""
    text = f"b - a = {b.mean - a.mean:+.4g}"
    if a.std is None or b.std is None:
        return text
    return text + f" ± {math.sqrt(a.std**2 / a.n + b.std**2 / b.n):.2g} (SE)"


# Table 3's metrics (CIFAR10), each with whether lower is better
TABLE3 = {"fid": True, "is": False, "rid": True}
# the paper's generation claim, PAGAN against the same G and D_x trained as a plain GAN
GENERATION = {"fid": True, "is": False}


def paper_table3(metric: str) -> str:
    """``PAGAN / PAGAN-L1 / PAGAN-NOAUG`` values of Table 3 for ``metric`` (paper.py)."""
    return " / ".join(f"{PAPER['CIFAR10', v][metric]:.4g}" for v in ("pagan", "l1", "noaug"))


def claims(groups: list[Group]) -> list[tuple[str, Group, Group, Stat, Stat, bool]]:
    """The paper's orderings that our groups can check, as (metric, PAGAN group, rival,
    PAGAN's stat, the rival's, lower is better): for each pair mode ``m`` of PAGAN, ``PAGAN
    (m)`` has a lower FID and RID and a higher IS than ``PAGAN-L1`` and ``PAGAN-NOAUG (m)``
    (Table 3), and a lower FID and a higher IS than ``GAN`` (the generation claim). A rival
    must have the same other overrides as the PAGAN group (so a PAGAN with another encoder is
    not judged against L1's default one), precision and feature space; both sides need the
    metric."""
    lookup = {g.key: g for g in groups}
    found = []
    for pagan in (g for g in groups if g.variant == "pagan"):
        same = pagan.key[2:]
        rivals = [
            (lookup.get(("l1", None, *same)), TABLE3),
            (lookup.get(("noaug", pagan.mode, *same)), TABLE3),
            (lookup.get(("gan", None, *same)), GENERATION),
        ]
        for rival, metrics in rivals:
            for metric, lower_is_better in metrics.items():
                if rival is None:
                    continue
                p, r = pagan.stat(metric), rival.stat(metric)
                if p is not None and r is not None:
                    found.append((metric, pagan, rival, p, r, lower_is_better))
    return found


def verdicts(groups: list[Group]) -> list[str]:
    """One line per ordering of :func:`claims`: its :func:`verdict` among all of them (the
    count of comparisons is the Bonferroni factor), Welch's p, both means ± stds and
    :func:`difference` (a: the side that the paper says is better)."""
    found = claims(groups)
    lines = []
    for metric, pagan, rival, p, r, lower_is_better in found:
        a, b = (p, r) if lower_is_better else (r, p)
        sign = "<" if lower_is_better else ">"
        p_value = welch_p(a, b)
        shown = "" if p_value is None else f"Welch p = {p_value:.2g}; "
        lines.append(
            f"- {METRICS[metric]}: {pagan.label} {sign} {rival.label}: "
            f"{verdict(a, b, len(found))} ({shown}{pagan.label} {p}, n={p.n}; "
            f"{rival.label} {r}, n={r.n}; {difference(a, b)})"
        )
    return lines


def summary_rows(groups: list[Group]) -> list[dict[str, str]]:
    """``summary.csv``: a row per group, ``<metric>_mean`` and ``<metric>_std`` per metric
    (empty when the group has no value; the std is empty with one seed)."""
    rows = []
    for g in groups:
        row = {"group": g.label, "n": str(g.n), "seeds": " ".join(g.seeds)}
        row["precision"] = g.precisions
        for metric in METRICS:
            s = g.stat(metric)
            row[f"{metric}_mean"] = "" if s is None else repr(s.mean)
            row[f"{metric}_std"] = "" if s is None or s.std is None else repr(s.std)
        rows.append(row)
    return rows


def summary_markdown(groups: list[Group]) -> str:
    """``summary.md``: a table of mean ± std per group and metric, then the Table 3 verdicts."""
    columns = ["group", "n", "seeds", "precision", *METRICS.values()]
    lines = [
        "## Mean ± sample std (ddof=1) over seeds",
        "",
        "n: the seeds with an evaluation. RMSE/pixel: per pixel; L2/image: per image; "
        "pair_match: the training's last val/pair_match. precision: the seeds' training "
        "precision (trainer.precision in config_resolved.yaml).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for g in groups:
        cells = [g.label, str(g.n), " ".join(g.seeds), g.precisions]
        cells += [str(s) if (s := g.stat(m)) is not None else "" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    checks = verdicts(groups)
    test = (
        f"Each line is one of {len(checks)} comparisons: Welch's t-test over seeds, two-sided; "
        f"holds / reversed when p < {ALPHA} / {len(checks)} (Bonferroni: a family-wise error "
        f"rate of {ALPHA}), undecided otherwise. "
    )
    lines += [
        "",
        "## The paper's orderings",
        "",
        (test if checks else "")
        + "The paper (CIFAR10, PAGAN / PAGAN-L1 / PAGAN-NOAUG): "
        + "; ".join(f"{METRICS[m]} {paper_table3(m)}" for m in TABLE3)
        + "; against a GAN: lower FID, higher IS.",
        "",
        *(checks or ["- none: needs PAGAN and PAGAN-L1, PAGAN-NOAUG or GAN, evaluated"]),
    ]
    return "\n".join(lines) + "\n"


def aug_rid(groups: list[Group]) -> float | None:
    """AUG's RID (the augmentation alone, Table 2), the mean over every evaluated job."""
    values = [job.metrics["aug_rid"] for g in groups for job in g.jobs if "aug_rid" in job.metrics]
    return statistics.fmean(values) if values else None
