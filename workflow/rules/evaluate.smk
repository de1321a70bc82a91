# evaluate stage: one job per (model, task): per-language CSV + summary JSON under
# results/<name>/eval/<model_id>/, metrics to MLflow (the training run; a peer's one run, rule tracking_peer).
# Tasks: ems.evaluation.registry.enabled_tasks (tatoeba, flores, mining [BUCC-style], sib200,
# umsab, bucc2018 when configured, evaluation.extra_datasets). See docs/evaluation.md.
from ems.evaluation import rules as eval_rules

EVAL = RESULTS / "eval"


# Small jobs (one MLflow run, one Markdown file): on the machine Snakemake runs on.
localrules:
    tracking_peer,
    model_card,


rule tracking_peer:
    """The one MLflow run of a peer encoder (every task of the peer logs to it, as a model's to its training run)."""
    conda:
        "../../envs/ems.yaml"
    input:
        parent=RESULTS / "tracking" / "parent.json",
    output:
        run=RESULTS / "tracking" / "peers" / "{model_id}.json",
    params:
        ems=EMS,
    wildcard_constraints:
        model_id=ems_paths.PEER_ID_REGEX,
    resources:
        mem_mb=500,
        runtime=5,
    log:
        LOGS / "tracking_peer" / "{model_id}.log",
    shell:
        "{params.ems} tracking-peer --parent {input.parent:q} --model-id {wildcards.model_id:q}"
        " --out {output.run:q} > {log:q} 2>&1"


rule evaluate:
    """Evaluate one model (EMS or peer) on one task."""
    conda:
        "../../envs/ems.yaml"
    input:
        unpack(lambda w: eval_rules.inputs(config, RESULTS, w.model_id, w.task)),
    output:
        csv=EVAL / "{model_id}" / "{task}.csv",
        json=EVAL / "{model_id}" / "{task}.json",
    params:
        ems=EMS,
        settings=lambda w: eval_rules.settings_json(config, w.task),
        # already shell-quoted (shlex.quote in ems.evaluation.rules.args)
        args=lambda w, input: eval_rules.args(config, RESULTS, w.model_id, w.task, list(input.keys())),
        cache=lambda w: EVAL / w.model_id / "cache",
    wildcard_constraints:
        model_id=ems_paths.MODEL_ID_REGEX,
        task=eval_rules.task_regex(config),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,  # minutes
    log:
        LOGS / "evaluate" / "{model_id}" / "{task}.log",
    benchmark:
        BENCH / "evaluate" / "{model_id}" / "{task}.tsv"
    shell:
        "{params.ems} evaluate --task {wildcards.task:q} --model-id {wildcards.model_id:q} {params.args}"
        " --out-csv {output.csv:q} --out-json {output.json:q} --cache-dir {params.cache:q}"
        " --threads {threads} --settings {params.settings:q} > {log:q} 2>&1"


rule model_card:
    """A trained model's card with its evaluation results, beside the model folder (the card inside model/,
    written at training time, has none: a rule cannot write into another rule's directory() output)."""
    conda:
        "../../envs/ems.yaml"
    input:
        model=RESULTS / "models" / "{variant}" / "seed{seed}" / "model",
        run=RESULTS / "models" / "{variant}" / "seed{seed}" / "run.json",
        evals=lambda w: [EVAL / ems_paths.model_id(w.variant, w.seed) / f"{t}.json" for t in eval_rules.tasks(config)],
    output:
        card=RESULTS / "models" / "{variant}" / "seed{seed}" / "README.md",
    params:
        ems=EMS,
    wildcard_constraints:
        variant=r"[^/]+",
        seed=r"\d+",
    resources:
        mem_mb=500,
        runtime=5,
    log:
        LOGS / "model_card" / "{variant}" / "seed{seed}.log",
    shell:
        "{params.ems} model-card --model {input.model:q} --run {input.run:q} --evals {input.evals:q}"
        " --out {output.card:q} > {log:q} 2>&1"


TARGETS.extend(eval_rules.targets(config, RESULTS, ems_model_ids()))
TARGETS.extend(str(RESULTS / "models" / m / "README.md") for m in ems_model_ids())
