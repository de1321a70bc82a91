"""Bad-input catalogue of the data and evaluation commands (issue 14): one case per bad input.

Every case runs the real CLI (``python -m ems.cli``) and expects exit status 2, ONE error line
naming the culprit (file, line or key), no traceback, and nothing left in the output folder.
The train / embed / tracking-setup cases live in tests/test_bad_input_train.py.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import socket
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_input_helpers import assert_clean_failure, run_cli, snapshot

from ems.data.fetch import manifest_path, read_manifest
from ems.redact import RedactingFilter, connectable, redact_uri

LASER = ("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821")
LASER_NAME = f"facebookresearch+LASER@{LASER[1]}.tar.gz"
LASER_TOP = f"LASER-{LASER[1]}"
FEW = ["data/tatoeba/v1/tatoeba.deu-eng.deu", "data/tatoeba/v1/tatoeba.deu-eng.eng"]


@dataclass
class Case:
    """A bad input: ``make(tmp)`` writes it and returns ``(cli args, culprit)``; outputs go to ``tmp/out``."""

    make: Callable[[Path], tuple[list[str], object]]
    env: dict[str, str] | None = None


# ---------------------------------------------------------------- a language job (ems prepare) on the user's files

TESTSETS = ("Helsinki-NLP/OPUS-MT-testsets", "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180")
SOURCES = {"laser": {"repo": LASER[0], "commit": LASER[1], "paths": ["data/"]},
           "opus_mt_testsets": {"repo": TESTSETS[0], "commit": TESTSETS[1], "paths": ["testsets/"]},
           "sib200": {"repo": "a/b", "commit": "0" * 40, "paths": ["x/"]},
           "umsab": {"repo": "a/c", "commit": "0" * 40, "paths": ["x/"]}}
GOOD_LINE = "Guten Morgen, Welt.\tGood morning, world.\n"


def _keys(tmp: Path) -> Path:
    """An empty evaluation-key folder (decontamination is tested elsewhere)."""
    import numpy as np

    keys = tmp / "in" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    np.save(keys / "keys.npy", np.zeros(0, dtype=np.uint64))
    np.save(keys / "sets.npy", np.zeros(0, dtype=np.int16))
    (keys / "sets.json").write_text('{"sets": []}')
    return keys


def _prepare(tmp: Path, corpus: dict, lang: str = "deu", sources: dict = SOURCES) -> list[str]:
    return ["prepare", "--lang", lang, "--settings", json.dumps({"corpus": corpus, "sources": sources}),
            "--sources-root", str(tmp / "in" / "sources"), "--eval-keys", str(_keys(tmp)), "--out", str(tmp / "out" / lang)]


def _user_file(tmp: Path, content: bytes | str, name: str = "de.tsv", gz: bool = False) -> Path:
    path = tmp / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _tsv_entry(path: Path, **extra) -> dict:
    pattern = str(path).replace("de.", "{lang}.", 1)
    return {"kind": "tsv", "name": "mine", "path": pattern, "languages": {"deu": "de"}, **extra}


def _tsv_case(content: bytes | str, culprit: Callable[[Path], object], gz: bool = False, name: str = "de.tsv",
              corpus: dict | None = None, **entry) -> Case:
    def make(tmp: Path):
        path = _user_file(tmp, content, name, gz)
        return _prepare(tmp, {"sources": [_tsv_entry(path, **entry)], **(corpus or {})}), culprit(path)
    return Case(make)


PREPARE_CASES = {
    "tsv_zero_bytes": _tsv_case(b"", lambda p: ["no pairs for language deu"]),
    "tsv_empty_gzip": _tsv_case("", lambda p: ["no pairs for language deu"], gz=True, name="de.tsv.gz"),
    "tsv_header_only": _tsv_case("de\ten\n", lambda p: ["no pairs for language deu"], header=True,
                                 columns={"src": "de", "tgt": "en"}),
    "tsv_header_lacks_column": _tsv_case("deu\teng\n" + GOOD_LINE, lambda p: [f"{p}, line 1", "'de'"], header=True,
                                         columns={"src": "de", "tgt": "en"}),
    "tsv_missing_field": _tsv_case(GOOD_LINE + "Hallo Welt\n", lambda p: [f"{p}, line 2", "1 field(s)"]),
    "tsv_blank_line": _tsv_case("\n" + GOOD_LINE, lambda p: [f"{p}, line 1", "1 field(s)"]),
    "tsv_bad_utf8": _tsv_case(GOOD_LINE.encode() + b"Hal\xfflo\tHello\n", lambda p: [f"{p}, line 2", "UTF-8"]),
    "tsv_truncated_gzip": _tsv_case(gzip.compress((GOOD_LINE * 5000).encode())[:300],
                                    lambda p: [str(p), "truncated or corrupt"], name="de.tsv.gz"),
    "tsv_not_gzip": _tsv_case(GOOD_LINE, lambda p: [str(p), "truncated or corrupt"], name="de.tsv.gz",
                              compression="gzip"),
    "tsv_missing_file": Case(lambda tmp: (
        _prepare(tmp, {"sources": [_tsv_entry(tmp / "in" / "de.tsv")]}), [str(tmp / "in" / "de.tsv"), "file not found"])),
    "tsv_path_is_a_directory": Case(lambda tmp: (
        (tmp / "in" / "de.tsv").mkdir(parents=True) or
        _prepare(tmp, {"sources": [_tsv_entry(tmp / "in" / "de.tsv")]}), [str(tmp / "in" / "de.tsv"), "a directory"])),
    "corpus_every_pair_removed": _tsv_case(GOOD_LINE, lambda p: ["language deu", "every one of its 1 pairs",
                                                                 "min_chars"], corpus={"min_chars": 100}),
    "corpus_language_in_no_source": Case(lambda tmp: (
        _prepare(tmp, {"sources": [_tsv_entry(_user_file(tmp, GOOD_LINE))]}, lang="fra"), ["no pairs for language fra"])),
    "corpus_language_unknown_code": _tsv_case(GOOD_LINE, lambda p: ["corpus.sources", "'xq'"],
                                              languages={"xq": "de"}),
    "corpus_language_noncanonical": _tsv_case(GOOD_LINE, lambda p: ["corpus.sources", "'zho'", "cmn_Hans"],
                                              languages={"zho": "de"}),
    "corpus_source_unknown_kind": Case(lambda tmp: (
        _prepare(tmp, {"sources": [{"kind": "paracrawl", "version": "v9"}]}), ["corpus.sources", "paracrawl"])),
    "corpus_url_with_credentials": Case(lambda tmp: (
        _prepare(tmp, {"sources": [{"kind": "opus", "corpus": "CCMatrix", "version": "v1", "languages": ["deu"],
                                    "url": f"https://alice:{SECRET}@mirror.example/opus"}]}),
        ["corpus.sources", "url"])),
    "corpus_source_missing_key": Case(lambda tmp: (
        _prepare(tmp, {"sources": [{"kind": "opus", "corpus": "CCMatrix", "languages": ["deu"]}]}),
        ["corpus.sources", "version"])),
    "prepare_unknown_key": _tsv_case(GOOD_LINE, lambda p: "min_charz", corpus={"min_charz": 3}),
    "prepare_wrong_type": _tsv_case(GOOD_LINE, lambda p: "max_chars", corpus={"max_chars": "long"}),
    "prepare_settings_not_json": Case(lambda tmp: (
        _prepare(tmp, {"sources": [_tsv_entry(_user_file(tmp, GOOD_LINE))]})[:4] + ["{corpus: x"]
        + _prepare(tmp, {})[5:], "--settings")),
    "prepare_eval_keys_missing": Case(lambda tmp: (
        _prepare(tmp, {"sources": [_tsv_entry(_user_file(tmp, GOOD_LINE))]})[:-4]
        + ["--eval-keys", str(tmp / "in" / "nokeys"), "--out", str(tmp / "out" / "deu")],
        [str(tmp / "in" / "nokeys"), "eval_keys"])),
}


# ---------------------------------------------------------------- archives (ems fetch)

def _fetch(tmp: Path, mirror: Path, paths: list[str] = FEW) -> list[str]:
    settings = {"repo": LASER[0], "commit": LASER[1], "paths": paths}
    return ["fetch", "--settings", json.dumps(settings), "--mirror", str(mirror), "--out", str(tmp / "out" / "laser")]


def _toy_laser(tmp: Path, members: dict[str, bytes | str]) -> Path:
    """A mirror folder whose LASER archive holds ``members`` (str values: symlink targets)."""
    mirror = tmp / "in" / "mirror"
    mirror.mkdir(parents=True)
    with tarfile.open(mirror / LASER_NAME, "w:gz") as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return mirror


def _real_laser(tmp: Path, keep: int | None = None, garbage: bool = False) -> Path:
    from conftest import mirror_path

    source = mirror_path() / LASER_NAME
    if not source.exists():
        pytest.skip(f"data mirror archive {source} not present")
    mirror = tmp / "in" / "mirror"
    mirror.mkdir(parents=True)
    data = b"this is not a tar.gz archive\n" * 100 if garbage else source.read_bytes()[:keep]
    (mirror / LASER_NAME).write_bytes(data)
    return mirror


FETCH_CASES = {
    "archive_truncated": Case(lambda tmp: (
        _fetch(tmp, _real_laser(tmp, keep=1_500_000), ["data/tatoeba/v1/"]), [LASER_NAME, "truncated or corrupt archive"])),
    "archive_not_gzip": Case(lambda tmp: (_fetch(tmp, _real_laser(tmp, garbage=True)), [LASER_NAME, "not a readable"])),
    "archive_missing_mirror_file": Case(lambda tmp: (
        _fetch(tmp, (tmp / "in" / "empty").resolve()), [f"mirror file {tmp / 'in' / 'empty' / LASER_NAME} not found"])),
    "archive_checksum_mismatch": Case(lambda tmp: (
        _fetch(tmp, _toy_laser(tmp, {f"{LASER_TOP}/{FEW[0]}": b"tampered\n", f"{LASER_TOP}/{FEW[1]}": b"x\n"})),
        ["checksum mismatch for", "data/tatoeba/v1/tatoeba.deu-eng."])),
    "archive_path_traversal": Case(lambda tmp: (
        _fetch(tmp, _toy_laser(tmp, {f"{LASER_TOP}/../../evil.txt": b"x\n"})), ["escapes the archive", "evil.txt"])),
    "archive_absolute_member": Case(lambda tmp: (
        _fetch(tmp, _toy_laser(tmp, {"/etc/evil.txt": b"x\n"})), ["unsafe member path", "/etc/evil.txt"])),
    "archive_symlink_outside": Case(lambda tmp: (
        _fetch(tmp, _toy_laser(tmp, {f"{LASER_TOP}/{FEW[0]}": "../../../../../etc/passwd", f"{LASER_TOP}/{FEW[1]}": b"x\n"})),
        [FEW[0], "points outside the archive"])),
    "fetch_unknown_key": Case(lambda tmp: (
        ["fetch", "--settings", json.dumps({"repo": LASER[0], "commit": LASER[1], "paths": FEW, "branch": "main"}),
         "--mirror", str(tmp), "--out", str(tmp / "out" / "laser")], "branch")),
    "fetch_bad_commit": Case(lambda tmp: (
        ["fetch", "--settings", json.dumps({"repo": LASER[0], "commit": "main", "paths": FEW}),
         "--mirror", str(tmp), "--out", str(tmp / "out" / "laser")], "commit")),
}


# ---------------------------------------------------------------- OPUS-MT-testsets (ems prepare, kind opus_mt_testsets)

def _opus(tmp: Path, files: dict[str, bytes], lang: str = "deu") -> list[str]:
    root = tmp / "in" / "sources" / f"Helsinki-NLP+OPUS-MT-testsets@{TESTSETS[1]}"
    (root / "testsets").mkdir(parents=True)
    for rel, data in files.items():
        path = root / "testsets" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return _prepare(tmp, {"sources": [{"kind": "opus_mt_testsets"}]}, lang)


PARSE_CASES = {
    "opus_ragged_pair": Case(lambda tmp: (
        _opus(tmp, {"deu-eng/news.deu": b"a\nb\nc\n", "deu-eng/news.eng": b"a\nb\n"}),
        ["ragged", "news.deu has 3 lines", "news.eng has 2 lines"])),
    "opus_bad_utf8": Case(lambda tmp: (
        _opus(tmp, {"deu-eng/news.deu": b"gut\nschl\xe9cht\n", "deu-eng/news.eng": b"good\nbad\n"}),
        ["news.deu, line 2", "not valid UTF-8"])),
    "opus_unknown_language_folder": Case(lambda tmp: (
        _opus(tmp, {"xqq-eng/news.xqq": b"a\n", "xqq-eng/news.eng": b"a\n"}), ["xqq-eng", "'xqq'"])),
    "opus_no_english_partner": Case(lambda tmp: (
        _opus(tmp, {"deu-eng/news.deu": b"a\n"}), ["news.deu", "no English partner"])),
    "opus_no_source_folder": Case(lambda tmp: (_opus(tmp, {}), ["expected the extracted archive"])),
    "opus_no_pairs": Case(lambda tmp: (_opus(tmp, {"eng-eng/x.eng": b"a\n"}), ["no pairs for language deu"])),
}


# ---------------------------------------------------------------- evaluation (ems evaluate)

def _tatoeba(tmp: Path, deu: list[str] | None = None) -> Path:
    """A LASER-shaped folder with a 30-line German Tatoeba file pair."""
    folder = tmp / "in" / "laser" / "data" / "tatoeba" / "v1"
    folder.mkdir(parents=True)
    deu = deu or [f"Das ist der Satz Nummer {i}." for i in range(30)]
    (folder / "tatoeba.deu-eng.deu").write_text("\n".join(deu) + "\n", encoding="utf-8")
    (folder / "tatoeba.deu-eng.eng").write_text("\n".join(f"This is sentence number {i}." for i in range(len(deu))) + "\n",
                                                encoding="utf-8")
    return tmp / "in" / "laser"


def _ragged_tatoeba(tmp: Path) -> Path:
    laser = _tatoeba(tmp)
    (laser / "data/tatoeba/v1/tatoeba.deu-eng.eng").write_text("one\n", encoding="utf-8")
    return laser


def _evaluate(tmp: Path, settings: dict | None = None, extra: list[str] = (), laser: Path | None = None) -> list[str]:
    laser = laser or _tatoeba(tmp)
    settings = settings if settings is not None else {"evaluation": {"tatoeba": {"languages": ["deu"]}}}
    out = tmp / "out" / "eval"
    return ["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(out / "tatoeba.csv"),
            "--out-json", str(out / "tatoeba.json"), "--settings", json.dumps(settings), "--source", f"laser={laser}",
            "--no-cache", *extra]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SECRET = "hunter2-not-on-disk"


def _run_json(tmp: Path, uri: str) -> Path:
    path = tmp / "in" / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": "0123456789abcdef", "experiment_id": "1", "tracking_uri": uri}))
    return path



EVALUATE_CASES = {
    "eval_train_meta_missing": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": "train"}}}, ["--train-meta", str(tmp / "in" / "meta.json")]),
        ["--train-meta", str(tmp / "in" / "meta.json"), "not found"])),
    "eval_train_meta_not_json": Case(lambda tmp: (
        (tmp / "in").mkdir() or (tmp / "in" / "meta.json").write_text("{languages") and
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": "train"}}}, ["--train-meta", str(tmp / "in" / "meta.json")]),
        [str(tmp / "in" / "meta.json"), "not a JSON file"])),
    "eval_train_languages_without_meta": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": "train"}}}), ["--train-meta"])),
    "eval_language_not_a_code": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": ["deu", "german!"]}}}),
        ["evaluation.tatoeba.languages", "'german!'"])),
    "eval_language_noncanonical": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": ["de"]}}}), ["evaluation.tatoeba.languages", "'de'", "'deu'"])),
    "eval_language_missing_strict": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": ["deu", "fra"]}, "on_missing_language": "error"}}),
        ["'fra'", "not in the dataset"])),
    "eval_empty_sentence": Case(lambda tmp: (
        _evaluate(tmp, laser=_tatoeba(tmp, [f"Satz {i}." for i in range(12)] + ["   "] + [f"Satz {i}." for i in range(13, 30)])),
        ["language 'deu'", "sentence 13 of 30 is empty"])),
    "eval_ragged_tatoeba": Case(lambda tmp: (
        _evaluate(tmp, laser=_ragged_tatoeba(tmp)), ["ragged", "tatoeba.deu-eng.deu"])),
    "eval_unknown_key": Case(lambda tmp: (
        _evaluate(tmp, {"evaluation": {"tatoeba": {"languages": ["deu"], "margn": True}}}), "margn")),
    "eval_wrong_type": Case(lambda tmp: (_evaluate(tmp, {"evaluation": {"tatoeba": {"k": "four"}}}),
                                         ["evaluation.tatoeba.k:", "'four'", "integer"])),
    "eval_run_json_missing": Case(lambda tmp: (
        _evaluate(tmp, extra=["--run-json", str(tmp / "in" / "run.json")]), [str(tmp / "in" / "run.json"), "not found"])),
    "eval_run_json_incomplete": Case(lambda tmp: (
        (tmp / "in").mkdir() or (tmp / "in" / "run.json").write_text("{}") and
        _evaluate(tmp, extra=["--run-json", str(tmp / "in" / "run.json")]), [str(tmp / "in" / "run.json"), "missing"])),
}

def _extra_dataset_folder(tmp: Path):
    """An extra dataset whose path pattern ends at a folder (a missing file name)."""
    (tmp / "in" / "ds" / "deu").mkdir(parents=True)
    (tmp / "in" / "ds" / "eng.txt").write_text("a\n")
    entry = {"name": "mine", "type": "retrieval", "format": "lines", "path": str(tmp / "in" / "ds" / "{lang}"),
             "target_path": str(tmp / "in" / "ds" / "eng.txt"), "languages": ["deu"]}
    out = tmp / "out" / "eval"
    args = ["evaluate", "--task", "mine", "--model", "tfidf", "--out-csv", str(out / "mine.csv"), "--out-json",
            str(out / "mine.json"), "--settings", json.dumps({"evaluation": {"extra_datasets": [entry]}}), "--no-cache"]
    return args, [str(tmp / "in" / "ds" / "deu"), "a folder, not a data file"]


EVALUATE_CASES["eval_extra_dataset_path_is_a_folder"] = Case(_extra_dataset_folder)

CASES = {**PREPARE_CASES, **FETCH_CASES, **PARSE_CASES, **EVALUATE_CASES}

@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_fails_cleanly(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    args, culprit = case.make(tmp_path)
    culprit = [c for c in ([culprit] if isinstance(culprit, (str, re.Pattern)) else culprit) if c]
    inputs = snapshot(tmp_path / "in")
    proc = run_cli(args, cwd=tmp_path, env=case.env)
    assert_clean_failure(proc, culprit, tmp_path / "out")
    assert snapshot(tmp_path / "in") == inputs, "the command changed its inputs"
    assert sorted(p.name for p in tmp_path.iterdir()) in (["in"], ["in", "out"], []), "files beside the output folder"
    assert SECRET not in proc.stderr + proc.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "run.json":
            assert SECRET.encode() not in path.read_bytes(), f"password written to {path}"


def test_unreachable_store_fails_within_30_s(tmp_path: Path) -> None:
    """A tracking server that takes no connection: one line naming run.json and the host (password hidden),
    in about 30 s with MLflow's own retry settings (which alone wait ~4 min), and no result file."""
    import time

    port = _closed_port()
    run_json = _run_json(tmp_path, f"http://alice:{SECRET}@127.0.0.1:{port}")
    start = time.monotonic()
    proc = run_cli(_evaluate(tmp_path, extra=["--run-json", str(run_json)]), cwd=tmp_path)  # MLflow's defaults
    elapsed = time.monotonic() - start
    assert_clean_failure(proc, [str(run_json), f"alice:***@127.0.0.1:{port}", "unreachable", "not written"],
                         tmp_path / "out")
    assert SECRET not in proc.stderr + proc.stdout
    assert 25 <= elapsed <= 60, elapsed


def test_a_good_file_still_passes(tmp_path: Path) -> None:
    """The strict reader accepts a well-formed file (the catalogue's inputs differ from it in one point each)."""
    path = _user_file(tmp_path, "de\ten\n" + GOOD_LINE + "Hallo alle.\tHello everybody.\n")
    proc = run_cli(_prepare(tmp_path, {"sources": [_tsv_entry(path, header=True, columns={"src": "de", "tgt": 1})]}),
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with gzip.open(tmp_path / "out" / "deu" / "pairs.tsv.gz", "rt", encoding="utf-8") as fh:
        assert fh.read().splitlines()[1:] == ["deu\tGuten Morgen, Welt.\tGood morning, world.\tmine/de.tsv",
                                              "deu\tHallo alle.\tHello everybody.\tmine/de.tsv"]


def test_manifest_of_the_toy_cases_is_the_real_one() -> None:
    """The fetch cases' archives are checked against the committed LASER manifest (so they test verification)."""
    manifest = read_manifest(manifest_path(*LASER))
    assert all(rel in manifest for rel in FEW)


def test_evaluate_writes_outputs_only_after_tracking(tmp_path: Path) -> None:
    """With a reachable store the CSV/JSON appear and the run holds the same primary metric."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("t")
    run = client.create_run(exp)
    run_json = _run_json(tmp_path, uri)
    run_json.write_text(json.dumps({"run_id": run.info.run_id, "experiment_id": exp, "tracking_uri": uri}))
    proc = run_cli(_evaluate(tmp_path, extra=["--run-json", str(run_json)]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "eval" / "tatoeba.json").read_text())
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["tatoeba/acc_mean"] == pytest.approx(summary["metrics"]["tatoeba/acc_mean"])
    assert 0.0 < summary["metrics"]["tatoeba/acc_mean"] <= 1.0


@pytest.mark.parametrize(("uri", "expected"), [
    ("postgresql://bob:s3cr%40t@db:5432/ml?sslmode=require", "postgresql://bob:***@db:5432/ml?sslmode=require"),
    ("http://u:p@host:5000/x", "http://u:***@host:5000/x"),
    ("postgresql+psycopg2://bob:pw@host/db", "postgresql+psycopg2://bob:***@host/db"),
    ("http://:token@host", "http://:***@host"),
    ("sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"),
    ("http://host:5000", "http://host:5000"),
    ("file:///tmp/mlruns", "file:///tmp/mlruns"),
])
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected
    assert connectable(expected) == expected.replace(":***@", "@")


def test_log_filter_keeps_passwords_off_disk(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.addFilter(RedactingFilter())
    test_logger = logging.getLogger("ems.test_redact")
    test_logger.addHandler(handler)
    test_logger.propagate = False
    try:
        test_logger.warning("tracking at %s", f"postgresql://bob:{SECRET}@db/ml")
        test_logger.warning(f"storage http://bob:{SECRET}@h:5000 and %(x)s", {"x": f"mysql://a:{SECRET}@h/db"})
    finally:
        test_logger.removeHandler(handler)
        handler.close()
    text = log.read_text(encoding="utf-8")
    assert SECRET not in text
    assert "postgresql://bob:***@db/ml" in text and "http://bob:***@h:5000" in text and "mysql://a:***@h/db" in text


def test_huge_line_is_filtered_not_a_crash(tmp_path: Path) -> None:
    """A 2 MB sentence is valid input: the language job drops it as too_long (counted), the rest goes through."""
    path = _user_file(tmp_path, GOOD_LINE + f"{'Wort ' * 400_000}\tword\n")
    proc = run_cli(_prepare(tmp_path, {"sources": [_tsv_entry(path)]}), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "out" / "deu" / "stats.json").read_text(encoding="utf-8"))
    assert stats["removed"] == {"too_long": 1} and stats["decontaminated"] == 1
