# train stage: the MLflow experiment + parent run (once), then one training job per model id
# <variant>/seed<seed> -> results/<name>/models/<variant>/seed<seed>/ (see docs/training.md).
# Rerunning a killed training job resumes from results/<name>/checkpoints/<variant>/seed<seed>/.

include: "train_common.smk"


localrules:
    tracking_setup,
    tracking_names,


rule tracking_setup:
    """Create the MLflow store, experiment and this configuration's parent run, once."""
    conda:
        "../../envs/ems.yaml"
    output:
        parent=ems_paths.parent_json(RESULTS),
    params:
        settings=lambda w: settings("name", "results_dir", "tracking"),
        ems=EMS,
    resources:
        mem_mb=500,
        runtime=5,
    log:
        LOGS / "tracking_setup.log",
    shell:
        "{params.ems} tracking-setup --settings {params.settings:q} --out {output.parent:q} > {log:q} 2>&1"


rule tracking_names:
    """Short MLflow run names of the grid's models (both/s1: only the factors that vary)."""
    conda:
        "../../envs/ems.yaml"
    output:
        names=ems_paths.run_names_json(RESULTS),
    params:
        settings=lambda w: settings("name", "ablation"),
        ems=EMS,
    resources:
        mem_mb=500,
        runtime=5,
    log:
        LOGS / "tracking_names.log",
    shell:
        "{params.ems} tracking-names --settings {params.settings:q} --out {output.names:q} > {log:q} 2>&1"


rule train:
    """Train one EMS model (resumes from its checkpoints after a crash or kill)."""
    conda:
        "../../envs/ems.yaml"
    input:
        unpack(_train_inputs),
    output:
        # one output per file of ems.paths.MODEL_FOLDER_FILES (ems.train.outputs writes them, run.json last)
        model=directory(ems_paths.model_file(MODEL_DIR, "model")),
        heads=ems_paths.model_file(MODEL_DIR, "heads"),
        history=ems_paths.model_file(MODEL_DIR, "history"),
        settings=ems_paths.model_file(MODEL_DIR, "settings"),
        curve=report(
            ems_paths.model_file(MODEL_DIR, "curve"),
            caption="../report/train_loss_curve.rst",
            category="Training",
            subcategory="{variant}",
            labels={"model": "seed {seed}", "figure": "Loss and dev curves"},
        ),
        run=ems_paths.model_file(MODEL_DIR, "run"),
    params:
        settings=lambda w: settings("name", "results_dir", "model", "objective", "train", "tracking"),
        set=_train_set,
        overrides=lambda w, input: shlex.join(["--overrides", input.tuned]) if "tuned" in input.keys() else "",
        out=lambda w, output: Path(output.run).parent,
        checkpoints=lambda w: ems_paths.checkpoint_dir(RESULTS, ems_paths.model_id(w.variant, w.seed)),
        model_id=lambda w: ems_paths.model_id(w.variant, w.seed),
        # ems.launch (quoted like EMS): torchrun when the job has > 1 GPU or CPU process, else directly
        ems=EMS.replace(" -m ems.cli", " -m ems.launch"),
        processes=config["launch"]["cpu_processes"],
    wildcard_constraints:
        variant=r"[^/]+",
        seed=r"\d+",
    # every core the job is given (launch.threads; --cores locally, set-threads on a cluster)
    threads: job_threads()
    # a killed, failed or timed-out job reruns and resumes from its checkpoints, with more memory
    retries: config["launch"]["retries"]
    resources:
        mem_mb=lambda w, attempt: 6000 * attempt,
        runtime=240,  # minutes; profiles/slurm sets paper scale
        gpu=config["launch"]["gpus"],
    log:
        LOGS / "train" / "{variant}" / "seed{seed}.log",
    benchmark:
        BENCH / "train" / "{variant}" / "seed{seed}.tsv"
    shell:
        "{params.ems} --gpus {resources.gpu:q} --processes {params.processes:q} --threads {threads} --"
        " train --shards {input.train:q} --valid {input.valid:q} --tokenizer {input.tokenizer:q}"
        " --out {params.out:q} --settings {params.settings:q} {params.overrides} --set {params.set:q}"
        " --parent-run {input.parent:q} --run-names {input.names:q} --model-id {params.model_id:q} --checkpoint-dir {params.checkpoints:q}"
        " --no-progress > {log:q} 2>&1"


TARGETS.extend(
    str(ems_paths.model_file(ems_paths.model_dir(RESULTS, model_id), key))
    for model_id in ems_model_ids()
    for key in ("run", "curve")
)
