# ems-workflow: from public raw data to the EMS paper's tables and ablation figures.
# Run: snakemake --cores all   (see README.md). Config keys: workflow/schemas/config.schema.yaml
from snakemake.utils import min_version

min_version("8.20")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
