# Helpers of the train stage (kept apart from its rules, as the linter asks): variants,
# model ids, input and settings functions of the train rule.
import json as _train_json

from ems.config import deep_merge as _train_deep_merge

TRAIN_CHECKPOINTS = RESULTS / "checkpoints"

#: variant -> config overrides (sections, deep-merged over the config). The ablation stage
#: may add entries here or replace train_overrides() / train_shards() / ems_model_ids().
TRAIN_VARIANTS = {"default": {}}


def train_overrides(variant):
    """Config overrides of a variant (the ablation grid may replace this function)."""
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f"unknown training variant {variant!r}; known: {sorted(TRAIN_VARIANTS)}")
    return TRAIN_VARIANTS[variant]


def train_shards(wildcards):
    """Training shards of a variant (all variants share the prepared shards by default)."""
    return RESULTS / "shards" / "train"


def ems_model_ids():
    """EMS model ids the workflow trains and evaluates: default/seed<train.seed> for now."""
    return [f"default/seed{config['train']['seed']}"]


def _train_inputs(wildcards):
    inputs = {
        "train": train_shards(wildcards),
        "valid": RESULTS / "shards" / "valid",
        "tokenizer": RESULTS / "tokenizer",
        "parent": RESULTS / "tracking" / "parent.json",
    }
    tuned = globals()["tuned_overrides"]() if "tuned_overrides" in globals() else None
    if tuned:
        inputs["tuned"] = tuned
    return inputs


def _train_set(wildcards):
    """Last-word settings of one job: the variant's overrides and the seed of the wildcard."""
    return _train_json.dumps(
        _train_deep_merge(train_overrides(wildcards.variant), {"train": {"seed": int(wildcards.seed)}}), sort_keys=True
    )

