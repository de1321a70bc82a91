"""One results layout: every rule's declared outputs are what :mod:`ems.paths` says (tracker issue 27).

The workflow is loaded with Snakemake's Python API on ``config/smoke.yaml`` (in a subprocess, on a copy of the
workflow files: loading it sets environment variables and changes directory); each rule's output patterns, with
a sample of wildcards filled in, must equal the paths :mod:`ems.paths` builds from the same values. A rule
without an entry in :func:`expected` fails the test, so a new rule's paths come from ``ems.paths`` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ems import paths

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "config/smoke.yaml"
MIRROR = Path(os.environ.get("EMS_DATA_MIRROR", ROOT.parent / "shared" / "data"))

#: The sample of wildcards: a grid cell with a fraction, a seed, a peer, a task, a language, a worker.
VARIANT, SEED = "objective~both_langemb~True_temp~0.1_frac~0.25", "2"
EMS_ID = paths.model_id(VARIANT, SEED)
PEER_ID = paths.peer_id("labse")
TASK, LANG = "tatoeba", "deu"


def _load_rules(work: str, configfile: str) -> None:
    """(Run in the subprocess) print ``{"rules": {rule: [[output name, pattern], ...]}, "config": config}``."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                          config_settings=ConfigSettings(configfiles=[Path(work) / configfile]),
                          snakefile=Path(work) / "Snakefile", workdir=Path(work))
        workflow = wf._workflow  # the parsed workflow; no DAG is built
        rules = {}
        for rule in workflow.rules:
            names = {i: name for name, (start, end) in rule.output._names.items()
                     for i in range(start, start + 1 if end is None else end)}
            rules[rule.name] = [[names.get(i), str(f)] for i, f in enumerate(rule.output)]
        print("\n@@RULES@@" + json.dumps({"rules": rules, "config": workflow.config}, default=str))


@pytest.fixture(scope="module")
def workflow_rules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from workflow_helpers import workflow_copy

    work = workflow_copy(tmp_path_factory.mktemp("rule_paths"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING") and k != "MLFLOW_RUN_ID"}
    env["EMS_DATA_MIRROR"] = str(MIRROR)
    proc = subprocess.run([sys.executable, __file__, str(work), CONFIG], cwd=work, env=env, capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode == 0 and "@@RULES@@" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.split("@@RULES@@", 1)[1])


def _flat(outputs: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """``[(name, path), ...]`` of ``{name: path or list of paths}`` (the order of a rule's ``output:``)."""
    out: list[tuple[str | None, str]] = []
    for name, value in outputs.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            out.append((name, str(v)))
    return out


def _plain(path: Any, **_: Any) -> Any:
    """``report()`` as the identity: the path, without caption and labels."""
    return path


def expected(config: Mapping[str, Any]) -> dict[str, list[tuple[dict[str, str], dict[str, Any]]]]:
    """Per rule: (wildcards, {output name: what ems.paths builds}) samples. Names as in the rule's ``output:``
    (None for unnamed outputs)."""
    from ems import grid
    from ems.ablation import rules as ablation_rules
    from ems.evaluation import rules as eval_rules

    r = paths.results_root(config)
    laser = paths.source_dir(config, "laser")
    model = paths.model_dir(r, EMS_ID)
    official = paths.official_peer_dir(r)
    grid_evals = eval_rules.targets(config, r, grid.model_ids(config))
    figures = ablation_rules.figure_outputs(config, paths.figures_dir(r), _plain)
    tables = ablation_rules.table_outputs(config, paths.tables_dir(r), _plain)
    mteb = {None: ablation_rules.mteb_outputs(grid_evals, r)}
    tune_figs = {k: paths.tune_figure(r, k, "png") for k in ("history", "importances", "parallel")}
    return {
        # data stage (sources are shared by every configuration name: <results_dir>/sources)
        "fetch": [({"source": laser.name}, {"marker": paths.source_marker(laser)})],
        "fetch_corpus": [({"corpus_source": "opus", "corpus_file": "x.zip"},
                          {"file": paths.corpus_source_file(config, "opus", "x.zip")})],
        "eval_keys": [({}, {"eval_keys": paths.eval_keys_dir(r)})],
        "prepare": [({"lang": LANG}, {"language": paths.language_dir(r, LANG)})],
        "plan": [({}, {"plan": paths.plan_dir(r), "table": paths.sampling_csv(r), "removed": paths.clean_removed_csv(r),
                       "report": paths.decontamination_csv(r)})],
        "sample": [({"lang": LANG}, {"split": paths.split_dir(r, LANG)})],
        "tokenizer": [({}, {"tokenizer": paths.tokenizer_dir(r)})],
        "binarise": [({"split": s, "lang": LANG}, {"shards": paths.shard_part_dir(r, s, LANG)})
                     for s in ("train", "valid")],
        "merge_shards": [({"split": s}, {"shards": paths.shards_dir(r, s)}) for s in ("train", "valid")],
        "data_stats": [({}, {ext: paths.stats_file(r, ext) for ext in ("csv", "pdf", "png")})],
        # train stage
        "tracking_setup": [({}, {"parent": paths.parent_json(r)})],
        "tracking_names": [({}, {"names": paths.run_names_json(r)})],
        "train": [({"variant": VARIANT, "seed": SEED},
                   {key: paths.model_file(model, key) for key in paths.MODEL_FOLDER_FILES})],
        # evaluate stage
        "fetch_official_checkpoint": [({"file": "EMS_model.pt"},
                                       {"checkpoint": paths.official_download_dir(config) / "EMS_model.pt"})],
        "import_official": [({}, {"model": paths.model_file(official, "model"),
                                  "heads": paths.model_file(official, "heads")})],
        "tracking_peer": [({"model_id": PEER_ID}, {"run": paths.peer_run_json(r, PEER_ID)})],
        "evaluate": [({"model_id": m, "task": TASK}, {"csv": paths.eval_csv(r, m, TASK), "json": paths.eval_json(r, m, TASK)})
                     for m in (EMS_ID, PEER_ID)],
        "model_card": [({"variant": VARIANT, "seed": SEED}, {"release": paths.release_dir(r, EMS_ID)})],
        # tune stage
        "tune_setup": [({}, {"setup": paths.tune_setup_json(r)})],
        "tune_worker": [({"worker": "1"}, {"done": paths.tune_worker_json(r, 1)})],
        "tune_summary": [({}, {"best": paths.tune_best_params(r), "trials": paths.tune_trials_csv(r), **tune_figs,
                               "pdfs": [paths.tune_figure(r, k, "pdf") for k in tune_figs]})],
        # report stage
        "ablation_subset_shards": [({"fraction": "0.25"}, {"shards": paths.subset_shards_dir(r, 0.25)})],
        "ablation_aggregate": [({}, {k: paths.ablation_file(r, k) for k in paths.ABLATION_AGGREGATE_FILES})],
        "ablation_figures": [({}, figures)],
        "ablation_tables": [({}, tables)],
        "ablation_mteb_export": [({}, mteb)],
        "ablation_mlflow_summary": [({}, {"receipt": paths.ablation_summary_json(r)})],
    }


def test_every_rule_output_is_built_by_ems_paths(workflow_rules: dict[str, Any]) -> None:
    from snakemake.io import apply_wildcards

    rules, config = workflow_rules["rules"], workflow_rules["config"]
    table = expected(config)
    missing = sorted(set(rules) - set(table) - {"all"})
    assert not missing, f"rules without an entry in tests/test_rule_paths.py:expected (build their paths in ems.paths): {missing}"
    stale = sorted(set(table) - set(rules))
    assert not stale, f"entries for rules the workflow does not have (with {CONFIG}): {stale}"
    for name, samples in table.items():
        for wildcards, outputs in samples:
            declared = [(n, apply_wildcards(pattern, wildcards)) for n, pattern in rules[name]]
            assert declared == _flat(outputs), f"rule {name} with {wildcards}: declared outputs differ from ems.paths"


def test_every_output_lies_in_the_results_layout(workflow_rules: dict[str, Any]) -> None:
    """No rule writes outside ``<results_dir>/<name>/`` and the shared ``<results_dir>/sources/``."""
    config = workflow_rules["config"]
    roots = (str(paths.results_root(config)) + "/", str(paths.sources_root(config)) + "/")
    outside = [(rule, p) for rule, outs in workflow_rules["rules"].items() for _, p in outs if not p.startswith(roots)]
    assert not outside, outside


def test_model_folder_files_is_the_one_list() -> None:
    """The train rule's outputs (above), ems.train.outputs and the tracking plug-in use MODEL_FOLDER_FILES."""
    import inspect

    from ems.train import outputs, tracking_callback

    logged = set(tracking_callback.ARTIFACT_FILES) | set(tracking_callback.MODEL_FILES)
    assert logged <= set(paths.MODEL_FOLDER_FILES.values())
    source = inspect.getsource(outputs)
    assert not any(f'"{name}"' in source for name in paths.MODEL_FOLDER_FILES.values() if name != "model"), \
        "ems.train.outputs names a model-folder file itself; use ems.paths.model_file"


def test_paths_take_wildcard_patterns() -> None:
    r = Path("res/n")
    assert paths.model_id("{variant}", "{seed}") == "{variant}/seed{seed}"
    assert paths.model_id("{{variant}}", "{{seed}}") == "{{variant}}/seed{{seed}}"
    assert paths.model_id("v", "03") == "v/seed3"
    with pytest.raises(ValueError):
        paths.model_id("v", "seed")
    assert paths.subset_shards_dir(r, "{fraction}") == r / "shards" / "train-frac{fraction}"
    assert paths.subset_shards_dir(r, 0.5) == paths.subset_shards_dir(r, "0.5") == r / "shards" / "train-frac0.5"
    assert paths.model_file(paths.model_dir(r, "v/seed1"), "run") == paths.run_json(r, "v/seed1")


if __name__ == "__main__":  # the subprocess of the workflow_rules fixture
    _load_rules(sys.argv[1], sys.argv[2])
