# evaluate stage: one job per (model, task): per-language CSV + summary JSON under
# results/<name>/eval/<model_id>/, metrics to MLflow (training run, or a child run for peers).
# Tasks: ems.evaluation.registry.enabled_tasks (tatoeba, flores, mining [BUCC-style], sib200,
# umsab, bucc2018 when configured, evaluation.extra_datasets). See docs/evaluation.md.
from ems.evaluation import rules as eval_rules

EVAL = RESULTS / "eval"


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


TARGETS.extend(eval_rules.targets(config, RESULTS, ems_model_ids()))
