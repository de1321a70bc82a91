"""The configuration schema: shipped configs validate; bad keys and values fail by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ems.config import deep_merge, load_config, validate_config
from ems.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _default() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("overlay", [None, "config/smoke.yaml", "config/paper.yaml", "config/laptop-long.yaml",
                                     "config/study-laptop.yaml"])
def test_shipped_configs_validate(overlay: str | None) -> None:
    overrides = yaml.safe_load((ROOT / overlay).read_text()) if overlay else None
    cfg = load_config(ROOT / "config.yaml", overrides)
    assert cfg["name"] == (overrides or {}).get("name", "default")
    # defaults are filled for keys the file leaves out
    assert "early_stopping_patience" in cfg["train"]


def test_defaults_filled_for_missing_sections() -> None:
    cfg = _default()
    del cfg["train"]
    out = validate_config(cfg)
    assert out["train"]["lr"] == pytest.approx(3e-4)
    assert out["train"]["batch_size"] == 128


def test_unknown_key_is_named() -> None:
    cfg = deep_merge(_default(), {"train": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match=r"train: unknown key.*learning_rate"):
        validate_config(cfg)


def test_bad_value_is_named() -> None:
    cfg = deep_merge(_default(), {"train": {"lr": -1.0}})
    with pytest.raises(ConfigError, match=r"train\.lr"):
        validate_config(cfg)


def test_bad_enum_is_named() -> None:
    cfg = deep_merge(_default(), {"tokenizer": {"model": "wordpiece"}})
    with pytest.raises(ConfigError, match=r"tokenizer\.model"):
        validate_config(cfg)


def test_bad_commit_is_named() -> None:
    cfg = deep_merge(_default(), {"sources": {"laser": {"commit": "main"}}})
    with pytest.raises(ConfigError, match=r"sources\.laser\.commit"):
        validate_config(cfg)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_free_maps_replace_not_merge() -> None:
    from ems.config import free_maps, load_schema, replace_free_maps

    assert ("tune", "space") in free_maps(load_schema()) and ("mining", "languages") in free_maps(load_schema())
    base = _default()
    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    merged = deep_merge(base, smoke)  # what Snakemake's update_config does
    assert set(merged["tune"]["space"]) == {"lr", "temperature", "contrastive_weight"}
    notes = replace_free_maps(merged, [("config.yaml", base), ("config/smoke.yaml", smoke), ("--config", {})])
    assert set(merged["tune"]["space"]) == {"lr"}
    assert merged["tune"]["space"]["lr"]["low"] == pytest.approx(1e-7)
    assert len(notes) == 1 and "tune.space" in notes[0] and "dropped: contrastive_weight, temperature" in notes[0]
    # a map set once (or not at all) stays as merged
    assert merged["mining"]["languages"] == base["mining"]["languages"]


def test_language_codes_checked() -> None:
    for key, value in [("corpus", {"languages": ["deu", "xyz"]}),
                       ("evaluation", {"flores": {"languages": ["deu", "qqq"]}}),
                       ("mining", {"languages": {"zzz": {"train": "a", "test": "b"}}})]:
        with pytest.raises(ConfigError, match=rf"{key}\..*languages.*unknown language code"):
            validate_config(deep_merge(_default(), {key: value}))
    with pytest.raises(ConfigError, match=r"corpus\.languages: 'de' is not canonical \(use 'deu'\)"):
        validate_config(deep_merge(_default(), {"corpus": {"languages": ["de"]}}))


def test_error_is_short_and_names_the_key() -> None:
    cfg = deep_merge(_default(), {"train": {"lrr": 1}, "evaluation": {"tatoeba": {"languages": "some"}}})
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert "\n" not in message, message
    assert "train: unknown key(s): 'lrr'" in message and "evaluation.tatoeba.languages: 'some' is not valid here" in message


def test_dry_run_errors_and_replacement(tmp_path: Path) -> None:
    """Through Snakemake: a typo gives a few lines naming the key; smoke's tune.space replaces the default."""
    import subprocess
    import sys

    base = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--quiet", "rules"]
    bad = subprocess.run([*base, "--config", 'train={"lrr": 1}'], cwd=ROOT, capture_output=True, text=True, check=False)
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "train: unknown key(s): 'lrr'" in out
    assert len(out.splitlines()) < 15 and "properties" not in out, out
    code = subprocess.run([*base, "--config", 'corpus={"languages": ["deu", "xyz"]}'], cwd=ROOT, check=False,
                          capture_output=True, text=True)
    assert code.returncode != 0 and "corpus.languages: unknown language code 'xyz'" in code.stdout + code.stderr
    ok = subprocess.run([*base, "--configfile", "config/smoke.yaml"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "tune.space: the value of" in ok.stdout + ok.stderr


def test_workflow_refuses_duplicate_keys_non_finite_numbers_and_a_results_file(tmp_path) -> None:
    """Each: exit 2, one `error:` line naming the key (and both lines), before any job."""
    import subprocess
    import sys

    base = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--quiet", "rules"]
    cases = {
        "dup.yaml": ("train:\n  batch_size: 32\n  lr: 1.0e-4\n  batch_size: 8\n",
                     ["dup.yaml", "'batch_size' is given twice", "lines 2 and 4"]),
        "inf.yaml": ("train:\n  lr: .inf\n", ["train.lr:", "not a finite number"]),
        "nan.yaml": ("objective:\n  temperature: .nan\n", ["objective.temperature:", "not a finite number"]),
        "file.yaml": (f"results_dir: {tmp_path / 'a-file'}\n", ["results_dir:", "a-file is a file"]),
    }
    (tmp_path / "a-file").write_text("x")
    for name, (text, culprits) in cases.items():
        (tmp_path / name).write_text(text)
        proc = subprocess.run([*base, "--configfile", str(tmp_path / name)], cwd=ROOT, capture_output=True,
                              text=True, check=False)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1, (name, proc.stderr[-2000:])
        assert all(c in errors[0] for c in culprits), (name, errors[0])
        assert "Traceback" not in proc.stderr
