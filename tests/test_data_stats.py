"""Per-language statistics and the data subcommands' command-line behaviour."""

from __future__ import annotations

import json

import pandas as pd
from _data_stage import prepare_all, rows_by_language, split_all

from ems.cli import main
from ems.data.tsv import read_pairs


def test_data_stats_table_and_figures(tmp_path):
    rows = ([("deu", f"Satz {i}", f"Sentence {i}") for i in range(40)] + [("deu", "Satz 1", "Sentence 1")] * 3
            + [("fra", f"Phrase {i}", f"Phrase sentence {i}") for i in range(30)] + [("fra", "x" * 500, "y" * 500)])
    dirs = prepare_all(rows_by_language(rows), tmp_path)
    split_all(dirs, tmp_path, {"min_pairs_per_language": 10, "valid_pairs_per_language": 5, "sampling_temperature": 1.0,
                               "max_pairs_per_language": None, "max_train_pairs": 50, "seed": 1})
    out = tmp_path / "stats"
    args = ["data-stats", "--languages-root", str(tmp_path / "languages"), "--samples-root", str(tmp_path / "split"),
            "--langs", "deu", "fra", "--csv", str(out / "t.csv"), "--pdf", str(out / "f.pdf"), "--png", str(out / "f.png")]
    assert main(args) == 0
    table = pd.read_csv(out / "t.csv")
    assert table.columns.tolist() == ["lang", "name", "parsed", "clean", "decontaminated", "train", "valid"]
    # deu: 43 read, 3 duplicates; fra: 31 read, one too long; valid 5 each; 50 drawn from pools of 35 and 25
    # at T=1: 29.17 and 20.83 -> 29 and 21 (largest remainder)
    assert table.values.tolist() == [["deu", "German", 43, 40, 40, 29, 5], ["fra", "French", 31, 30, 30, 21, 5]]
    assert (out / "f.pdf").read_bytes().startswith(b"%PDF") and (out / "f.png").stat().st_size > 1000


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, capsys):
    (tmp_path / "de.tsv").write_text("Hallo Welt\tHello world\n", encoding="utf-8")
    keys = tmp_path / "keys"
    assert main(["eval-keys", "--settings", json.dumps({"decontamination": {k: False for k in
                 ("tatoeba", "flores", "sib200", "umsab", "mining")}, "mining": {}}), "--out", str(keys)]) == 0
    entry = {"kind": "tsv", "name": "mine", "path": str(tmp_path / "{lang}.tsv"), "languages": {"deu": "de"}}
    sources = {r: {"repo": "a/b", "commit": "0" * 40, "paths": ["x/"]} for r in ("laser", "opus_mt_testsets", "sib200", "umsab")}
    out = tmp_path / "deu"

    def prepare(corpus):
        return main(["prepare", "--lang", "deu", "--settings", json.dumps({"corpus": corpus, "sources": sources}),
                     "--sources-root", str(tmp_path), "--eval-keys", str(keys), "--out", str(out)])

    assert prepare({"sources": [entry], "max_chars": 0}) == 2
    assert "corpus.max_chars" in capsys.readouterr().err and not out.exists()
    assert prepare({"sources": [{**entry, "path": str(tmp_path / "{lang}.missing")}]}) == 2
    assert "de.missing: file not found" in capsys.readouterr().err and not out.exists()
    assert prepare({"sources": [entry]}) == 0
    assert read_pairs(out / "pairs.tsv.gz")["src"].tolist() == ["Hallo Welt"]
