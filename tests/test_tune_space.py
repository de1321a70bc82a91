"""The search space of ``tune.space``: name -> config section, and errors that name the key."""

from __future__ import annotations

import copy

import optuna
import pytest

from ems.config import REPO_ROOT, deep_merge, load_config, validate_config
from ems.errors import ConfigError
from ems.tune.space import build_space, resolve_name, suggest, to_overrides


def test_names_map_onto_the_trainer_sections() -> None:
    assert resolve_name("lr") == ("train", "lr")
    assert resolve_name("warmup_steps") == ("train", "warmup_steps")
    assert resolve_name("batch_size") == ("train", "batch_size")
    assert resolve_name("temperature") == ("objective", "temperature")
    assert resolve_name("contrastive_weight") == ("objective", "contrastive_weight")
    assert resolve_name("dropout") == ("model", "dropout")
    assert resolve_name("lang_embedding_dim") == ("model", "lang_embedding_dim")
    assert resolve_name("model.dropout") == ("model", "dropout")


@pytest.mark.parametrize(
    ("name", "spec", "needle"),
    [
        ("lr", {"type": "float", "low": 1e-3, "high": 1e-4}, "tune.space.lr: low (0.001) must be smaller than high"),
        ("lr", {"type": "float", "low": 1e-3, "high": 1e-3}, "tune.space.lr: low"),
        ("lr", {"type": "float", "low": 0.0, "high": 1e-3, "log": True}, "tune.space.lr: a log-scaled range needs low > 0"),
        ("lr", {"type": "float", "low": 0.0, "high": 1e-3}, "tune.space.lr.low: 0.0 is not a valid value"),
        ("dropout", {"type": "float", "low": 0.1, "high": 1.5}, "tune.space.dropout.high"),
        ("learning_rate", {"type": "float", "low": 1e-4, "high": 1e-3}, "tune.space.learning_rate: the trainer has no setting"),
        ("train.nope", {"type": "float", "low": 1e-4, "high": 1e-3}, "tune.space.train.nope"),
        ("max_steps", {"type": "int", "low": 10, "high": 20}, "not a hyperparameter"),
        ("batch_size", {"type": "int", "low": 8, "high": 64.5}, "tune.space.batch_size.high: an int parameter needs whole numbers"),
        ("batch_size", {"type": "int", "low": 8, "high": 64, "step": 8, "log": True}, "step and log cannot be combined"),
        ("temperature", {"type": "categorical", "choices": [0.1, -1.0]}, "tune.space.temperature.choices[1]"),
        ("temperature", {"type": "categorical", "choices": [0.1], "low": 0.1}, "only 'choices'"),
        ("temperature", {"type": "float", "low": 0.1, "high": 0.2, "choices": [0.1]}, "only for type categorical"),
        ("warmup_steps", {"type": "int", "low": 0, "high": 10, "step": 20}, "larger than the range"),
    ],
)
def test_bad_ranges_name_the_key(name: str, spec: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_space({name: spec})
    assert needle in str(err.value)


def test_two_names_for_one_setting_are_rejected() -> None:
    with pytest.raises(ConfigError, match="sets train.lr"):
        build_space({"lr": {"type": "float", "low": 1e-4, "high": 1e-3},
                     "train.lr": {"type": "float", "low": 1e-4, "high": 1e-3}})


def test_schema_requires_bounds_and_choices() -> None:
    cfg = load_config(REPO_ROOT / "config.yaml")
    bad = copy.deepcopy(cfg)
    bad["tune"]["space"] = {"dropout": {"type": "float", "low": 0.0}}
    with pytest.raises(ConfigError, match="tune.space.dropout"):
        validate_config(bad)
    bad["tune"]["space"] = {"temperature": {"type": "categorical"}}
    with pytest.raises(ConfigError, match="tune.space.temperature"):
        validate_config(bad)


def test_sampled_points_are_valid_config_overrides() -> None:
    space = build_space({
        "lr": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True},
        "warmup_steps": {"type": "int", "low": 0, "high": 100, "step": 10},
        "temperature": {"type": "categorical", "choices": [0.05, 0.1]},
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
        "lang_embedding_dim": {"type": "int", "low": 8, "high": 64, "log": True},
    })
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    cfg = load_config(REPO_ROOT / "config.yaml")
    for _ in range(5):
        trial = study.ask()
        values = suggest(trial, space)
        over = to_overrides(values, space)
        assert set(over) == {"train", "objective", "model"}
        assert over["train"]["warmup_steps"] % 10 == 0 and 0 <= over["train"]["warmup_steps"] <= 100
        assert 1e-4 <= over["train"]["lr"] <= 1e-3
        assert over["objective"]["temperature"] in (0.05, 0.1)
        merged = validate_config(deep_merge(cfg, over))  # a sampled point is a valid configuration
        assert merged["model"]["dropout"] == values["dropout"]
        study.tell(trial, 0.0)


def test_default_config_space_is_valid() -> None:
    cfg = load_config(REPO_ROOT / "config.yaml")
    names = [p.name for p in build_space(cfg["tune"]["space"])]
    assert names == list(cfg["tune"]["space"])
