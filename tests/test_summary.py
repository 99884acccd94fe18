"""``pagan-collect``'s summary over seeds: groups, mean ± std, the paper's Table 3 orderings
(PAGAN below PAGAN-L1 and PAGAN-NOAUG in FID and RID) and the bar figure, on job folders in
Hydra's real layout (``.hydra/{overrides,hydra,config}.yaml``, ``eval/<stamp>/metrics.json``)."""

import csv
import itertools
import json
import math
import statistics
from pathlib import Path

import pytest
import scipy.stats
from omegaconf import OmegaConf
from PIL import Image

from pagan_lightning.cli.collect import main, summarize
from pagan_lightning.reporting.summary import Group, Job, Stat, stat, welch_p
from pagan_lightning.reporting.summary import verdict as verdict_of

PAIR = {"_target_": "pagan_lightning.nets.PairDiscriminator", "ch": 16}


def write_job(
    job: Path,
    overrides: list[str],
    metrics: dict[str, float] | None = None,
    model: str = "pagan",
) -> None:
    """A job folder as ``pagan-train`` (+ ``pagan-evaluate``) writes it: the variant and pair
    mode come from ``overrides`` as Hydra would compose them."""
    values = dict(o.split("=", 1) for o in overrides)
    variant = values.get("variant", "pagan")
    config: dict = {"seed": int(values.get("seed", 42)), "model": {}}
    if model == "pagan":  # the vae has no disc_pair; l1 and gan set it to null
        mode = values.get("model.disc_pair.mode", "width")
        config["model"]["disc_pair"] = None if variant in ("l1", "gan") else PAIR | {"mode": mode}
    hydra = {"hydra": {"runtime": {"choices": {"model": model, "variant": variant}}}}
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    OmegaConf.save(hydra, job / ".hydra" / "hydra.yaml")
    OmegaConf.save(config, job / ".hydra" / "config.yaml")
    if metrics is not None:
        (job / "eval" / "2024-01-01_00-00-00").mkdir(parents=True)
        results = {"features": "classifier", "rid_std": 0.1, "is_std": 0.01} | metrics
        (job / "eval" / "2024-01-01_00-00-00" / "metrics.json").write_text(json.dumps(results))


def fake_metrics(variant: str, mode: str | None, seed: int) -> dict[str, float]:
    """Distinct numbers per model and seed, as ``pagan-evaluate`` writes them."""
    base = {"pagan": 30.0, "noaug": 100.0, "l1": 70.0, "vae": 150.0}[variant]
    base += 5.0 if mode == "channel" else 0.0
    return {
        "fid": base + 1.5 * seed,
        "is": 6.0 - 0.1 * seed,
        "kid": base / 1000 + 0.001 * seed,
        "rid": base / 3 + seed**2,
        "rmse_pixel": 0.2 + 0.01 * seed,
        "l2_image": 8.0 + 0.3 * seed,
        "aug_rid": 1.5 + 0.01 * seed,
    }


@pytest.fixture
def reproduction(tmp_path: Path) -> Path:
    """``outputs/reproduce/quick/<stamp>``: a multirun of PAGAN and PAGAN-NOAUG x width and
    channel x 3 seeds, one of PAGAN-L1 x 3 seeds and 3 single VAE runs."""
    root = tmp_path / "stamp"
    common = ["experiment=table3_quick"]
    sweep = itertools.product(["pagan", "noaug"], ["width", "channel"], [1, 2, 3])
    for i, (variant, mode, seed) in enumerate(sweep):
        overrides = [*common, f"variant={variant}", f"model.disc_pair.mode={mode}", f"seed={seed}"]
        write_job(root / "pairs" / str(i), overrides, fake_metrics(variant, mode, seed))
    for i, seed in enumerate([1, 2, 3]):
        overrides = [*common, "variant=l1", f"seed={seed}"]
        write_job(root / "l1" / str(i), overrides, fake_metrics("l1", None, seed))
    for seed in [1, 2, 3]:
        overrides = ["experiment=vae_quick", f"seed={seed}"]
        write_job(root / f"vae_{seed}", overrides, fake_metrics("vae", None, seed), model="vae")
    return root


def test_jobs_that_differ_only_by_seed_form_one_group(reproduction: Path) -> None:
    groups = summarize(reproduction)
    assert [g.label for g in groups] == [
        "PAGAN (width)",
        "PAGAN (channel)",
        "PAGAN-NOAUG (width)",
        "PAGAN-NOAUG (channel)",
        "PAGAN-L1",
        "VAE",
    ]
    assert all(g.n == 3 and g.seeds == ["1", "2", "3"] for g in groups)


def test_groups_with_other_differing_overrides_stay_apart(tmp_path: Path) -> None:
    for i, (lr, seed) in enumerate(itertools.product(["1e-4", "2e-4"], [1, 2])):
        overrides = ["experiment=table3_quick", f"model.optimizer_g.lr={lr}", f"seed={seed}"]
        write_job(tmp_path / str(i), overrides, fake_metrics("pagan", "width", seed))
    write_job(tmp_path / "l1", ["experiment=table3_quick", "variant=l1"])  # not evaluated
    groups = summarize(tmp_path)
    assert [(g.label, g.n) for g in groups] == [
        ("PAGAN (width) [model.optimizer_g.lr=1e-4]", 2),
        ("PAGAN (width) [model.optimizer_g.lr=2e-4]", 2),
        ("PAGAN-L1", 0),  # the shared experiment=... is not in any label
    ]
    assert groups[2].seeds == [] and groups[2].stat("fid") is None


def test_mean_and_sample_std_over_seeds(reproduction: Path) -> None:
    summarize(reproduction)
    with open(reproduction / "summary.csv", newline="") as f:
        rows = {row["group"]: row for row in csv.DictReader(f)}
    md = (reproduction / "summary.md").read_text()
    for label, variant, mode in [("PAGAN (channel)", "pagan", "channel"), ("VAE", "vae", None)]:
        inputs = [fake_metrics(variant, mode, seed) for seed in (1, 2, 3)]
        row = rows[label]
        assert row["n"] == "3" and row["seeds"] == "1 2 3"
        cells = [label, "3", "1 2 3", "not recorded: 3"]
        for metric in ("fid", "is", "kid", "rid", "rmse_pixel", "l2_image", "aug_rid"):
            values = [m[metric] for m in inputs]
            mean, std = statistics.fmean(values), statistics.stdev(values)  # ddof=1
            assert float(row[f"{metric}_mean"]) == pytest.approx(mean)
            assert float(row[f"{metric}_std"]) == pytest.approx(std)
            cells.append(f"{mean:.4g} ± {std:.4g}")
        assert "| " + " | ".join(cells) + " |" in md


def test_one_seed_has_a_mean_and_no_std(tmp_path: Path) -> None:
    write_job(tmp_path / "0", ["seed=7"], fake_metrics("pagan", "width", 7))
    write_job(tmp_path / "1", ["seed=8"])  # trained, never evaluated: not counted
    (group,) = summarize(tmp_path)
    assert group.n == 1 and group.seeds == ["7"]
    assert group.stat("fid") == Stat(fake_metrics("pagan", "width", 7)["fid"], None, 1)
    with open(tmp_path / "summary.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["fid_std"] == "" and float(row["fid_mean"]) == 30.0 + 1.5 * 7


def welch_by_hand(a: list[float], b: list[float]) -> float:
    """Two-sided p of Welch's t-test, from its textbook formulas."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * scipy.stats.t.sf(abs(t), df)


@pytest.mark.parametrize(
    ("pagan", "rival", "verdict"),
    [
        ([10.0, 11.0, 12.0], [20.0, 21.0, 22.0], "holds"),  # p = 2.6e-4
        ([20.0, 21.0, 22.0], [10.0, 11.0, 12.0], "reversed"),
        ([10.0, 12.0, 14.0], [13.0, 15.0, 17.0], "undecided"),  # p = 0.14
        ([10.0, 11.0, 12.0], [12.5, 13.5, 14.5], "undecided"),  # p = 0.037 > 0.05 / 4
        ([10.0], [20.0, 21.0], "one seed: no test"),
        ([10.0, 11.0], [20.0], "one seed: no test"),
    ],
)
def test_verdicts_are_welch_tests_with_bonferroni(
    pagan: list[float], rival: list[float], verdict: str, tmp_path
) -> None:
    """Synthetic metric files: PAGAN against PAGAN-L1 and PAGAN-NOAUG (width) on FID and RID,
    4 comparisons, so an ordering holds at p < 0.05 / 4."""
    a, b = stat(pagan), stat(rival)
    if a.std is not None and b.std is not None:
        p = welch_by_hand(pagan, rival)
        assert welch_p(a, b) == pytest.approx(p)
        expected = "undecided" if p >= 0.05 / 4 else "holds" if a.mean < b.mean else "reversed"
        assert verdict == expected
    for variant, values in (("pagan", pagan), ("noaug", rival), ("l1", rival)):
        for seed, value in enumerate(values):
            metrics = {"fid": value, "rid": value / 2}
            write_job(
                tmp_path / variant / str(seed), [f"variant={variant}", f"seed={seed}"], metrics
            )
    summarize(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert "Each line is one of 4 comparisons" in md and "p < 0.05 / 4" in md
    rid_a, rid_b = stat([v / 2 for v in pagan]), stat([v / 2 for v in rival])
    for rival_label in ("PAGAN-L1", "PAGAN-NOAUG (width)"):
        for name, x, y in (("FID", a, b), ("RID", rid_a, rid_b)):
            p = welch_p(x, y)
            shown = "" if p is None else f"Welch p = {p:.2g}; "
            line = (
                f"- {name}: PAGAN (width) < {rival_label}: {verdict} "
                f"({shown}PAGAN (width) {x}, n={x.n}; {rival_label} {y}, n={y.n}; "
                f"b - a = {y.mean - x.mean:+.4g}"
            )
            assert any(m.startswith(line) for m in md.splitlines()), line


def test_bonferroni_counts_every_comparison() -> None:
    a, b = stat([10.0, 11.0, 12.0]), stat([12.5, 13.5, 14.5])  # Welch p = 0.037
    assert verdict_of(a, b, 1) == "holds" and verdict_of(a, b, 4) == "undecided"


def test_pagan_is_judged_against_a_plain_gan_on_generation(tmp_path: Path) -> None:
    """GAN (variant=gan) is PAGAN's rival on FID and IS only (it has no RID)."""
    for variant, fids in (("pagan", [10.0, 11.0, 12.0]), ("gan", [20.0, 21.0, 22.0])):
        for seed, fid in enumerate(fids):
            metrics = {"fid": fid, "is": 5.0 - fid / 10} | (
                {"rid": 1.0} if variant == "pagan" else {}
            )
            write_job(
                tmp_path / variant / str(seed), [f"variant={variant}", f"seed={seed}"], metrics
            )
    summarize(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    checks = [line for line in md.splitlines() if line.startswith("- ")]
    assert [line.split(":")[:2] for line in checks] == [
        ["- FID", " PAGAN (width) < GAN"],
        ["- IS", " PAGAN (width) > GAN"],
    ]
    assert all(": holds (Welch p = " in line for line in checks)


def test_verdicts_need_both_groups_evaluated(reproduction: Path, tmp_path: Path) -> None:
    for job in (reproduction / "l1").iterdir():  # PAGAN-L1 trained but not evaluated
        for f in (job / "eval").rglob("*.json"):
            f.unlink()
    summarize(reproduction)
    checks = (reproduction / "summary.md").read_text().split("## The paper's orderings")[1]
    lines = [line for line in checks.splitlines() if line.startswith("- ")]
    assert len(lines) == 6 and not any("PAGAN-L1" in line for line in lines)  # FID, IS, RID
    for mode in ("width", "channel"):  # pagan (30 + 1.5 seed) is far below noaug (100 + ...)
        assert f"- FID: PAGAN ({mode}) < PAGAN-NOAUG ({mode}): holds" in checks
        assert f"- RID: PAGAN ({mode}) < PAGAN-NOAUG ({mode}): holds" in checks
    only_vae = tmp_path / "vae"
    write_job(only_vae / "0", ["seed=1"], fake_metrics("vae", None, 1), model="vae")
    assert summarize(only_vae)[0].label == "VAE"
    assert "- none:" in (only_vae / "summary.md").read_text()


def test_summary_figure(reproduction: Path) -> None:
    summarize(reproduction)
    width, height = Image.open(reproduction / "summary.png").size
    assert width > height > 500  # five panels, three a row
    unevaluated = reproduction / "pairs" / "0" / "again"  # no evaluation anywhere: no figure
    write_job(unevaluated / "0", ["seed=1"])
    summarize(unevaluated)
    assert (unevaluated / "summary.md").exists() and not (unevaluated / "summary.png").exists()


def test_pagan_collect_prints_the_table_then_the_summary(
    reproduction: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(reproduction)])
    out = capsys.readouterr().out
    for name in ("table.md", "table.csv", "summary.md", "summary.csv", "summary.png"):
        assert (reproduction / name).exists(), name
    table, summary = (
        (reproduction / "table.md").read_text(),
        (reproduction / "summary.md").read_text(),
    )
    assert out == table + "\n" + summary
    assert table.count("\n") == 2 + 12 + 3 + 3  # header, separator, a row per job
    assert "- FID: PAGAN (width) < PAGAN-L1: holds" in summary
    assert "- RID: PAGAN (channel) < PAGAN-NOAUG (channel): holds" in summary  # p = 0.002


def test_group_labels_follow_the_paper() -> None:
    def group(variant: str, mode: str | None, extras: tuple[str, ...] = ()) -> str:
        return Group(variant, mode, extras, extras, [Job(variant, mode)]).label

    assert group("pagan", "width") == "PAGAN (width)"
    assert group("noaug", "channel") == "PAGAN-NOAUG (channel)"
    assert group("l1", None) == "PAGAN-L1" and group("vae", None) == "VAE"
    assert group("wgan_gp", "channel", ("f=kl",)) == "WPAGAN (channel) [f=kl]"


def test_verdicts_compare_like_with_like_and_read_is_the_other_way(tmp_path: Path) -> None:
    """A PAGAN with another encoder is not judged against the default PAGAN-L1; IS, where
    higher is better, holds when PAGAN's is above."""
    for seed in (1, 2, 3):
        common = ["experiment=table3_quick", f"seed={seed}"]
        write_job(
            tmp_path / "pagan" / str(seed),
            ["variant=pagan", *common],
            fake_metrics("pagan", None, seed),
        )
        paper = ["variant=pagan", "model/encoder=paper", *common]
        write_job(tmp_path / "paper" / str(seed), paper, fake_metrics("noaug", None, seed))
        l1 = fake_metrics("l1", None, seed) | {"is": 3.0 + 0.1 * seed}
        write_job(tmp_path / "l1" / str(seed), ["variant=l1", *common], l1)
    summarize(tmp_path)
    checks = (tmp_path / "summary.md").read_text().split("## The paper's orderings")[1]
    lines = [line for line in checks.splitlines() if line.startswith("- ")]
    assert [line.split(":")[:2] for line in lines] == [
        ["- FID", " PAGAN (width) < PAGAN-L1"],
        ["- IS", " PAGAN (width) > PAGAN-L1"],
        ["- RID", " PAGAN (width) < PAGAN-L1"],
    ]
    assert all(": holds (" in line for line in lines), lines


def test_the_training_pair_match_is_summarised_beside_the_evaluation(tmp_path: Path) -> None:
    values = [0.5, 0.75, 1.0]
    for seed, value in zip((1, 2, 3), values, strict=True):
        job = tmp_path / str(seed)
        write_job(job, ["variant=pagan", f"seed={seed}"], fake_metrics("pagan", None, seed))
        (job / "csv").mkdir()
        rows = ["step,train/d_pair,val/pair_match", "49,1.2,", f"499,,{value}", "549,1.1,"]
        (job / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")
    (group,) = summarize(tmp_path)
    assert group.n == 3 and group.stat("val/pair_match") == stat(values)
    header = (tmp_path / "summary.md").read_text().splitlines()[4]
    assert header.endswith("| AUG RID | pair_match |")
    # a fourth seed still training (logged values, no evaluation) is not averaged in
    job = tmp_path / "4"
    write_job(job, ["variant=pagan", "seed=4"])
    (job / "csv").mkdir()
    (job / "csv" / "metrics.csv").write_text("step,val/pair_match\n499,0.0\n")
    (group,) = summarize(tmp_path)
    assert group.n == 3 and group.stat("val/pair_match") == stat(values)


def test_precisions_and_feature_spaces_are_never_pooled_or_compared(tmp_path: Path) -> None:
    """Seeds trained in another precision, or evaluated in another feature space (another
    classifier's weights), form groups of their own, labelled; the orderings compare groups of
    one precision and one feature space only."""

    def job(name: str, variant: str, seed: int, precision: str | None, weights: str) -> None:
        metrics = fake_metrics(variant, "width", seed) | {"feature_weights_sha256": weights * 8}
        write_job(tmp_path / name, [f"variant={variant}", f"seed={seed}"], metrics)
        if precision is not None:  # pagan-train's record of the resolved config
            resolved = {"seed": seed, "trainer": {"precision": precision}}
            OmegaConf.save(resolved, tmp_path / name / "config_resolved.yaml")

    for seed in (1, 2):
        job(f"fp32_{seed}", "pagan", seed, "32-true", "a")
        job(f"bf16_{seed}", "pagan", seed, "bf16-mixed", "a")
        job(f"other_{seed}", "noaug", seed, "32-true", "b")
    job("unknown_1", "noaug", 1, None, "a")
    groups = {g.label: g for g in summarize(tmp_path)}
    assert groups.keys() == {
        "PAGAN (width) [precision=32-true]",
        "PAGAN (width) [precision=bf16-mixed]",
        "PAGAN-NOAUG (width) [precision=32-true features=classifier:bbbbbbbb]",
        "PAGAN-NOAUG (width) [features=classifier:aaaaaaaa]",
    }
    assert all(g.n == 2 for label, g in groups.items() if label.startswith("PAGAN ("))
    assert groups["PAGAN (width) [precision=bf16-mixed]"].precisions == "bf16-mixed: 2"
    summary = (tmp_path / "summary.md").read_text()
    assert "- none: needs PAGAN and" in summary  # no two groups share both

    for seed in (1, 2):  # a NOAUG in PAGAN fp32's precision and feature space
        job(f"same_{seed}", "noaug", seed, "32-true", "a")
    summary = summarize(tmp_path) and (tmp_path / "summary.md").read_text()
    assert "Each line is one of 3 comparisons" in summary
    assert summary.count("PAGAN (width) [precision=32-true] < PAGAN-NOAUG (width)") == 2  # FID, RID


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        ('eval/2024-01-01_00-00-00/metrics.json:{"fid": 1', "is not a pagan-evaluate result"),
        ("eval/2024-01-01_00-00-00/metrics.json:[1, 2]", "is not a pagan-evaluate result"),
        (".hydra/overrides.yaml:{a: [", "is not a list of Hydra overrides"),
        (".hydra/overrides.yaml:just text", "is not a list of Hydra overrides"),
        ("csv/metrics.csv:step,val/pair_match\n0,high\n", "val/pair_match='high' is not a number"),
    ],
)
def test_pagan_collect_names_a_corrupt_file_in_one_line(
    corrupt: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_job(tmp_path / "0", ["seed=1"], fake_metrics("pagan", "width", 1))
    name, text = corrupt.split(":", 1)
    (tmp_path / "0" / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "0" / name).write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path)])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {tmp_path / '0' / name}") and message in line, line
