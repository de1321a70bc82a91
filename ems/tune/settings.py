"""The ``tune`` config section as a typed object (defaults come from the schema only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ems.config import section
from ems.errors import ConfigError

#: The trainer's dev retrieval accuracy, tuned on when ``tune.metric`` is null.
DEFAULT_METRIC = "dev/retrieval_acc"


@dataclasses.dataclass(frozen=True)
class TuneSettings:
    """Every key of the schema's ``tune`` section; built by :func:`tune_section`."""

    enabled: bool
    use_best: bool
    n_trials: int
    workers: int
    budget_steps: int
    budget_seconds: float | None
    eval_every: int | None
    metric: str | None
    sampler_seed: int
    pruner: str
    pruner_startup_trials: int
    pruner_warmup_steps: int
    study_name: str | None
    enqueue: list[dict[str, Any]]
    storage: str | None
    heartbeat_interval: int
    heartbeat_grace: int
    retries: int
    space: dict[str, Any]

    @property
    def metric_name(self) -> str:
        """The dev metric the study maximises (named in the study for optuna-dashboard)."""
        return self.metric or DEFAULT_METRIC

    @property
    def trial_eval_every(self) -> int:
        """Steps between a trial's dev evaluations: ``eval_every`` or a fifth of the budget."""
        return int(min(self.eval_every or max(1, self.budget_steps // 5), self.budget_steps))


def tune_section(settings: Mapping[str, Any]) -> TuneSettings:
    """Validate ``settings["tune"]`` against the schema, fill its defaults, return it typed."""
    tune = section(settings, "tune", into=TuneSettings)
    if tune.heartbeat_grace <= tune.heartbeat_interval:
        raise ConfigError(
            f"tune.heartbeat_grace: {tune.heartbeat_grace} must exceed tune.heartbeat_interval "
            f"({tune.heartbeat_interval}), or live trials would be failed"
        )
    return tune
