"""What a study is: :class:`StudySpec` (name, storage, search space, points tried first) and its pruner."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ems.errors import ConfigError
from ems.tune.settings import TuneSettings
from ems.tune.space import SearchParam, base_values, build_space, fill_point


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """What a worker needs to know about its study, resolved from the ``tune`` section."""

    name: str
    storage: str
    tune: TuneSettings
    space: list[SearchParam]
    enqueue: tuple[dict[str, Any], ...] = ()
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    direction: str = "maximize"

    @property
    def n_trials(self) -> int:
        return self.tune.n_trials

    @classmethod
    def from_settings(cls, tune: TuneSettings, name: str, storage: str, base: Mapping[str, Any] | None = None) -> StudySpec:
        """``base`` (the configuration) fills what an enqueued point leaves out, so a baseline is complete."""
        space = build_space(tune.space)
        points = check_points(tune.enqueue, space)
        if base is not None:
            values = base_values(space, base)
            points = tuple(fill_point(p, space, values, f"tune.enqueue[{i}]") for i, p in enumerate(points))
        return cls(name=name, storage=storage, tune=tune, space=space, enqueue=points)


def check_points(points: list[Any], space: list[SearchParam]) -> tuple[dict[str, Any], ...]:
    """Validate ``tune.enqueue``: points (subsets of the space) tried first, e.g. the defaults."""
    by_name = {p.name: p for p in space}
    out = []
    for i, point in enumerate(points):
        where = f"tune.enqueue[{i}]"
        if not isinstance(point, Mapping) or not point:
            raise ConfigError(f"{where}: must be a non-empty mapping of tune.space names to values")
        for name, value in point.items():
            if name not in by_name:
                raise ConfigError(f"{where}.{name}: not a parameter of tune.space ({', '.join(by_name)})")
            if not by_name[name].contains(value):
                raise ConfigError(f"{where}.{name}: {value!r} lies outside tune.space.{name}")
        out.append(dict(point))
    return tuple(out)


def make_pruner(spec: StudySpec) -> Any:
    import optuna

    t = spec.tune
    if t.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=t.pruner_startup_trials, n_warmup_steps=t.pruner_warmup_steps)
    if t.pruner == "hyperband":
        every = t.trial_eval_every
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=max(t.budget_steps, every),
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()  # "none" (the schema allows no other name)
