# Helpers of the train stage (kept apart from its rules, as the linter asks): variants,
# model ids, input and settings functions of the train rule.
from ems import grid as ablation_grid
from ems.config import deep_merge as _train_deep_merge


#: The model folder of one grid cell and seed, as a rule pattern (every results path comes from ems.paths).
MODEL_DIR = ems_paths.model_dir(RESULTS, ems_paths.model_id("{variant}", "{seed}"))


# Variants and model ids come from the ablation grid (ems.grid, Paramspace over
# ablation.factors x ablation.seeds): every trained model is a cell of the grid.


def train_overrides(variant):
    """Config overrides of a grid variant (objective weights, language embedding, temperature)."""
    return ablation_grid.variant_overrides(config, variant)


def train_shards(wildcards):
    """Training shards of a variant: the prepared shards, or a data-fraction subset of them."""
    return ablation_grid.train_shards_dir(RESULTS, wildcards.variant)


def ems_model_ids():
    """EMS model ids the workflow trains and evaluates: <variant>/seed<seed> of every grid cell."""
    return ablation_grid.model_ids(config)


def _train_inputs(wildcards):
    inputs = {
        "train": train_shards(wildcards),
        "valid": ems_paths.shards_dir(RESULTS, "valid"),
        "tokenizer": ems_paths.tokenizer_dir(RESULTS),
        "parent": ems_paths.parent_json(RESULTS),
        # ancient: a grid that changes which factors vary renames runs, it never retrains a model
        "names": ancient(ems_paths.run_names_json(RESULTS)),
    }
    tuned = tuned_overrides()  # tune_common.smk
    if tuned:
        inputs["tuned"] = tuned
    return inputs


def _train_set(wildcards):
    """Last-word settings of one job: the variant's overrides and the seed of the wildcard."""
    return settings_json(_train_deep_merge(train_overrides(wildcards.variant), {"train": {"seed": int(wildcards.seed)}}))

