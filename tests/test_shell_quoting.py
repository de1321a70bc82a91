"""Every config-derived value in a rule's shell command is quoted (issue 14 item 1).

A ``results_dir`` holding spaces, quotes and ``$(touch ...)`` must neither break a job nor
run anything: the real ``tracking_setup`` rule runs on such a folder, the evaluate rule's
arguments survive a shell round trip, and every ``{...}`` of every shell command in the
rule files is ``:q``-quoted or on a short list of values quoted where they are built.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from test_rerun_triggers import _workdir

from ems.evaluation import rules as eval_rules

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "r e's \"q\" $(touch INJECTED) `touch INJECTED2`"
#: Placeholders built with shlex (ems EMS prefix, evaluate args, train overrides, tune tracking) or not config-derived.
PRE_QUOTED = {"params.ems", "params.args", "params.overrides", "params.tracking", "threads"}
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))


def _shell_commands(text: str) -> list[str]:
    """The shell strings of a rule file (the adjacent string literals of the lines indented deeper than
    ``shell:``, at any indentation: rules inside an ``if`` too)."""
    out = []
    for match in re.finditer(r"^(?P<indent>[ \t]+)shell:[ \t]*\n(?P<body>(?:(?P=indent)[ \t]+\S.*\n)+)", text,
                             re.MULTILINE):
        out.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match["body"])))
    return out


def test_every_shell_placeholder_is_quoted() -> None:
    seen, files = 0, 0
    for path in RULE_FILES:
        text = path.read_text()
        commands = _shell_commands(text)
        # every shell: of the file was parsed (none skipped by an indentation the pattern did not expect)
        assert len(commands) == len(re.findall(r"^[ \t]+shell:", text, re.MULTILINE)), path.name
        assert all(commands), f"{path.name}: a shell: block without a string"
        files += bool(commands)
        for cmd in commands:
            for field in re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", cmd):
                seen += 1
                key, _, fmt = field.partition(":")
                assert fmt == "q" or key in PRE_QUOTED, f"{path.name}: {{{field}}} is not quoted in: {cmd}"
    assert files >= 5 and seen > 60  # data, train, evaluate, report and tune commands were all read


def test_evaluate_args_survive_the_shell(tmp_path: Path) -> None:
    results = tmp_path / HOSTILE / "smoke"
    cfg = {"results_dir": str(tmp_path / HOSTILE),
           "sources": {"laser": {"repo": "facebookresearch/LASER", "commit": "a" * 40}}}
    text = eval_rules.args(cfg, results, "objective~both/seed1", "tatoeba", ["run"])
    proc = subprocess.run(["bash", "-c", f"printf '%s\\n' {text}"], cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines() == shlex.split(text)
    assert f"--source=laser={tmp_path / HOSTILE}/sources/facebookresearch+LASER@{'a' * 40}" in proc.stdout
    assert str(results / "models" / "objective~both" / "seed1" / "run.json") in proc.stdout.splitlines()
    assert not list(tmp_path.rglob("INJECTED*"))


def test_tracking_setup_rule_runs_on_a_hostile_results_dir(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    work = _workdir(tmp_path / "work")
    results_dir = tmp_path / HOSTILE
    extra = {"name": "q", "results_dir": str(results_dir),
             "tracking": {"uri": f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"}}
    (work / "hostile.yaml").write_text(yaml.safe_dump(extra))
    (tmp_path / "store").mkdir()
    target = results_dir / "q" / "tracking" / "parent.json"
    proc = subprocess.run([sys.executable, "-m", "snakemake", str(target), "--cores", "1", "--configfile",
                           "hostile.yaml"], cwd=work, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert target.exists() and yaml.safe_load(target.read_text())["run_id"]
    assert (work / "logs" / "q" / "tracking_setup.log").exists()
    assert not list(tmp_path.rglob("INJECTED*")), "a command substitution ran"
