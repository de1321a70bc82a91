"""Report captions and labels read as text and say what the code writes.

Every ``workflow/report/*.rst`` is rendered with Jinja as ``snakemake --report`` renders it
(``snakemake.config``, ``.params``, ``.wildcards``), from the validated default config and the
params the rules pass (``grid`` from :func:`ems.ablation.rules.grid_caption`): no Python list or
bool reaches the text, the grid's factors come from the factor table, figure captions name
their interval, and figures are labelled by title, not by file stem.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
import yaml

from ems import grid, names
from ems.ablation import outputs, rules
from ems.config import validate_config

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = sorted((ROOT / "workflow" / "report").glob("*.rst"))


@pytest.fixture(scope="module")
def config() -> dict:
    cfg = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    cfg["ablation"]["factors"].update(objective=["both", "xtr"], temperature=[0.05, 0.1])  # two varied factors
    return cfg


def render(path: Path, config: dict) -> str:
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    params = SimpleNamespace(grid=rules.grid_caption(config))
    snakemake = SimpleNamespace(config=config, params=params,
                                wildcards=SimpleNamespace(variant=grid.variants(config)[0], seed=1))
    return " ".join(env.from_string(path.read_text()).render(snakemake=snakemake).split())  # one line


@pytest.mark.parametrize("path", CAPTIONS, ids=[p.stem for p in CAPTIONS])
def test_caption_renders_as_text(path: Path, config: dict) -> None:
    text = render(path, config)
    # a list of strings or of three and more numbers (seeds) or a bool, as Python prints them ("[0, 1]" is a range)
    raw = re.search(r"\[['\"]|\[\d+(?:\.\d+)?(?:, \d+(?:\.\d+)?){2,}\]|\bTrue\b|\bFalse\b", text)
    assert not raw, f"{path.name}: a raw Python value {raw.group(0)!r}: {text}"
    assert "<variant>/seed<k>" not in text and "{{" not in text


def test_grid_caption_comes_from_the_factor_table(config: dict) -> None:
    text = rules.grid_caption(config)
    for factor in grid.FACTORS:
        assert names.factor_name(factor.name) in text
    assert "objective XTR + contrastive, XTR" in text and "temperature 0.05, 0.1" in text
    assert "target-language embedding on;" in text
    seeds = grid.seeds(config)
    assert f"seeds {', '.join(map(str, seeds))} ({len(grid.variants(config))} cells × {len(seeds)} seeds" in text
    for path in CAPTIONS:  # no caption names the factors by hand any more
        raw = path.read_text()
        assert 'snakemake.config["ablation"]["factors"]["' not in raw, path.name


def test_figure_captions_name_their_interval(config: dict) -> None:
    for stem in ("figure_ablation_bars", "figure_scaling"):
        assert "95% t-interval over seeds, clipped to the metric's range" in render(
            ROOT / "workflow" / "report" / f"{stem}.rst", config)
    assert "± one standard deviation over seeds" in render(ROOT / "workflow" / "report" / "figure_learning_curves.rst",
                                                             config)
    for stem in ("figure_cost_per_job", "figure_per_language_heatmap", "data_stats", "train_loss_curve"):
        assert "no interval" in render(ROOT / "workflow" / "report" / f"{stem}.rst", config), stem


def test_run_names_in_captions_are_the_ones_mlflow_gets(config: dict) -> None:
    from ems.run_names import run_name

    text = render(ROOT / "workflow" / "report" / "table_ablation.rst", config)
    variant = grid.variants(config)[0]
    assert run_name(f"{variant}/seed1", ["objective"]) == "both/s1"
    assert "``both/s1``" in text and "seed<k>" in text  # the run name, and the model folder


def test_figures_are_labelled_by_title(config: dict) -> None:
    seen = {}

    def report(path: Path, **kwargs: object) -> Path:
        seen[Path(path).stem] = kwargs["labels"]["figure"]
        return path

    rules.figure_outputs(config, Path("figures"), report)
    assert set(seen) == set(outputs.figure_stems(config))
    assert seen["ablation_bars"] == "Headline metrics per cell"
    assert seen["scaling_temperature"] == "Scaling: temperature"
    assert all("_" not in label for label in seen.values()), seen
