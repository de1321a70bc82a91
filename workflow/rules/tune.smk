# tune stage: an Optuna study over tune.space, created once (tune_setup), run by tune.workers
# parallel Snakemake jobs on one storage (journal file under results/<name>/tune, or
# tune.storage), then summarised.
# Rerunning continues the study up to tune.n_trials (see docs/tuning.md).

include: "tune_common.smk"


# The rules exist when a study is wanted (tune.enabled) or when training needs its result
# (tune.use_best); only tune.enabled puts the study's outputs into the final targets.
if config["tune"]["enabled"] or config["tune"]["use_best"]:

    localrules:
        tune_setup,

    rule tune_setup:
        """Storage schema, study and its MLflow run, created once before any worker starts."""
        conda:
            "../../envs/ems.yaml"
        input:
            tracking=tune_tracking_parent,
        output:
            setup=TUNE / "setup.json",
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.setup).parent,
            tracking=tune_tracking_arg,
            ems=EMS,
        log:
            LOGS / "tune" / "setup.log",
        shell:
            "{params.ems} tune-setup --out-dir {params.out_dir:q} --settings {params.settings:q} {params.tracking}"
            " --done {output.setup:q} > {log} 2>&1"

    rule tune_worker:
        conda:
            "../../envs/ems.yaml"
        input:
            setup=TUNE / "setup.json",
            train=RESULTS / "shards" / "train",
            valid=RESULTS / "shards" / "valid",
            tokenizer=RESULTS / "tokenizer",
            tracking=tune_tracking_parent,
        output:
            done=TUNE / "workers" / "worker-{worker}.json",
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.done).parent.parent,
            tracking=tune_tracking_arg,
            ems=EMS,
        wildcard_constraints:
            worker=r"\d+",
        threads: 2 if config["tune"]["workers"] == 1 else 1  # parallel workers share the cores
        log:
            LOGS / "tune" / "worker-{worker}.log",
        benchmark:
            BENCH / "tune" / "worker-{worker}.tsv"
        shell:
            "{params.ems} tune --shards {input.train:q} --valid {input.valid:q} --tokenizer {input.tokenizer:q}"
            " --out-dir {params.out_dir:q} --settings {params.settings:q} --worker-id {wildcards.worker}"
            " --threads {threads} {params.tracking} --done {output.done:q} > {log} 2>&1"

    rule tune_summary:
        conda:
            "../../envs/ems.yaml"
        input:
            workers=expand(TUNE / "workers" / "worker-{worker}.json", worker=TUNE_WORKERS),
            tracking=tune_tracking_parent,
        output:
            best=report(TUNE / "best_params.yaml", caption="../report/tune_best_params.rst", category="Tuning"),
            trials=report(TUNE / "trials.csv", caption="../report/tune_trials.rst", category="Tuning"),
            history=report(TUNE / "figures" / "history.png", caption="../report/tune_history.rst", category="Tuning"),
            importances=report(
                TUNE / "figures" / "importances.png", caption="../report/tune_importances.rst", category="Tuning"
            ),
            parallel=report(TUNE / "figures" / "parallel.png", caption="../report/tune_parallel.rst", category="Tuning"),
            pdfs=[TUNE / "figures" / f"{name}.pdf" for name in TUNE_FIGURES],  # written beside each PNG
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.best).parent,
            tracking=tune_tracking_arg,
            ems=EMS,
        log:
            LOGS / "tune" / "summary.log",
        shell:
            "{params.ems} tune-summary --out-dir {params.out_dir:q} --settings {params.settings:q} {params.tracking}"
            " --best-params {output.best:q} --trials {output.trials:q} --history {output.history:q}"
            " --importances {output.importances:q} --parallel {output.parallel:q} > {log} 2>&1"


if config["tune"]["enabled"]:
    TARGETS.extend([str(TUNE / "best_params.yaml"), str(TUNE / "trials.csv")]
                   + [str(TUNE / "figures" / f"{name}.{ext}") for name in TUNE_FIGURES for ext in ("png", "pdf")])
