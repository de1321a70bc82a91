"""Per-language statistics and the data subcommands' command-line behaviour."""

from __future__ import annotations

import pandas as pd

from ems.cli import main
from ems.data.tsv import read_pairs, write_pairs


def _write(path, langs):
    write_pairs(path, pd.DataFrame({"lang": langs, "src": [f"s{i}" for i in range(len(langs))],
                                    "tgt": [f"t{i}" for i in range(len(langs))], "origin": "t/x"}))


def test_data_stats_table_and_figures(tmp_path):
    steps = {"parsed": ["deu"] * 5 + ["fra"] * 3 + ["afr"], "clean": ["deu"] * 4 + ["fra"] * 3,
             "decontaminated": ["deu"] * 3 + ["fra"] * 2, "train": ["deu"] * 3 + ["fra"] * 3, "valid": ["deu", "fra"]}
    args = ["data-stats"]
    for step, langs in steps.items():
        _write(tmp_path / f"{step}.tsv.gz", langs)
        args += [f"--{step}", str(tmp_path / f"{step}.tsv.gz")]
    out = tmp_path / "stats"
    assert main(args + ["--csv", str(out / "t.csv"), "--pdf", str(out / "f.pdf"), "--png", str(out / "f.png")]) == 0
    table = pd.read_csv(out / "t.csv")
    assert table.columns.tolist() == ["lang", "name", "parsed", "clean", "decontaminated", "train", "valid"]
    assert table.values.tolist() == [["deu", "German", 5, 4, 3, 3, 1], ["fra", "French", 3, 3, 2, 3, 1],
                                     ["afr", "Afrikaans", 1, 0, 0, 0, 0]]
    assert (out / "f.pdf").read_bytes().startswith(b"%PDF") and (out / "f.png").stat().st_size > 1000


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, capsys):
    _write(tmp_path / "parsed.tsv.gz", ["deu"])
    out = tmp_path / "clean.tsv.gz"
    rc = main(["clean", "--input", str(tmp_path / "parsed.tsv.gz"), "--out", str(out), "--report",
               str(tmp_path / "r.csv"), "--settings", '{"max_chars": 0}'])
    assert rc == 2 and "corpus.max_chars" in capsys.readouterr().err and not out.exists()
    rc = main(["clean", "--input", str(tmp_path / "missing.tsv.gz"), "--out", str(out), "--report",
               str(tmp_path / "r.csv"), "--settings", "{}"])
    assert rc == 2 and "missing.tsv.gz: file not found" in capsys.readouterr().err and not out.exists()
    rc = main(["clean", "--input", str(tmp_path / "parsed.tsv.gz"), "--out", str(out), "--report",
               str(tmp_path / "r.csv"), "--settings", "{}"])
    assert rc == 0 and read_pairs(out)["src"].tolist() == ["s0"]
