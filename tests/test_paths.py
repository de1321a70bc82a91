"""ems.paths against what depends on it: ids that parse back, distinct paths inside the results folder,
the layout documented in docs/interfaces.md, and the outputs the workflow's jobs declare.

Nothing here restates a formula of ems/paths.py: each test compares its paths with another
source (the id parsers, the documentation, Snakemake's dry run), so a changed layout fails
until the others agree.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from workflow_helpers import ROOT, run_snakemake, workflow_copy

from ems import paths

VARIANTS = ["objective~both_langemb~True_temp~0.1_frac~1.0", "objective~xtr_langemb~False_temp~0.05_frac~0.25"]
SEEDS = [1, 2, 10]
PEERS = ["tfidf", "fast-use", "official-ems"]
TASKS = ["tatoeba", "flores", "mining"]
LANGS = ["deu", "cmn_Hans"]
SOURCES = {"laser": ("facebookresearch/LASER", "74bc6ae7"), "sib200": ("dadelani/sib-200", "e7a17215")}
URL = "https://example.org/files/EMS_model.pt"


def _cfg(results_dir: str = "results", name: str = "n") -> dict:
    return {"results_dir": results_dir, "name": name,
            "sources": {role: {"repo": repo, "commit": commit} for role, (repo, commit) in SOURCES.items()},
            "evaluation": {"official_ems": {"checkpoint": URL}}}


def _ems_ids() -> list[str]:
    return [paths.model_id(v, s) for v in VARIANTS for s in SEEDS]


def _all_ids() -> list[str]:
    return [*_ems_ids(), *(paths.peer_id(p) for p in PEERS)]


def test_model_ids_parse_back_and_match_the_wildcard() -> None:
    from ems import grid

    for v, s in itertools.product(VARIANTS, SEEDS):
        mid = paths.model_id(v, str(s))  # the seed wildcard is text
        assert paths.split_model_id(mid) == (v, s)
        assert re.fullmatch(paths.MODEL_ID_REGEX, mid) and not paths.is_peer(mid)
        parsed = grid.parse_model_id(mid)
        assert parsed is not None and (parsed["variant"], parsed["seed"]) == (v, s)
    for p in PEERS:
        mid = paths.peer_id(p)
        assert paths.is_peer(mid) and paths.peer_name(mid) == p and paths.split_model_id(mid) is None
        assert re.fullmatch(paths.MODEL_ID_REGEX, mid) and re.fullmatch(paths.PEER_ID_REGEX, mid)
        assert grid.parse_model_id(mid) is None
    for bad in ("a/b/seed1", "v/seedx", "v/seed", "peer-UPPER", "v/seed1/"):
        assert not re.fullmatch(paths.MODEL_ID_REGEX, bad), bad


def test_a_model_folder_names_its_id() -> None:
    """Readers (aggregation, the model card) recover the id from the folder: the part below models/, eval/,
    checkpoints/ is the id itself."""
    r = paths.results_root(_cfg())
    for mid in _all_ids():
        for folder, base in ((paths.model_dir(r, mid), "models"), (paths.checkpoint_dir(r, mid), "checkpoints"),
                             (paths.eval_dir(r, mid), "eval")):
            assert folder.relative_to(r / base).as_posix() == mid
        assert paths.eval_json(r, mid, "tatoeba").parent == paths.eval_dir(r, mid)
        assert paths.eval_json(r, mid, "tatoeba").stem == "tatoeba"


def _per_model(r: Path, mid: str) -> dict[str, Path]:
    out = {"model": paths.model_dir(r, mid), "release": paths.release_dir(r, mid),
           "checkpoints": paths.checkpoint_dir(r, mid), "run.json": paths.run_json(r, mid)}
    out.update({f"eval {t}": paths.eval_json(r, mid, t) for t in TASKS})
    return out


def test_distinct_inputs_give_distinct_paths_inside_the_results_folder() -> None:
    cfg = _cfg()
    r = paths.results_root(cfg)
    built: dict[Path, str] = {}

    def add(path: Path, what: str) -> None:
        assert path not in built, f"{what} and {built.get(path)} share {path}"
        built[path] = what

    for mid in _all_ids():
        for what, p in _per_model(r, mid).items():
            add(p, f"{what} of {mid}")
    for lang in LANGS:
        add(paths.language_dir(r, lang), f"language {lang}")
        add(paths.split_dir(r, lang), f"split {lang}")
        for split in ("train", "valid"):
            add(paths.shard_part_dir(r, split, lang), f"part {split} {lang}")
    for split in ("train", "valid"):
        add(paths.shards_dir(r, split), f"shards {split}")
    add(paths.parent_json(r), "parent run")
    add(paths.official_peer_dir(r), "official peer")
    for p, what in built.items():
        assert p.is_relative_to(r) and ".." not in p.parts, f"{what}: {p} is outside {r}"
    # a trained model's folder holds no other model's files, and training never writes into a model folder
    model_dirs = [paths.model_dir(r, m) for m in _all_ids()]
    for a, b in itertools.permutations(model_dirs, 2):
        assert not b.is_relative_to(a), f"{b} lies inside {a}"
    for mid in _all_ids():
        assert not paths.checkpoint_dir(r, mid).is_relative_to(paths.model_dir(r, mid))
    # two configurations never share a file; sources are shared by both
    other = paths.results_root(_cfg(name="other"))
    assert not other.is_relative_to(r) and not r.is_relative_to(other)
    for role in SOURCES:
        src = paths.source_dir(cfg, role)
        assert src == paths.source_dir(_cfg(name="other"), role) and not src.is_relative_to(r)
    assert len({paths.source_dir(cfg, role) for role in SOURCES}) == len(SOURCES)


# --- docs/interfaces.md ------------------------------------------------------------------------------------

def _expand_braces(text: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", text)  # innermost first
    if not m:
        return [text]
    return [s for alt in m[1].split(",") for s in _expand_braces(text[:m.start()] + alt + text[m.end():])]


def _documented_paths(samples: dict[str, str]) -> set[str]:
    """Every path of the "## Paths" table of docs/interfaces.md, braces expanded, placeholders replaced by
    ``samples`` (rows with other placeholders left out), without a trailing ``/``."""
    text = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")
    section = text.split("\n## Paths\n", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert len(cells) > 10, "the Paths table of docs/interfaces.md was not found"
    out = set()
    for cell in cells:
        for path in _expand_braces(cell):
            path = re.sub(r"<([a-z_ ]+)>", lambda m: samples.get(m[1], m[0]), path)
            if "<" not in path:
                out.add(path.rstrip("/"))
    return out


def test_ems_paths_produce_the_documented_layout() -> None:
    cfg = _cfg(name="smoke")
    r = paths.results_root(cfg)
    repo, commit = SOURCES["laser"]
    owner, name = repo.split("/")
    for mid, task, lang, split in itertools.product(_all_ids()[::3], TASKS[:2], LANGS, ("train", "valid")):
        documented = _documented_paths({"name": "smoke", "model_id": mid, "task": task, "lang": lang, "split": split,
                                        "owner": owner, "repo": name, "commit": commit, "file": "EMS_model.pt"})
        built = {
            "source_dir": paths.source_dir(cfg, "laser"),
            "model_dir": paths.model_dir(r, mid),
            "release_dir": paths.release_dir(r, mid),
            "checkpoint_dir": paths.checkpoint_dir(r, mid),
            "eval_json": paths.eval_json(r, mid, task),
            "parent_json": paths.parent_json(r),
            "shards_dir": paths.shards_dir(r, split),
            "language_dir": paths.language_dir(r, lang),
            "split_dir": paths.split_dir(r, lang),
            "shard_part_dir": paths.shard_part_dir(r, split, lang),
            "official_peer_dir": paths.official_peer_dir(r),
            "official_checkpoint (URL)": paths.official_checkpoint(cfg),
        }
        for fn, path in built.items():
            assert path.as_posix() in documented, f"ems.paths.{fn} gives {path}, not a path of docs/interfaces.md"
    # run.json is one of the files the saved-model section lists for models/<model_id>/
    text = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")
    saved = text.split("## Saved model (`models/<model_id>/`)", 1)[1].split("\n## ", 1)[0]
    mid = _ems_ids()[0]
    assert paths.run_json(r, mid).parent == paths.model_dir(r, mid)
    assert f"- `{paths.run_json(r, mid).name}`:" in saved


def test_a_configured_checkpoint_file_is_used_where_it_is() -> None:
    cfg = _cfg()
    cfg["evaluation"]["official_ems"]["checkpoint"] = "/data/EMS_model.pt"
    assert paths.official_checkpoint(cfg) == Path("/data/EMS_model.pt")
    cfg["evaluation"]["official_ems"]["checkpoint"] = URL
    assert paths.official_checkpoint(cfg).is_relative_to(paths.sources_root(cfg))
    assert paths.official_checkpoint(cfg).name == "EMS_model.pt"


# --- the workflow's jobs -----------------------------------------------------------------------------------

def _dry_run_jobs(tmp: Path) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job of a dry run of the smoke config (~10 s on 2 cores)."""
    work = workflow_copy(tmp / "wf")
    proc = run_snakemake(["-n", "--configfile", "config/smoke.yaml", "--cores", "1"], work, tmp / "no-mirror",
                         timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    jobs: list[tuple[str, list[str]]] = []
    for line in proc.stdout.splitlines():
        if m := re.match(r"(?:local)?(?:rule|checkpoint) (\w+):$", line):
            jobs.append((m[1], []))
        elif (m := re.match(r"\s+output: (.+)$", line)) and jobs:
            jobs[-1][1].extend(s.strip() for s in m[1].split(", "))
    assert jobs, proc.stdout[-2000:]
    return jobs


@pytest.mark.timeout(300)
def test_the_workflow_jobs_write_the_paths_ems_paths_builds(tmp_path: Path) -> None:
    """Snakemake's own dry run of the smoke config: every job's output is where ems.paths puts it for the
    config's models, peers, tasks and languages, and nothing lies outside results/<name>/ and results/sources/."""
    from ems import config as ems_config
    from ems import grid
    from ems.data import corpora
    from ems.evaluation import rules as eval_rules

    cfg = ems_config.load_config(ROOT / "config.yaml", ems_config.read_yaml(ROOT / "config" / "smoke.yaml"))
    r = paths.results_root(cfg)
    by_rule: dict[str, list[list[str]]] = {}
    for rule, outputs in _dry_run_jobs(tmp_path):
        by_rule.setdefault(rule, []).append(outputs)
    every = [o for jobs in by_rule.values() for outputs in jobs for o in outputs]
    assert len(every) == len(set(every)), "two jobs declare the same output"
    for o in every:
        assert Path(o).is_relative_to(r) or Path(o).is_relative_to(paths.sources_root(cfg)), o

    def firsts(rule: str, keep=lambda o: True) -> set[Path]:
        return {Path(o) for outputs in by_rule[rule] for o in outputs if keep(o)}

    models = grid.model_ids(cfg)
    peers = eval_rules.peer_ids(cfg)
    langs = corpora.corpus_languages(cfg)
    assert models and peers and langs
    assert {p.parent for p in firsts("train", lambda o: o.endswith("heads.pt"))} == {paths.model_dir(r, m) for m in models}
    assert firsts("model_card") == {paths.release_dir(r, m) for m in models}
    assert firsts("evaluate", lambda o: o.endswith(".json")) == {
        paths.eval_json(r, m, t) for m in [*models, *peers] for t in eval_rules.tasks(cfg)}
    assert firsts("tracking_setup") == {paths.parent_json(r)}
    assert firsts("prepare") == {paths.language_dir(r, lang) for lang in langs}
    assert firsts("sample") == {paths.split_dir(r, lang) for lang in langs}
    assert firsts("binarise") == {paths.shard_part_dir(r, s, lang) for s in ("train", "valid") for lang in langs}
    assert firsts("merge_shards") == {paths.shards_dir(r, s) for s in ("train", "valid")}
    fetched = {p.parent for p in firsts("fetch")}
    assert {paths.source_dir(cfg, role) for role in ("laser", "opus_mt_testsets")} <= fetched

