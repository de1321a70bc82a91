# report stage: data-fraction subsets of the ablation grid, aggregation over seeds, paper
# figures and tables, their MLflow summary, and the `snakemake --report` entries.
# Grid: ems.grid (Paramspace over ablation.factors); docs/ablations.md.
from ems import grid as ablation_grid
from ems.ablation import rules as ablation_rules
from ems.evaluation import rules as eval_rules

ABLATION = ems_paths.ablation_dir(RESULTS)
FIGURES = ems_paths.figures_dir(RESULTS)
TABLES = ems_paths.tables_dir(RESULTS)
#: Training histories and run.json of every grid model.
GRID_HISTORIES = [ems_paths.model_file(ems_paths.model_dir(RESULTS, m), "history") for m in ablation_grid.model_ids(config)]
GRID_RUNS = [ems_paths.run_json(RESULTS, m) for m in ablation_grid.model_ids(config)]


report: "../report/workflow.rst"


# Small jobs (tables, figures, a summary sent to the tracking server): on the machine Snakemake
# runs on, not as cluster jobs.
localrules:
    ablation_aggregate,
    ablation_figures,
    ablation_tables,
    ablation_mlflow_summary,


# Evaluation summaries of every grid model and peer.
ABLATION_EVALS = eval_rules.targets(config, RESULTS, ablation_grid.model_ids(config))


rule ablation_subset_shards:
    """A fixed, per-language stratified fraction of the training shards (data_fraction factor)."""
    conda:
        "../../envs/ems.yaml"
    input:
        shards=ems_paths.shards_dir(RESULTS, "train"),
    output:
        shards=directory(ems_paths.subset_shards_dir(RESULTS, "{fraction}")),
    params:
        ems=EMS,
        seed=config["corpus"]["seed"],
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        LOGS / "ablation" / "subset_frac{fraction}.log",
    wildcard_constraints:
        fraction=r"0\.[0-9]+",
    shell:
        "{params.ems} subset-shards --src {input.shards:q} --dst {output.shards:q}"
        " --fraction {wildcards.fraction:q} --seed {params.seed:q} > {log:q} 2>&1"


rule ablation_aggregate:
    """Long table of every evaluation metric; mean, std, 95% CI over seeds; differences to the reference cell."""
    conda:
        "../../envs/ems.yaml"
    input:
        evals=ABLATION_EVALS,
    output:
        long=ems_paths.ablation_file(RESULTS, "long"),
        summary=ems_paths.ablation_file(RESULTS, "summary"),  # rendered in the report by ablation_tables (summary_html)
        differences=ems_paths.ablation_file(RESULTS, "differences"),
        per_language=ems_paths.ablation_file(RESULTS, "per_language"),
        per_language_long=ems_paths.ablation_file(RESULTS, "per_language_long"),
    params:
        ems=EMS,
        settings=lambda w: ablation_rules.ablation_settings(config),
        eval_root=ems_paths.eval_root(RESULTS),
        out=ABLATION,
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        LOGS / "ablation" / "aggregate.log",
    shell:
        "{params.ems} aggregate --eval-root {params.eval_root:q} --evals {input.evals:q} --out {params.out:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule ablation_figures:
    """Ablation bars, per-language heatmap, learning, scaling and cost figures (PDF + PNG)."""
    conda:
        "../../envs/ems.yaml"
    input:
        summary=rules.ablation_aggregate.output.summary,
        differences=rules.ablation_aggregate.output.differences,
        per_language=rules.ablation_aggregate.output.per_language,
        histories=GRID_HISTORIES,
        shards=ems_paths.shards_dir(RESULTS, "train"),
    output:
        **ablation_rules.figure_outputs(config, FIGURES, report),
    params:
        ems=EMS,
        settings=lambda w: ablation_rules.ablation_settings(config),
        aggregate=ABLATION,
        models=ems_paths.models_root(RESULTS),
        bench=BENCH,
        bench_patterns=lambda w: ablation_rules.benchmark_patterns(workflow),
        out=FIGURES,
        grid=lambda w: ablation_rules.grid_caption(config),  # the grid in words, for the report captions
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        LOGS / "ablation" / "figures.log",
    shell:
        "{params.ems} figures --aggregate {params.aggregate:q} --models {params.models:q} --shards {input.shards:q}"
        " --benchmarks {params.bench:q} --bench-patterns {params.bench_patterns:q} --out {params.out:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule ablation_tables:
    """CSV + LaTeX (booktabs, mean ± 95% CI, best bold) of each figure's numbers."""
    conda:
        "../../envs/ems.yaml"
    input:
        summary=rules.ablation_aggregate.output.summary,
        differences=rules.ablation_aggregate.output.differences,
        per_language=rules.ablation_aggregate.output.per_language,
        histories=GRID_HISTORIES,
        shards=ems_paths.shards_dir(RESULTS, "train"),
    output:
        **ablation_rules.table_outputs(config, TABLES, report),
    params:
        ems=EMS,
        settings=lambda w: ablation_rules.ablation_settings(config),
        aggregate=ABLATION,
        models=ems_paths.models_root(RESULTS),
        bench=BENCH,
        bench_patterns=lambda w: ablation_rules.benchmark_patterns(workflow),
        out=TABLES,
        grid=lambda w: ablation_rules.grid_caption(config),  # the grid in words, for the report captions
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        LOGS / "ablation" / "tables.log",
    shell:
        "{params.ems} tables --aggregate {params.aggregate:q} --models {params.models:q} --shards {input.shards:q}"
        " --benchmarks {params.bench:q} --bench-patterns {params.bench_patterns:q} --out {params.out:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule ablation_mteb_export:
    """Each model's results as MTEB's result cache: results/<model>/no_revision_available/<Task>.json + model_meta.json."""
    conda:
        "../../envs/ems.yaml"
    input:
        evals=ABLATION_EVALS,
    output:
        ablation_rules.mteb_outputs(ABLATION_EVALS, RESULTS),
    params:
        ems=EMS,
        settings=lambda w: ablation_rules.mteb_settings(config),
        out=ems_paths.mteb_dir(RESULTS),
    log:
        LOGS / "ablation" / "mteb_export.log",
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{params.ems} mteb-export --evals {input.evals:q} --out {params.out:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule ablation_mlflow_summary:
    """Figures and tables as artifacts of the parent run; fails if a table differs from MLflow; else the parent
    gets the resolved config, the headline table as metrics and a description, and is ended (FINISHED)."""
    conda:
        "../../envs/ems.yaml"
    input:
        parent=ems_paths.parent_json(RESULTS),
        long=rules.ablation_aggregate.output.long,
        summary=rules.ablation_aggregate.output.summary,
        runs=GRID_RUNS,
        table=rules.ablation_tables.output.ablation,
        figures=rules.ablation_figures.output,
        tables=rules.ablation_tables.output,
    output:
        receipt=ems_paths.ablation_summary_json(RESULTS),
    params:
        ems=EMS,
        settings=lambda w: ablation_rules.ablation_settings(config),
        aggregate=ABLATION,
        models=ems_paths.models_root(RESULTS),
        # the parent run's params and config/resolved.yaml; the tracking URI stays in the environment
        config=lambda w: settings_json({**config, "tracking": public_tracking(config["tracking"])}),
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        LOGS / "ablation" / "mlflow_summary.log",
    shell:
        "{params.ems} mlflow-summary --parent {input.parent:q} --aggregate {params.aggregate:q} --models {params.models:q}"
        " --table {input.table:q} --files {input.figures:q} {input.tables:q} {input.summary:q}"
        " --out {output.receipt:q} --settings {params.settings:q} --config {params.config:q} > {log:q} 2>&1"


TARGETS.extend(rules.ablation_figures.output)
TARGETS.extend(rules.ablation_tables.output)
TARGETS.extend(rules.ablation_mteb_export.output)
TARGETS.append(rules.ablation_mlflow_summary.output.receipt)
