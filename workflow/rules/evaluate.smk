# evaluate stage: one job per (model, task): per-language CSV + summary JSON under
# results/<name>/eval/<model_id>/, metrics to MLflow (the training run; a peer's one run, rule tracking_peer).
# Tasks: ems.evaluation.registry.enabled_tasks (tatoeba, flores, mining [BUCC-style], sib200,
# umsab, bucc2018 when configured, evaluation.extra_datasets). See docs/evaluation.md.
from ems.evaluation import rules as eval_rules

EVAL = ems_paths.eval_root(RESULTS)


# Small jobs (one MLflow run, one Markdown file) and downloads: on the machine Snakemake runs on.
localrules:
    tracking_peer,
    model_card,
    fetch_official_checkpoint,


rule fetch_official_checkpoint:
    """The authors' EMS_model.pt when evaluation.official_ems.checkpoint is a URL (mirror first; sha256 checked)."""
    conda:
        "../../envs/ems.yaml"
    output:
        checkpoint=ems_paths.official_download_dir(config) / "{file}",
    params:
        ems=EMS,
        url=lambda w: config["evaluation"]["official_ems"]["checkpoint"],
        sha256=lambda w: config["evaluation"]["official_ems"]["sha256"] or "",
        mirror=config["mirror"] or "",
    resources:
        mem_mb=500,
        runtime=120,
    log:
        LOGS / "fetch" / "official-ems" / "{file}.log",
    shell:
        "{params.ems} fetch-file --url {params.url:q} --out {output.checkpoint:q} --sha256={params.sha256:q}"
        " --mirror={params.mirror:q} > {log:q} 2>&1"


rule import_official:
    """The authors' checkpoint as a model folder (peer official-ems): strict key mapping, official tokenizer."""
    conda:
        "../../envs/ems.yaml"
    input:
        source=SOURCE_MARKER["ems_official"] if "ems_official" in SOURCE_MARKER else [],
        checkpoint=lambda w: ems_paths.official_checkpoint(config),
    output:
        model=directory(ems_paths.model_file(ems_paths.official_peer_dir(RESULTS), "model")),
        heads=ems_paths.model_file(ems_paths.official_peer_dir(RESULTS), "heads"),
    params:
        ems=EMS,
        source=lambda w: source_dir("ems_official"),
        sha256=lambda w: config["evaluation"]["official_ems"]["sha256"] or "",
        heads=lambda w: config["evaluation"]["official_ems"]["heads"],
        activation=lambda w: config["evaluation"]["official_ems"]["activation"],
    resources:
        mem_mb=12000,  # the checkpoint holds the optimizer state too (~2.5 GB for EMS)
        runtime=30,
    log:
        LOGS / "import_official.log",
    benchmark:
        BENCH / "import_official.tsv"
    shell:
        "{params.ems} import-official --checkpoint {input.checkpoint:q} --official-source {params.source:q}"
        " --out {output.model:q} --heads-out {output.heads:q} --sha256={params.sha256:q}"
        " --heads {params.heads:q} --activation {params.activation:q} > {log:q} 2>&1"


rule tracking_peer:
    """The one MLflow run of a peer encoder (every task of the peer logs to it, as a model's to its training run)."""
    conda:
        "../../envs/ems.yaml"
    input:
        parent=ems_paths.parent_json(RESULTS),
    output:
        run=ems_paths.peer_run_json(RESULTS, "{model_id}"),
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
        csv=ems_paths.eval_csv(RESULTS, "{model_id}", "{task}"),
        json=ems_paths.eval_json(RESULTS, "{model_id}", "{task}"),
    params:
        ems=EMS,
        settings=lambda w: eval_rules.settings_json(config, w.task),
        # already shell-quoted (shlex.quote in ems.evaluation.rules.args)
        args=lambda w, input: eval_rules.args(config, RESULTS, w.model_id, w.task, list(input.keys())),
        cache=lambda w: ems_paths.eval_cache_dir(RESULTS, w.model_id),
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
    """A trained model's release folder (ems.paths.release_dir): the model's files hard-linked, the card with
    its evaluation results and model-index, LICENSE.md, its own checksums. model/ (the train rule's output,
    card without results) is read, never changed."""
    conda:
        "../../envs/ems.yaml"
    input:
        model=ems_paths.model_file(MODEL_DIR, "model"),
        run=ems_paths.model_file(MODEL_DIR, "run"),
        evals=lambda w: [
            ems_paths.eval_json(RESULTS, ems_paths.model_id(w.variant, w.seed), t) for t in eval_rules.tasks(config)
        ],
    output:
        release=directory(ems_paths.release_dir(RESULTS, ems_paths.model_id("{variant}", "{seed}"))),
    params:
        ems=EMS,
        settings=lambda w: eval_rules.card_settings(config),
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
        " --settings {params.settings:q} --out {output.release:q} > {log:q} 2>&1"


TARGETS.extend(eval_rules.targets(config, RESULTS, ems_model_ids()))
TARGETS.extend(str(ems_paths.release_dir(RESULTS, m)) for m in ems_model_ids())
