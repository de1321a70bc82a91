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
        tune_summary,

    rule tune_setup:
        """Storage schema, study and its MLflow run, created once before any worker starts."""
        conda:
            "../../envs/ems.yaml"
        input:
            tracking=tune_tracking_parent,
        output:
            setup=ems_paths.tune_setup_json(RESULTS),
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.setup).parent,
            tracking=tune_tracking_arg,
            ems=EMS,
        resources:
            mem_mb=1000,
            runtime=10,
        log:
            LOGS / "tune" / "setup.log",
        shell:
            "{params.ems} tune-setup --out-dir {params.out_dir:q} --settings {params.settings:q} {params.tracking}"
            " --done {output.setup:q} > {log:q} 2>&1"

    rule tune_worker:
        conda:
            "../../envs/ems.yaml"
        input:
            setup=ems_paths.tune_setup_json(RESULTS),
            train=ems_paths.shards_dir(RESULTS, "train"),
            valid=ems_paths.shards_dir(RESULTS, "valid"),
            tokenizer=ems_paths.tokenizer_dir(RESULTS),
            tracking=tune_tracking_parent,
        output:
            done=ems_paths.tune_worker_json(RESULTS, "{worker}"),
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.done).parent.parent,
            tracking=tune_tracking_arg,
            # ems.launch (quoted like EMS): claims this worker's own GPU on a multi-GPU machine
            ems=EMS.replace(" -m ems.cli", " -m ems.launch"),
        wildcard_constraints:
            worker=r"\d+",
        threads: job_threads(share=config["tune"]["workers"])  # parallel workers share the cores
        resources:
            mem_mb=6000,
            runtime=240,  # minutes; profiles/slurm sets paper scale
            gpu=config["launch"]["tune_gpus"],
        log:
            LOGS / "tune" / "worker-{worker}.log",
        benchmark:
            BENCH / "tune" / "worker-{worker}.tsv"
        shell:
            "{params.ems} --gpus {resources.gpu:q} --processes 1 --threads {threads} --"
            " tune --shards {input.train:q} --valid {input.valid:q} --tokenizer {input.tokenizer:q}"
            " --out-dir {params.out_dir:q} --settings {params.settings:q} --worker-id {wildcards.worker:q}"
            " {params.tracking} --done {output.done:q} > {log:q} 2>&1"

    rule tune_summary:
        conda:
            "../../envs/ems.yaml"
        input:
            workers=[ems_paths.tune_worker_json(RESULTS, w) for w in TUNE_WORKERS],
            tracking=tune_tracking_parent,
        output:
            best=report(ems_paths.tune_best_params(RESULTS), caption="../report/tune_best_params.rst", category="Tuning",
                        labels={"result": "Best parameters"}),
            trials=report(ems_paths.tune_trials_csv(RESULTS), caption="../report/tune_trials.rst", category="Tuning",
                          labels={"result": "Trials"}),
            history=report(ems_paths.tune_figure(RESULTS, "history", "png"), caption="../report/tune_history.rst", category="Tuning",
                           labels={"figure": "Optimisation history"}),
            importances=report(
                ems_paths.tune_figure(RESULTS, "importances", "png"), caption="../report/tune_importances.rst", category="Tuning",
                labels={"figure": "Parameter importances"},
            ),
            parallel=report(ems_paths.tune_figure(RESULTS, "parallel", "png"), caption="../report/tune_parallel.rst", category="Tuning",
                            labels={"figure": "Parallel coordinates"}),
            pdfs=[ems_paths.tune_figure(RESULTS, name, "pdf") for name in TUNE_FIGURES],  # written beside each PNG
        params:
            settings=tune_settings,
            out_dir=lambda w, output: Path(output.best).parent,
            tracking=tune_tracking_arg,
            ems=EMS,
        resources:
            mem_mb=2000,
            runtime=15,
        log:
            LOGS / "tune" / "summary.log",
        shell:
            "{params.ems} tune-summary --out-dir {params.out_dir:q} --settings {params.settings:q} {params.tracking}"
            " --best-params {output.best:q} --trials {output.trials:q} --history {output.history:q}"
            " --importances {output.importances:q} --parallel {output.parallel:q} > {log:q} 2>&1"


if config["tune"]["enabled"]:
    TARGETS.extend([str(ems_paths.tune_best_params(RESULTS)), str(ems_paths.tune_trials_csv(RESULTS))]
                   + [str(ems_paths.tune_figure(RESULTS, name, ext)) for name in TUNE_FIGURES for ext in ("png", "pdf")])
