# data stage (docs/data.md): fetch -> eval_keys -> prepare (one job per language: read every corpus,
# clean, de-duplicate, decontaminate) -> plan (validation split, temperature targets) -> sample (per
# language) -> tokenizer -> binarise (per language and split) -> merge_shards; plus statistics.
# Logic lives in ems.data; rules call `ems`.

from ems.data import corpora as ems_corpora
from ems.data import rules as data_rules

#: "<owner>+<repo>@<commit>" -> source settings, for the fetch rule's wildcard.
SOURCE_BY_NAME = {source_dir(role).name: config["sources"][role] for role in config["sources"]}
#: role -> the fetch rule's output marker of that source.
SOURCE_MARKER = {role: ems_paths.source_marker(source_dir(role)) for role in config["sources"]}
#: The training languages, known before any job runs (so every per-language job is planned).
CORPUS_LANGS = ems_corpora.corpus_languages(config)
#: tokenizer.model official: the authors' SentencePiece model (source ems_official) instead of training one.
OFFICIAL_TOKENIZER = config["tokenizer"]["model"] == "official"
#: (source id, file name) -> (source entry, the corpus file to fetch) (opus, tatoeba_challenge).
CORPUS_FILES = data_rules.corpus_files(config, CORPUS_LANGS)


wildcard_constraints:
    lang=data_rules.alternatives(CORPUS_LANGS),


# Run on the machine Snakemake runs on, not as cluster jobs: fetching needs the internet (compute
# nodes often have none), data_stats is a small table and figure.
localrules:
    fetch,
    fetch_corpus,
    data_stats,


rule fetch:
    """Copy (mirror) or download one source archive, extract its paths, verify every file."""
    conda:
        "../../envs/ems.yaml"
    output:
        marker=ems_paths.source_marker(SOURCES / "{source}"),
    params:
        ems=EMS,
        settings=lambda w: settings_json(SOURCE_BY_NAME[w.source]),
        # Only the config key: $EMS_DATA_MIRROR is read by the job itself, so switching between
        # mirror and download (same verified files) does not rerun the whole DAG.
        mirror=config["mirror"] or "",
        out=lambda w: SOURCES / w.source,
    wildcard_constraints:
        source=data_rules.alternatives(SOURCE_BY_NAME),
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        LOGS / "fetch" / "{source}.log",
    benchmark:
        BENCH / "fetch" / "{source}.tsv"
    shell:
        "{params.ems} fetch --settings {params.settings:q} --mirror={params.mirror:q} --out {params.out:q} > {log:q} 2>&1"


rule fetch_corpus:
    """One file of a training corpus (mirror first, then download), verified against its lock file."""
    conda:
        "../../envs/ems.yaml"
    output:
        file=ems_paths.corpus_source_file(config, "{corpus_source}", "{corpus_file}"),
    params:
        ems=EMS,
        url=lambda w: CORPUS_FILES[(w.corpus_source, w.corpus_file)][1].url,
        lock=lambda w: ems_corpora.lock_file(CORPUS_FILES[(w.corpus_source, w.corpus_file)][0], config),
        mirror=config["mirror"] or "",
        record="true" if config["corpus"]["record_checksums"] else "false",
    wildcard_constraints:
        corpus_source=data_rules.alternatives(s for s, _ in CORPUS_FILES),
        corpus_file=data_rules.alternatives(n for _, n in CORPUS_FILES),
    resources:
        mem_mb=500,
        runtime=240,
    log:
        LOGS / "fetch" / "{corpus_source}" / "{corpus_file}.log",
    benchmark:
        BENCH / "fetch" / "{corpus_source}" / "{corpus_file}.tsv"
    shell:
        "{params.ems} fetch-corpus --url {params.url:q} --out {output.file:q} --lock {params.lock:q}"
        " --mirror={params.mirror:q} --record={params.record:q} > {log:q} 2>&1"


rule eval_keys:
    """64-bit keys of every evaluation sentence (Tatoeba, FLORES, SIB-200, UMSAB, reserved newstest, extra datasets)."""
    conda:
        "../../envs/ems.yaml"
    input:
        laser=SOURCE_MARKER["laser"],
        opus=SOURCE_MARKER["opus_mt_testsets"],
        sib200=SOURCE_MARKER["sib200"],
        umsab=SOURCE_MARKER["umsab"],
    output:
        eval_keys=directory(ems_paths.eval_keys_dir(RESULTS)),
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
        LOGS / "data" / "eval_keys.log",
    benchmark:
        BENCH / "data" / "eval_keys.tsv"
    shell:
        "{params.ems} eval-keys --settings {params.settings:q} --laser {params.laser:q} --opus {params.opus:q}"
        " --sib200 {params.sib200:q} --umsab {params.umsab:q} --out {output.eval_keys:q} > {log:q} 2>&1"


rule prepare:
    """One language, streamed: every corpus read, normalised, filtered, exact-deduplicated, decontaminated."""
    conda:
        "../../envs/ems.yaml"
    input:
        files=lambda w: data_rules.language_inputs(config, w.lang),
        eval_keys=rules.eval_keys.output.eval_keys,
    output:
        language=directory(ems_paths.language_dir(RESULTS, "{lang}")),
    params:
        ems=EMS,
        settings=lambda w: data_rules.prepare_settings(config, w.lang),
        sources=SOURCES,
    resources:
        # ~300 MB + 8-16 bytes per pair of the language (benchmarks/data_scale.py); pairs are guessed
        # from the compressed input (>= ~40 bytes per pair), so 1 GB + 0.4 x the input's MB.
        mem_mb=lambda w, input, attempt: int((1000 + 0.4 * input.size_mb) * attempt),
        # ~80k pairs/s, >= ~40 bytes of compressed input per pair: 100 MB of input a minute is ~2x slack.
        runtime=lambda w, input, attempt: int((30 + input.size_mb / 100) * attempt),
    retries: 1
    log:
        LOGS / "data" / "prepare" / "{lang}.log",
    benchmark:
        BENCH / "data" / "prepare" / "{lang}.tsv"
    shell:
        "{params.ems} prepare --lang {wildcards.lang:q} --settings {params.settings:q} --sources-root {params.sources:q}"
        " --eval-keys {input.eval_keys:q} --out {output.language:q} > {log:q} 2>&1"


rule plan:
    """Validation split and temperature targets from the per-language counts and keys (no text read)."""
    conda:
        "../../envs/ems.yaml"
    input:
        languages=expand(ems_paths.language_dir(RESULTS, "{lang}"), lang=CORPUS_LANGS),
    output:
        plan=directory(ems_paths.plan_dir(RESULTS)),
        table=ems_paths.sampling_csv(RESULTS),
        removed=ems_paths.clean_removed_csv(RESULTS),
        report=report(
            ems_paths.decontamination_csv(RESULTS),
            caption="../report/decontamination.rst",
            category="Data",
            labels={"table": "Decontamination: pairs removed per evaluation set"},
        ),
    params:
        ems=EMS,
        root=ems_paths.languages_root(RESULTS),
        langs=CORPUS_LANGS,
        settings=data_rules.plan_settings(config),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        LOGS / "data" / "plan.log",
    benchmark:
        BENCH / "data" / "plan.tsv"
    shell:
        "{params.ems} plan --root {params.root:q} --langs {params.langs:q} --settings {params.settings:q}"
        " --out {output.plan:q} --sampling {output.table:q} --removed {output.removed:q}"
        " --decontamination {output.report:q} > {log:q} 2>&1"


rule sample:
    """One language's training sample (temperature target), validation pairs and tokenizer sample."""
    conda:
        "../../envs/ems.yaml"
    input:
        language=ems_paths.language_dir(RESULTS, "{lang}"),
        plan=rules.plan.output.plan,
    output:
        split=directory(ems_paths.split_dir(RESULTS, "{lang}")),
    params:
        ems=EMS,
        sketch=config["tokenizer"]["sample_sentences_per_language"],
    resources:
        mem_mb=lambda w, attempt: 1000 * attempt,
        runtime=lambda w, attempt: 120 * attempt,
    retries: 1
    log:
        LOGS / "data" / "sample" / "{lang}.log",
    benchmark:
        BENCH / "data" / "sample" / "{lang}.tsv"
    shell:
        "{params.ems} sample --lang {wildcards.lang:q} --language-dir {input.language:q} --plan {input.plan:q}"
        " --out {output.split:q} --sketch {params.sketch:q} > {log:q} 2>&1"


rule tokenizer:
    """Shared subword tokenizer trained on the per-language samples (English merged across languages)."""
    conda:
        "../../envs/ems.yaml"
    input:
        splits=expand(ems_paths.split_dir(RESULTS, "{lang}"), lang=CORPUS_LANGS),
        # tokenizer.model official: the authors' repository instead of training (docs/paper.md)
        official=[SOURCE_MARKER["ems_official"]] if OFFICIAL_TOKENIZER else [],
    output:
        tokenizer=directory(ems_paths.tokenizer_dir(RESULTS)),
    params:
        ems=EMS,
        root=ems_paths.splits_root(RESULTS),
        langs=CORPUS_LANGS,
        settings=lambda w: settings("tokenizer"),
        official=source_dir("ems_official") if OFFICIAL_TOKENIZER else "",
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        LOGS / "data" / "tokenizer.log",
    benchmark:
        BENCH / "data" / "tokenizer.tsv"
    shell:
        "RAYON_NUM_THREADS={threads} {params.ems} tokenizer --root {params.root:q} --langs {params.langs:q}"
        " --out {output.tokenizer:q} --settings {params.settings:q} --official-source={params.official:q} > {log:q} 2>&1"


rule binarise:
    """Token-id shards of one language's train or valid pairs (streamed in chunks)."""
    conda:
        "../../envs/ems.yaml"
    input:
        split=ems_paths.split_dir(RESULTS, "{lang}"),
        tokenizer=rules.tokenizer.output.tokenizer,
    output:
        # Removed once merged (the merged split holds the same arrays).
        shards=temp(directory(ems_paths.shard_part_dir(RESULTS, "{split}", "{lang}"))),
    wildcard_constraints:
        split="train|valid",
    params:
        ems=EMS,
        pairs=lambda w: ems_paths.split_dir(RESULTS, w.lang) / f"{w.split}.tsv.gz",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        LOGS / "data" / "binarise" / "{split}_{lang}.log",
    benchmark:
        BENCH / "data" / "binarise" / "{split}_{lang}.tsv"
    shell:
        "RAYON_NUM_THREADS={threads} {params.ems} binarise --input {params.pairs:q} --tokenizer {input.tokenizer:q}"
        " --out {output.shards:q} > {log:q} 2>&1"


rule merge_shards:
    """One memory-mappable shard folder per split: the languages' parts concatenated (streaming)."""
    conda:
        "../../envs/ems.yaml"
    input:
        parts=expand(ems_paths.shard_part_dir(RESULTS, "{{split}}", "{lang}"), lang=CORPUS_LANGS),
        tokenizer=rules.tokenizer.output.tokenizer,
    output:
        shards=directory(ems_paths.shards_dir(RESULTS, "{split}")),
    wildcard_constraints:
        split="train|valid",
    params:
        ems=EMS,
        root=lambda w: ems_paths.shard_parts_root(RESULTS, w.split),
        langs=CORPUS_LANGS,
    resources:
        mem_mb=1000,
        runtime=60,
    log:
        LOGS / "data" / "merge_shards_{split}.log",
    benchmark:
        BENCH / "data" / "merge_shards_{split}.tsv"
    shell:
        "{params.ems} merge-shards --root {params.root:q} --langs {params.langs:q} --tokenizer {input.tokenizer:q}"
        " --out {output.shards:q} > {log:q} 2>&1"


rule data_stats:
    """Pairs per language after each step: CSV + seaborn bar figure."""
    conda:
        "../../envs/ems.yaml"
    input:
        languages=expand(ems_paths.language_dir(RESULTS, "{lang}"), lang=CORPUS_LANGS),
        splits=expand(ems_paths.split_dir(RESULTS, "{lang}"), lang=CORPUS_LANGS),
        report=rules.plan.output.report,
    output:
        csv=report(ems_paths.stats_file(RESULTS, "csv"), caption="../report/data_stats.rst", category="Data",
                   labels={"table": "Pairs per language"}),
        pdf=ems_paths.stats_file(RESULTS, "pdf"),
        png=report(ems_paths.stats_file(RESULTS, "png"), caption="../report/data_stats.rst", category="Data",
                   labels={"figure": "Pairs per language"}),
    params:
        ems=EMS,
        languages=ems_paths.languages_root(RESULTS),
        splits=ems_paths.splits_root(RESULTS),
        langs=CORPUS_LANGS,
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        LOGS / "data" / "stats.log",
    shell:
        "{params.ems} data-stats --languages-root {params.languages:q} --samples-root {params.splits:q}"
        " --langs {params.langs:q} --decontamination {input.report:q}"
        " --csv {output.csv:q} --pdf {output.pdf:q} --png {output.png:q} > {log:q} 2>&1"


TARGETS.extend(
    [
        ems_paths.shards_dir(RESULTS, "train"),
        ems_paths.shards_dir(RESULTS, "valid"),
        rules.data_stats.output.csv,
        rules.data_stats.output.png,
    ]
)
