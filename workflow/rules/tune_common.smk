# Helpers of the tune stage (kept apart from its rules, as the linter asks): paths and
# tuned_overrides(), which the training rule calls to find best_params.yaml.

TUNE = ems_paths.tune_dir(RESULTS)
TUNE_WORKERS = list(range(config["tune"]["workers"]))
TUNE_FIGURES = ("history", "importances", "parallel")


def tuned_overrides():
    """best_params.yaml when tune.use_best is true (for the training rule to deep-merge), else None.

    Call it from an input function or a lambda (train.smk is included before this file).
    """
    if config["tune"]["use_best"]:
        return str(ems_paths.tune_best_params(RESULTS))
    return None


def tune_settings(wildcards):
    """JSON settings of the tune rules; switching tune.enabled/use_best does not rerun the study."""
    sections = {s: config[s] for s in ("name", "results_dir", "model", "objective", "train")}
    sections["tracking"] = public_tracking(config["tracking"])  # the URI comes from the environment
    sections["tune"] = {k: v for k, v in config["tune"].items() if k not in ("enabled", "use_best")}
    return json.dumps(sections, sort_keys=True)


def tune_tracking_parent(wildcards):
    """The configuration's MLflow parent.json, when a tracking_setup rule makes one."""
    try:
        rules.tracking_setup  # Snakemake raises WorkflowError for an undefined rule
    except Exception:
        return []
    return [str(ems_paths.parent_json(RESULTS))]


def tune_tracking_arg(wildcards, input):
    import shlex

    return f"--tracking-parent {shlex.quote(str(input.tracking[0]))}" if input.tracking else ""
