# data stage: fetch -> parse -> clean -> decontaminate -> split_sample -> tokenizer -> binarise,
# plus per-language statistics (see docs/data.md). Logic lives in ems.data; rules call `ems`.
import re

#: "<owner>+<repo>@<commit>" -> source settings, for the fetch rule's wildcard.
SOURCE_BY_NAME = {source_dir(role).name: config["sources"][role] for role in config["sources"]}
CORPUS = RESULTS / "corpus"
#: role -> the fetch rule's output marker of that source.
SOURCE_MARKER = {role: source_dir(role) / ".verified.json" for role in config["sources"]}

# Run on the machine Snakemake runs on, not as cluster jobs: fetch needs the internet (compute
# nodes often have none), data_stats is a small table and figure.
localrules:
    fetch,
    data_stats,


rule fetch:
    """Copy (mirror) or download one source archive, extract its paths, verify every file."""
    conda:
        "../../envs/ems.yaml"
    output:
        marker=SOURCES / "{source}" / ".verified.json",
    params:
        ems=EMS,
        settings=lambda w: settings_json(SOURCE_BY_NAME[w.source]),
        # Only the config key: $EMS_DATA_MIRROR is read by the job itself, so switching between
        # mirror and download (same verified files) does not rerun the whole DAG.
        mirror=config["mirror"] or "",
        out=lambda w: SOURCES / w.source,
    wildcard_constraints:
        source="|".join(re.escape(name) for name in SOURCE_BY_NAME),
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        LOGS / "fetch" / "{source}.log",
    benchmark:
        BENCH / "fetch" / "{source}.tsv"
    shell:
        "{params.ems} fetch --settings {params.settings:q} --mirror={params.mirror:q} --out {params.out:q} > {log:q} 2>&1"


rule parse:
    """All X-English pairs of OPUS-MT-testsets (FLORES excluded) with canonical codes."""
    conda:
        "../../envs/ems.yaml"
    input:
        opus=SOURCE_MARKER["opus_mt_testsets"],
    output:
        parsed=CORPUS / "parsed.tsv.gz",
    params:
        ems=EMS,
        source=source_dir("opus_mt_testsets"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        LOGS / "data" / "parse.log",
    benchmark:
        BENCH / "data" / "parse.tsv"
    shell:
        "{params.ems} parse --source {params.source:q} --out {output.parsed:q} > {log:q} 2>&1"


rule clean:
    """Normalise, filter (length, ratio, copies) and exact-deduplicate; select corpus.languages."""
    conda:
        "../../envs/ems.yaml"
    input:
        parsed=rules.parse.output.parsed,
    output:
        clean=CORPUS / "clean.tsv.gz",
        report=CORPUS / "clean.removed.csv",
    params:
        ems=EMS,
        settings=lambda w: settings("corpus"),
    resources:
        mem_mb=5000,
        runtime=60,
    log:
        LOGS / "data" / "clean.log",
    benchmark:
        BENCH / "data" / "clean.tsv"
    shell:
        "{params.ems} clean --input {input.parsed:q} --out {output.clean:q} --report {output.report:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule decontaminate:
    """Drop pairs with a side in Tatoeba, FLORES, SIB-200, UMSAB, the reserved newstest sets or an extra dataset."""
    conda:
        "../../envs/ems.yaml"
    input:
        clean=rules.clean.output.clean,
        laser=SOURCE_MARKER["laser"],
        opus=SOURCE_MARKER["opus_mt_testsets"],
        sib200=SOURCE_MARKER["sib200"],
        umsab=SOURCE_MARKER["umsab"],
    output:
        pairs=CORPUS / "decontaminated.tsv.gz",
        report=report(
            CORPUS / "decontamination.csv",
            caption="../report/decontamination.rst",
            category="Data",
            labels={"table": "Decontamination: pairs removed per evaluation set"},
        ),
    params:
        ems=EMS,
        # Only the extra datasets of the evaluation section: they are decontaminated too.
        settings=lambda w: settings_json(
            {
                "decontamination": config["decontamination"],
                "mining": config["mining"],
                "evaluation": {"extra_datasets": config["evaluation"]["extra_datasets"]},
            }
        ),
        laser=source_dir("laser"),
        opus=source_dir("opus_mt_testsets"),
        sib200=source_dir("sib200"),
        umsab=source_dir("umsab"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        LOGS / "data" / "decontaminate.log",
    benchmark:
        BENCH / "data" / "decontaminate.tsv"
    shell:
        "{params.ems} decontaminate --input {input.clean:q} --out {output.pairs:q} --report {output.report:q}"
        " --settings {params.settings:q} --laser {params.laser:q} --opus {params.opus:q}"
        " --sib200 {params.sib200:q} --umsab {params.umsab:q} > {log:q} 2>&1"


rule split_sample:
    """Per-language validation pairs, then the temperature-sampled training set."""
    conda:
        "../../envs/ems.yaml"
    input:
        pairs=rules.decontaminate.output.pairs,
    output:
        train=CORPUS / "train.tsv.gz",
        valid=CORPUS / "valid.tsv.gz",
        table=CORPUS / "sampling.csv",
    params:
        ems=EMS,
        settings=lambda w: settings("corpus"),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        LOGS / "data" / "split_sample.log",
    benchmark:
        BENCH / "data" / "split_sample.tsv"
    shell:
        "{params.ems} split-sample --input {input.pairs:q} --train {output.train:q} --valid {output.valid:q}"
        " --table {output.table:q} --settings {params.settings:q} > {log:q} 2>&1"


rule tokenizer:
    """Shared subword tokenizer trained on a language-balanced sample of the training set."""
    conda:
        "../../envs/ems.yaml"
    input:
        train=rules.split_sample.output.train,
    output:
        tokenizer=directory(RESULTS / "tokenizer"),
    params:
        ems=EMS,
        settings=lambda w: settings("tokenizer"),
        seed=config["corpus"]["seed"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        LOGS / "data" / "tokenizer.log",
    benchmark:
        BENCH / "data" / "tokenizer.tsv"
    shell:
        "RAYON_NUM_THREADS={threads} {params.ems} tokenizer --input {input.train:q} --out {output.tokenizer:q}"
        " --settings {params.settings:q} --seed {params.seed:q} > {log:q} 2>&1"


rule binarise:
    """Token-id shards (memory-mappable) of the train or valid split."""
    conda:
        "../../envs/ems.yaml"
    input:
        pairs=CORPUS / "{split}.tsv.gz",
        tokenizer=rules.tokenizer.output.tokenizer,
    output:
        shards=directory(RESULTS / "shards" / "{split}"),
    wildcard_constraints:
        split="train|valid",
    threads: 2
    params:
        ems=EMS,
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        LOGS / "data" / "binarise_{split}.log",
    benchmark:
        BENCH / "data" / "binarise_{split}.tsv"
    shell:
        "RAYON_NUM_THREADS={threads} {params.ems} binarise --input {input.pairs:q} --tokenizer {input.tokenizer:q}"
        " --out {output.shards:q} > {log:q} 2>&1"


rule data_stats:
    """Pairs per language after each step: CSV + seaborn bar figure."""
    conda:
        "../../envs/ems.yaml"
    input:
        parsed=rules.parse.output.parsed,
        clean=rules.clean.output.clean,
        decontaminated=rules.decontaminate.output.pairs,
        train=rules.split_sample.output.train,
        valid=rules.split_sample.output.valid,
    output:
        csv=report(RESULTS / "stats" / "pairs_per_language.csv", caption="../report/data_stats.rst", category="Data",
                   labels={"table": "Pairs per language"}),
        pdf=RESULTS / "stats" / "pairs_per_language.pdf",
        png=report(RESULTS / "stats" / "pairs_per_language.png", caption="../report/data_stats.rst", category="Data",
                   labels={"figure": "Pairs per language"}),
    params:
        ems=EMS,
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        LOGS / "data" / "stats.log",
    shell:
        "{params.ems} data-stats --parsed {input.parsed:q} --clean {input.clean:q}"
        " --decontaminated {input.decontaminated:q} --train {input.train:q} --valid {input.valid:q}"
        " --csv {output.csv:q} --pdf {output.pdf:q} --png {output.png:q} > {log:q} 2>&1"


TARGETS.extend(
    [
        RESULTS / "shards" / "train",
        RESULTS / "shards" / "valid",
        rules.data_stats.output.csv,
        rules.data_stats.output.png,
    ]
)
