"""Search space of the tuning stage, built from ``tune.space`` and checked before any trial.

Each parameter name maps onto the config section that owns it (``lr`` -> ``train.lr``,
``temperature`` -> ``objective.temperature``, ``dropout`` -> ``model.dropout``), so a
sampled point turns into config overrides that the trainer (and the final training rule,
through ``best_params.yaml``) deep-merges into its settings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ems.config import load_schema
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

#: Config sections whose keys the trainer reads and a study may tune, in lookup order.
TUNABLE_SECTIONS: tuple[str, ...] = ("train", "objective", "model")

#: Keys of those sections that make no sense to tune (devices, budgets, bookkeeping).
NOT_TUNABLE: frozenset[str] = frozenset(
    {"device", "precision", "num_threads", "max_steps", "max_seconds", "max_epochs", "eval_every",
     "checkpoint_every", "early_stopping_patience", "log_every"}
)


@dataclass(frozen=True)
class SearchParam:
    """One dimension of the search space and the config key it sets."""

    name: str
    section: str
    key: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Draw this parameter from an ``optuna.Trial``."""
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a point of this dimension (bounds, integrality, step, choices)."""
        if self.type == "categorical":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if (self.type == "int" and float(value) != int(value)) or not self.low <= value <= self.high:
            return False
        if self.step:
            k = (value - self.low) / self.step
            return abs(k - round(k)) < 1e-8
        return True

    def distribution(self) -> Any:
        """The matching ``optuna.distributions`` object (to check stored trials against)."""
        from optuna import distributions as d

        if self.type == "float":
            return d.FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.CategoricalDistribution(list(self.choices))


def _section_schemas() -> dict[str, dict[str, Any]]:
    props = load_schema()["properties"]
    return {s: props[s]["properties"] for s in TUNABLE_SECTIONS}


def resolve_name(name: str, sections: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, str]:
    """Map ``lr`` or ``train.lr`` to ``("train", "lr")``; ConfigError for unknown names."""
    sections = sections if sections is not None else _section_schemas()
    where = f"tune.space.{name}"
    if "." in name:
        section, _, key = name.partition(".")
        if section not in sections or key not in sections[section]:
            raise ConfigError(f"{where}: the trainer has no setting {name!r}")
        owners = [section]
    else:
        key = name
        owners = [s for s in TUNABLE_SECTIONS if key in sections[s]]
        if not owners:
            known = sorted(k for s in TUNABLE_SECTIONS for k in sections[s] if k not in NOT_TUNABLE)
            raise ConfigError(
                f"{where}: the trainer has no setting {name!r}; tunable names are {', '.join(known)} "
                "(or section.key)"
            )
        if len(owners) > 1:
            raise ConfigError(f"{where}: {name!r} is ambiguous ({', '.join(owners)}); write section.key")
    if key in NOT_TUNABLE:
        raise ConfigError(f"{where}: {owners[0]}.{key} is a budget/bookkeeping setting, not a hyperparameter")
    return owners[0], key


def _check_value(where: str, value: Any, subschema: Mapping[str, Any]) -> None:
    """A bound or choice must itself be a valid value of the config key it sets."""
    try:
        jsonschema.Draft202012Validator(dict(subschema)).validate(value)
    except jsonschema.ValidationError as exc:
        raise ConfigError(f"{where}: {value!r} is not a valid value of this setting ({exc.message})") from exc


def _number(where: str, spec: Mapping[str, Any], field: str) -> float:
    if field not in spec or spec[field] is None:
        raise ConfigError(f"{where}: type {spec['type']} needs {field}")
    value = spec[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}.{field}: must be a finite number, got {value!r}")
    return value


def build_param(name: str, spec: Mapping[str, Any], sections: Mapping[str, Mapping[str, Any]] | None = None) -> SearchParam:
    """Validate one ``tune.space`` entry and return its :class:`SearchParam`."""
    sections = sections if sections is not None else _section_schemas()
    where = f"tune.space.{name}"
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"{where}: must be a mapping with a 'type' (float, int, categorical)")
    section, key = resolve_name(name, sections)
    subschema = sections[section][key]
    kind = spec["type"]
    log = bool(spec.get("log", False))
    step = spec.get("step")
    if kind == "categorical":
        extra = sorted(k for k in ("low", "high", "step") if spec.get(k) is not None) + (["log"] if log else [])
        if extra:
            raise ConfigError(f"{where}: a categorical parameter takes only 'choices', not {', '.join(extra)}")
        choices = spec.get("choices")
        if not choices:
            raise ConfigError(f"{where}: type categorical needs a non-empty list 'choices'")
        if len({repr(c) for c in choices}) != len(choices):
            raise ConfigError(f"{where}.choices: repeated values in {choices!r}")
        for i, c in enumerate(choices):
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise ConfigError(f"{where}.choices[{i}]: optuna choices must be None, bool, int, float or str")
            _check_value(f"{where}.choices[{i}]", c, subschema)
        return SearchParam(name, section, key, kind, choices=tuple(choices))
    if kind not in ("float", "int"):
        raise ConfigError(f"{where}.type: must be float, int or categorical, got {kind!r}")
    if spec.get("choices") is not None:
        raise ConfigError(f"{where}: 'choices' is only for type categorical")
    low, high = _number(where, spec, "low"), _number(where, spec, "high")
    if low >= high:
        raise ConfigError(f"{where}: low ({low}) must be smaller than high ({high})")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log-scaled range needs low > 0, got {low}")
    if step is not None:
        step = _number(where, spec, "step")
        if step <= 0:
            raise ConfigError(f"{where}.step: must be > 0, got {step}")
        if log:
            raise ConfigError(f"{where}: step and log cannot be combined (optuna)")
        if step > high - low:
            raise ConfigError(f"{where}.step: {step} is larger than the range {low}..{high}")
    if kind == "int":
        for field, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and float(value) != int(value):
                raise ConfigError(f"{where}.{field}: an int parameter needs whole numbers, got {value!r}")
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    else:
        low, high = float(low), float(high)
        step = float(step) if step is not None else None
    for field, value in (("low", low), ("high", high)):
        _check_value(f"{where}.{field}", value, subschema)
    return SearchParam(name, section, key, kind, low=low, high=high, log=log, step=step)


def build_space(space: Mapping[str, Any]) -> list[SearchParam]:
    """Validate the whole ``tune.space`` mapping; two names that set one key are an error."""
    if not space:
        raise ConfigError("tune.space: empty search space; declare at least one parameter")
    sections = _section_schemas()
    params = [build_param(str(name), spec, sections) for name, spec in space.items()]
    seen: dict[tuple[str, str], str] = {}
    for p in params:
        if (p.section, p.key) in seen:
            raise ConfigError(
                f"tune.space.{p.name}: sets {p.section}.{p.key}, as tune.space.{seen[(p.section, p.key)]} does"
            )
        seen[(p.section, p.key)] = p.name
    return params


def suggest(trial: Any, params: list[SearchParam]) -> dict[str, Any]:
    """Sample one point: ``{name: value}``."""
    return {p.name: p.suggest(trial) for p in params}


def to_overrides(values: Mapping[str, Any], params: list[SearchParam]) -> dict[str, dict[str, Any]]:
    """``{"lr": 1e-3}`` -> ``{"train": {"lr": 1e-3}}`` (config-section form, for deep-merge)."""
    by_name = {p.name: p for p in params}
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name not in by_name:
            raise ConfigError(f"tuned value {name!r} is not in tune.space")
        p = by_name[name]
        if isinstance(value, float) and p.type == "int":
            value = int(value)
        out.setdefault(p.section, {})[p.key] = value
    return out


def base_values(params: list[SearchParam], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration's own value of each tuned setting (schema defaults filled in)."""
    from ems.config import section

    resolved = {s: section(settings, s) for s in {p.section for p in params}}
    return {p.name: resolved[p.section][p.key] for p in params}


def fill_point(point: Mapping[str, Any], params: list[SearchParam], base: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An enqueued point with every tuned parameter: those it leaves out take the configuration's value."""
    out = dict(point)
    for p in params:
        if p.name in out:
            continue
        if p.contains(base[p.name]):
            out[p.name] = base[p.name]
        else:
            logger.warning("%s: the configuration's %s.%s = %r lies outside tune.space.%s; the sampler picks it",
                           where, p.section, p.key, base[p.name], p.name)
    return out
