"""Changing one evaluation option reruns evaluation and aggregation, never training (dry run).

Snakemake reruns a job when its ``params`` differ from the recorded ones
(``--rerun-triggers params``). The train rule's params hold only the model, objective,
train and tracking sections of its grid cell (``train_common.smk``),
so an evaluation option must not reach it; the evaluate rule's params hold only what its
task reads (``ems.evaluation.registry.task_settings``), so a Tatoeba option must not rerun
the other tasks either. The test fakes a finished run of the smoke configuration (every
output present, provenance recorded with ``--touch``), changes ``evaluation.tatoeba.k``
and lists the jobs a dry run would execute.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
MIRROR = Path(os.environ.get("EMS_DATA_MIRROR", ROOT.parent / "shared" / "data"))
# model_card: the card shows the model's evaluation results, so it follows them
ALLOWED = re.compile(r"^(evaluate.*|model_card|ablation_(aggregate|figures|tables|mteb_export|mlflow_summary)|all)$")



#: Rules the test is about: a rename must fail the test, not let it pass by missing the rule.
EXPECTED_RULES = {"train", "evaluate", "ablation_aggregate"}


def _workdir(tmp: Path) -> Path:
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    for name in ("config", "workflow", "envs"):
        shutil.copytree(ROOT / name, tmp / name)
    return tmp


def _smk(work: Path, *args: str, check: bool = True) -> str:
    env = dict(os.environ, EMS_DATA_MIRROR=str(MIRROR), MLFLOW_DISABLE_TELEMETRY="true")
    proc = subprocess.run(SNAKEMAKE + ["--cores", "1", "--rerun-triggers", "params", *args], cwd=work, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    elif proc.returncode != 0 and "Missing output files" not in proc.stdout + proc.stderr:
        pytest.fail(proc.stdout[-4000:] + proc.stderr[-4000:])
    return proc.stdout + proc.stderr


def _planned(output: str) -> dict[str, list[str]]:
    """rule -> reasons of each job in a dry run's listing."""
    jobs: dict[str, list[str]] = {}
    rule = None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            jobs.setdefault(rule, [])
        elif rule and line.strip().startswith("reason:"):
            jobs[rule].append(line.strip())
    return jobs


def _evaluate_tasks(output: str) -> list[str]:
    """The ``task`` wildcard of every evaluate job in a dry run's listing."""
    tasks: list[str] = []
    rule = None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
        elif rule and rule.startswith("evaluate") and line.strip().startswith("wildcards:"):
            found = re.search(r"task=([\w-]+)", line)
            tasks.append(found.group(1) if found else "?")
    return tasks


def _missing(output: str) -> list[str]:
    files: list[str] = []
    for m in re.finditer(r"Missing output files: ([^;\n]+)", output):
        files += [f.strip() for f in m.group(1).split(",") if f.strip()]
    return files


def _fake_outputs(work: Path, args: list[str]) -> None:
    """Create every output of the DAG (suffix-less paths as folders) and record provenance."""
    for _ in range(4):  # later jobs appear once their inputs exist
        missing = _missing(_smk(work, "-n", *args))
        if not missing:
            break
        for f in missing:
            p = work / f
            if p.suffix:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
            else:
                p.mkdir(parents=True, exist_ok=True)
    _smk(work, "--touch", "--forceall", *args)  # every job "runs" (touch) and records its params


def test_evaluation_option_reruns_only_evaluation_and_aggregation(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    smoke = yaml.safe_load((work / "config" / "smoke.yaml").read_text())
    base = {**smoke, "tune": {**smoke.get("tune", {}), "enabled": False, "use_best": False}}
    (work / "a.yaml").write_text(yaml.safe_dump(base))
    changed = yaml.safe_load(yaml.safe_dump(base))
    tatoeba = changed.setdefault("evaluation", {}).setdefault("tatoeba", {})
    tatoeba["k"] = int(tatoeba.get("k", 4)) + 4
    (work / "b.yaml").write_text(yaml.safe_dump(changed))

    everything = _planned(_smk(work, "-n", "--forceall", "--configfile", "a.yaml"))
    assert EXPECTED_RULES <= set(everything), f"rules missing from the DAG (renamed?): {sorted(EXPECTED_RULES - set(everything))}"
    _fake_outputs(work, ["--configfile", "a.yaml"])
    unchanged = _planned(_smk(work, "-n", "--configfile", "a.yaml"))
    assert set(unchanged) <= {"all"}, f"a finished run should be complete, but plans {sorted(unchanged)}"

    listing = _smk(work, "-n", "--configfile", "b.yaml")
    planned = _planned(listing)
    assert "train" not in planned, f"training reruns after an evaluation change: {planned.get('train')}"
    assert any(r.startswith("evaluate") for r in planned), f"no evaluation job reruns: {sorted(planned)}"
    assert "ablation_aggregate" in planned
    unexpected = sorted(r for r in planned if not ALLOWED.match(r))
    assert not unexpected, f"jobs outside evaluation/aggregation rerun: {unexpected}"
    tasks = _evaluate_tasks(listing)
    assert tasks and set(tasks) == {"tatoeba"}, f"a Tatoeba option reruns evaluations of other tasks: {sorted(tasks)}"
