"""No password of a tracking URI reaches the files a training run writes (issue 14, item 9)."""

from __future__ import annotations

from pathlib import Path

from _train_toy import TINY_SETTINGS, make_toy_data

from ems.redact import connectable
from ems.train.callbacks import TrainerControl, TrainerState
from ems.train.outputs import write_run_json
from ems.train.run import resolve_run

SECRET = "s3cr3t-pw"
URI = f"postgresql://ems:{SECRET}@127.0.0.1:5432/mlflow"


def test_tracking_json_and_run_json_hold_no_password(tmp_path: Path) -> None:
    toy = make_toy_data(tmp_path / "toy", n_train=32, n_valid=16)
    out = tmp_path / "models" / "both" / "seed1"
    run = resolve_run(TINY_SETTINGS, toy["train"], toy["valid"], toy["tokenizer"], out)
    run = run.with_tracking(URI, "abc123", "1")
    out.mkdir(parents=True, exist_ok=True)
    write_run_json(run, TrainerState(step=1), TrainerControl())
    written = [p for p in tmp_path.rglob("*.json") if "toy" not in p.parts]
    assert {p.name for p in written} >= {"tracking.json", "run.json"}
    for path in written:
        text = path.read_text()
        assert SECRET not in text, path
        assert "ems:***@127.0.0.1" in text, path
    # what was written can still be connected to (the password then comes from the environment)
    assert connectable(run.logged_to["tracking_uri"]) == "postgresql://ems@127.0.0.1:5432/mlflow"


def test_logged_params_are_redacted() -> None:
    from ems.redact import redact_value
    from ems.tracking.base import flatten_params

    flat = flatten_params(redact_value({"tracking": {"uri": URI}, "tune": {"storage": URI}}))
    assert all(SECRET not in v for v in flat.values()) and flat["tracking.uri"].startswith("postgresql://ems:***@")
