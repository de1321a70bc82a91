"""The study loop on a synthetic objective whose scores are known by construction."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from ems.errors import Interrupted
from ems.tune.run import make_spec, tune_worker
from ems.tune.signals import Interrupts
from ems.tune.study import open_study
from ems.tune.trials import OUTCOME, RETRY_OF, is_surplus, trials_used

sys.path.insert(0, str(Path(__file__).parent))
from tune_fixtures import kill_worker_in_trial, make_objective, quality, settings, start_together

FIXTURES = Path(__file__).with_name("tune_fixtures.py")
ENV = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", OMP_NUM_THREADS="1")


def _study(cfg: dict, out: Path):
    return open_study(make_spec(cfg, out))


def _counted(study) -> list:
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or t.user_attrs.get("ems_outcome") == "failed"]


def test_tiny_study_prunes_the_bad_trial_and_fails_the_diverging_one(tmp_path: Path) -> None:
    cfg = settings(n_trials=5)
    study = _study(cfg, tmp_path)
    for point in ({"lr": 1e-3, "dropout": 0.0}, {"lr": 1e-3, "dropout": 0.1},
                  {"lr": 1e-3, "dropout": 0.49},  # diverges: NaN
                  {"lr": 1e-4, "dropout": 0.4},  # far below the median at the first report
                  {"lr": 1e-3, "dropout": 0.02}):  # above the median: completes
        study.enqueue_trial(point)
    result = tune_worker(cfg, tmp_path, make_objective(), worker_id=0)
    assert result.trials == [0, 1, 2, 3, 4]
    trials = _study(cfg, tmp_path).trials
    states = [t.state for t in trials]
    assert states[2] == TrialState.FAIL and "nan" in trials[2].user_attrs["fail_reason"]
    assert states[3] == TrialState.PRUNED and trials[3].last_step == 2  # stopped at its first report
    assert states[4] == TrialState.COMPLETE  # the study went on after the failure
    for t in (trials[0], trials[1], trials[4]):
        assert t.value == pytest.approx(quality(t.params))
        assert sorted(t.intermediate_values) == [2, 4, 6, 8, 10]
    assert _study(cfg, tmp_path).best_trial.number == 0


def test_seeded_sampler_reproduces_a_fresh_study(tmp_path: Path) -> None:
    cfg = settings(n_trials=4, pruner="none")
    tune_worker(cfg, tmp_path / "a", make_objective())
    tune_worker(cfg, tmp_path / "b", make_objective())
    a = [t.params for t in _study(cfg, tmp_path / "a").trials]
    b = [t.params for t in _study(cfg, tmp_path / "b").trials]
    assert a == b and len({json.dumps(p, sort_keys=True) for p in a}) == 4


def test_resume_continues_to_the_total_without_repeats(tmp_path: Path) -> None:
    cfg = settings(n_trials=7, pruner="none")
    first = tune_worker(cfg, tmp_path, make_objective(), max_trials=3)  # "interrupted" after 3
    assert first.trials == [0, 1, 2]
    before = {t.number: t.params for t in _study(cfg, tmp_path).trials}
    second = tune_worker(cfg, tmp_path, make_objective())
    assert second.trials == [3, 4, 5, 6]
    third = tune_worker(cfg, tmp_path, make_objective())  # nothing left to do
    assert third.trials == []
    trials = _study(cfg, tmp_path).trials
    assert [t.number for t in trials] == list(range(7))
    assert {t.number: t.params for t in trials[:3]} == before  # nothing lost
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 7  # nothing repeated


def test_killed_worker_is_made_up_on_rerun(tmp_path: Path) -> None:
    """SIGKILL mid-trial leaves a RUNNING trial; the rerun records it as interrupted and retries its values."""
    cfg = settings(n_trials=4, pruner="none")
    kill_worker_in_trial(cfg, tmp_path, 2, env=ENV)
    study = _study(cfg, tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2 + [TrialState.RUNNING]
    result = tune_worker(cfg, tmp_path, make_objective())
    trials = _study(cfg, tmp_path).trials
    assert trials[2].state == TrialState.FAIL and "ems_outcome" not in trials[2].user_attrs  # failed by the reaper
    assert result.trials == [3, 4]  # two more, so four trials count
    assert trials[3].params == trials[2].params and trials[3].user_attrs[RETRY_OF] == 2  # the retry
    assert trials[3].state == TrialState.COMPLETE
    assert len(_counted(_study(cfg, tmp_path))) == 4
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 4


def test_two_worker_processes_share_one_journal(tmp_path: Path) -> None:
    cfg = settings(n_trials=10, pruner="median")
    cmds = [[sys.executable, str(FIXTURES), json.dumps(cfg), str(tmp_path), str(w), "--sleep", "0.01"] for w in (0, 1)]
    for log in start_together(cmds, tmp_path / "gate", ENV):
        assert "Traceback" not in log and "lock" not in log.lower(), log
    study = _study(cfg, tmp_path)
    trials = study.trials
    assert [t.number for t in trials] == list(range(10))  # exactly the total, none lost
    assert all(t.state != TrialState.RUNNING for t in trials)
    assert trials_used(study) == 10
    workers = [json.loads((tmp_path / f"worker-{w}.json").read_text()) for w in (0, 1)]
    ran = sorted(workers[0]["trials"] + workers[1]["trials"])
    assert ran == list(range(10))  # every trial recorded by exactly one worker
    assert workers[0]["trials"] and workers[1]["trials"]  # both took part
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 10


def test_a_trial_that_spent_its_budget_is_not_pruned(tmp_path: Path) -> None:
    cfg = settings(n_trials=2, pruner_startup_trials=1)
    study = _study(cfg, tmp_path)
    for point in ({"lr": 1e-3, "dropout": 0.0}, {"lr": 1e-4, "dropout": 0.4}):
        study.enqueue_trial(point)

    def last_report_only(params: dict, report) -> float:
        value = make_objective()(params, lambda step, v: None)
        report(10, value)  # step 10 == budget_steps: below the median, but the trial is over
        return value

    tune_worker(cfg, tmp_path, last_report_only)
    states = [t.state for t in _study(cfg, tmp_path).trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE]


def test_sigterm_closes_the_running_trial_as_interrupted(tmp_path: Path) -> None:
    cfg = settings(n_trials=3, pruner="none", enqueue=[{"lr": 1e-3, "dropout": 0.1}, {"lr": 1e-3, "dropout": 0.2}])
    assert kill_worker_in_trial(cfg, tmp_path, 1, sig=signal.SIGTERM, env=ENV) != 0
    trials = _study(cfg, tmp_path).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING]
    assert trials[1].user_attrs["ems_outcome"] == "interrupted"
    assert trials[2].user_attrs[RETRY_OF] == 1  # the worker enqueued its retry before it stopped
    assert tune_worker(cfg, tmp_path, make_objective()).trials == [2, 3]
    trials = _study(cfg, tmp_path).trials
    assert trials[2].params == {"lr": 1e-3, "dropout": 0.2} and trials[2].state == TrialState.COMPLETE
    assert len(_counted(_study(cfg, tmp_path))) == 3


@pytest.mark.parametrize(("raised", "code", "said"), [(Interrupted(signal.SIGTERM), 143, "(signal 15)"),
                                                       (KeyboardInterrupt(), 130, "(Ctrl-C)")])
def test_an_interrupted_worker_ends_with_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 raised: BaseException, code: int, said: str) -> None:
    import ems.tune.cli
    from ems.cli import main

    def interrupted(args: object) -> int:
        raise raised  # what Interrupts raises when Snakemake cancels the job (SIGTERM), or Ctrl-C does

    monkeypatch.setattr(ems.tune.cli, "_run_tune", interrupted)
    argv = ["tune", "--shards", "s", "--valid", "v", "--tokenizer", "t", "--out-dir", "o", "--settings", "{}"]
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ems tune: interrupted ") and said in err[0], err


def test_enqueued_points_run_first_and_once(tmp_path: Path) -> None:
    cfg = settings(n_trials=4, pruner="none", enqueue=[{"lr": 1e-3, "dropout": 0.0}, {"lr": 2e-3}])
    tune_worker(cfg, tmp_path, make_objective(), worker_id=1, max_trials=1)  # any worker may be first
    tune_worker(cfg, tmp_path, make_objective(), worker_id=0, max_trials=1)
    tune_worker(cfg, tmp_path, make_objective())  # a rerun does not enqueue again
    trials = _study(cfg, tmp_path).trials
    assert trials[0].params == {"lr": 1e-3, "dropout": 0.0}
    assert trials[1].params == {"lr": 2e-3, "dropout": 0.1}  # the configuration's dropout (schema default)
    assert [t.params for t in trials].count({"lr": 1e-3, "dropout": 0.0}) == 1 and len(trials) == 4
    assert [t.params["lr"] for t in trials].count(2e-3) == 1


def test_enqueued_point_of_a_killed_worker_is_tried_exactly_once(tmp_path: Path) -> None:
    """SIGKILL during an enqueued point's trial: the rerun runs that point again, once, and no other twice."""
    points = [{"lr": 1e-3, "dropout": 0.1}, {"lr": 2e-3, "dropout": 0.2}, {"lr": 5e-3, "dropout": 0.05}]
    cfg = settings(n_trials=4, pruner="none", enqueue=points)
    kill_worker_in_trial(cfg, tmp_path, 1, worker_id=1, env=ENV)
    assert [t.state for t in _study(cfg, tmp_path).trials][:2] == [TrialState.COMPLETE, TrialState.RUNNING]
    tune_worker(cfg, tmp_path, make_objective(), worker_id=0)
    tune_worker(cfg, tmp_path, make_objective(), worker_id=0)  # a later rerun neither repeats nor adds
    trials = _study(cfg, tmp_path).trials
    finished = [t.params for t in trials if t.state == TrialState.COMPLETE]
    assert len(finished) == 4 and len(_counted(_study(cfg, tmp_path))) == 4
    for point in points:
        assert finished.count(point) == 1, (point, finished)
    assert trials[1].state == TrialState.FAIL and trials[1].params == points[1]


def test_surplus_check_by_trial_number(tmp_path: Path) -> None:
    """The lock-free guard of RDB storages: trial k is surplus iff n_trials counting trials precede it."""
    cfg = settings(n_trials=2)
    study = _study(cfg, tmp_path)
    asked = [study.ask() for _ in range(3)]  # three workers asked at once
    assert [is_surplus(study, t.number, 2) for t in asked] == [False, False, True]
    asked[0].set_user_attr(OUTCOME, "interrupted")
    study.tell(asked[0], state=TrialState.FAIL)  # an interrupted trial does not count
    assert is_surplus(study, asked[2].number, 2) is False


def test_sigterm_outside_the_objective_waits_for_the_next_check(tmp_path: Path) -> None:
    """A signal during a storage write does not cut it: the interrupt is raised at the loop's next check."""
    study = _study(settings(n_trials=2), tmp_path)
    trial = study.ask()
    interrupts = Interrupts().install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the worker writes to the storage
        trial.set_user_attr("written", 1)
        assert interrupts.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt, match="signal 15"):
            interrupts.check()
        with pytest.raises(KeyboardInterrupt, match="signal 15"), interrupts.armed():
            pytest.fail("a pending interrupt must stop the worker before the next objective")
        armed = Interrupts().install()
        with pytest.raises(KeyboardInterrupt, match="signal 15"), armed.armed():
            os.kill(os.getpid(), signal.SIGTERM)  # inside the objective: raised at once
            time.sleep(5)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert _study(settings(n_trials=2), tmp_path).trials[0].user_attrs["written"] == 1


def test_a_trial_orphaned_before_its_owner_tag_is_reaped_at_once(tmp_path: Path) -> None:
    """Workers ask and tag under the gate, so an untagged RUNNING trial lost its worker in between."""
    cfg = settings(n_trials=2, pruner="none")
    orphan = _study(cfg, tmp_path).ask()
    assert tune_worker(cfg, tmp_path, make_objective()).trials == [1, 2]
    trials = _study(cfg, tmp_path).trials
    assert trials[orphan.number].state == TrialState.FAIL and trials_used(_study(cfg, tmp_path)) == 2


@pytest.mark.parametrize("pruner", ["hyperband", "none"])
def test_rdb_storage_and_other_pruners(tmp_path: Path, pruner: str) -> None:
    """An RDB URL (SQLite here, one process) works like the journal, heartbeat included."""
    from ems.tune import storage as storage_mod

    cfg = settings(n_trials=4, pruner=pruner, storage=f"sqlite:///{tmp_path / 'study.db'}")
    result = tune_worker(cfg, tmp_path, make_objective())
    assert result.trials == [0, 1, 2, 3]
    assert not (tmp_path / storage_mod.JOURNAL_NAME).exists()
    study = _study(cfg, tmp_path)
    assert trials_used(study) == 4 and all(t.state != TrialState.RUNNING for t in study.trials)


def test_rdb_trial_without_heartbeat_is_made_up(tmp_path: Path) -> None:
    """A worker on another machine died: its trial's heartbeat stops, so it is failed and does not count."""
    from ems.tune.optuna_adapter import heartbeat
    from ems.tune.storage import make_storage

    cfg = settings(n_trials=2, pruner="none", storage=f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1,
                   heartbeat_grace=2)
    spec = make_spec(cfg, tmp_path)
    storage = make_storage(spec.storage, 1, 2)
    study = open_study(spec, storage=storage)
    lost = study.ask()
    lost.set_user_attr("ems_worker", "elsewhere-1")  # a worker on another machine
    with heartbeat(storage, spec.name, lost.number):
        pass  # one beat, then the worker "dies"
    time.sleep(3.2)
    assert tune_worker(cfg, tmp_path, make_objective()).trials == [1, 2]
    trials = _study(cfg, tmp_path).trials
    assert trials[0].state == TrialState.FAIL and trials_used(_study(cfg, tmp_path)) == 2


def test_a_bug_stops_the_worker_and_its_trial_is_made_up(tmp_path: Path) -> None:
    cfg = settings(n_trials=2, pruner="none")

    def broken(params: dict, report) -> float:
        raise RuntimeError("bug in the objective")

    with pytest.raises(RuntimeError, match="bug in the objective"):
        tune_worker(cfg, tmp_path, broken)
    first = _study(cfg, tmp_path).trials[0]
    assert first.state == TrialState.FAIL and first.user_attrs["ems_outcome"] == "error"
    assert tune_worker(cfg, tmp_path, make_objective()).trials == [1, 2]  # the study still gets 2 trials
