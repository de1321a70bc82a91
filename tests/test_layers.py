"""The import graph of ``ems/`` runs one way (docs/interfaces.md, "Layers"): every import of an ``ems`` module,
at the top of a file or inside a function, goes to the same layer or a lower one. Command-line modules
(``*/cli.py``) and the Snakemake helpers (``*/rules.py``) are entry points: they may import anything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ems"
#: Lowest first; a top-level module is its own unit, a subpackage one unit.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"__init__", "errors", "io", "languages", "redact", "paths", "config", "names", "figstyle", "grid",
                    "run_names"}),
    ("datasets", {"datasets"}),
    ("data", {"data"}),
    ("model", {"model", "losses"}),
    ("encoders", {"encoders"}),
    ("tracking", {"tracking"}),
    ("stages", {"train", "evaluation"}),
    ("studies", {"tune", "ablation"}),
    ("entry points", {"cli", "recover", "launch", "tracking_server"}),
]
LEVEL = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``ems.train.entry`` -> ``train``; ``ems.paths`` -> ``paths``; ``ems`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, ems module) of every import in ``path``, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ems":
                out += [(node.lineno, f"ems.{a.name}") for a in node.names]
            elif node.module.startswith("ems."):
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("ems.")]
    return out


def upward_imports(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        module = ".".join(rel.with_suffix("").parts)
        if path.name in ("cli.py", "rules.py"):
            continue  # entry points
        here = unit_of(module)
        for line, target in imports(path):
            there = unit_of(target)
            if LEVEL[there] > LEVEL[here]:
                found.append(f"{rel}:{line}: {module} ({LAYERS[LEVEL[here]][0]}) imports {target} "
                             f"({LAYERS[LEVEL[there]][0]})")
    return found


def test_every_unit_of_the_package_has_a_layer() -> None:
    units = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert units - set(LEVEL) == set(), "add the new module or package to LAYERS (and docs/interfaces.md)"


def test_no_import_runs_up_the_layers() -> None:
    assert upward_imports() == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "ems"
    (pkg / "tracking").mkdir(parents=True)
    (pkg / "tracking" / "x.py").write_text("def f():\n    from ems.ablation import grid\n")
    (pkg / "train").mkdir()
    (pkg / "train" / "y.py").write_text("from ems.tracking.base import Tracker\n")
    assert upward_imports(pkg) == ["ems/tracking/x.py:2: ems.tracking.x (tracking) imports ems.ablation (studies)"]


@pytest.mark.parametrize("doc", ["docs/interfaces.md"])
def test_the_documented_layers_are_these(doc: str) -> None:
    text = (ROOT.parent / doc).read_text()
    for name, units in LAYERS:
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| {name} |")), None)
        assert line is not None, f"{doc}: no row for layer {name!r}"
        documented = {u.strip(" `") for u in line.split("|")[2].split(",")}
        assert documented == units - {"__init__"}, name
