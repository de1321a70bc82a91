"""``tokenizer.model: official`` and peer ``official-ems`` through Snakemake, as a user runs them.

One tiny configuration: two languages tokenised by the authors' SentencePiece model (shards,
training, model folder), one small random official checkpoint (saved by their code) as the
``official-ems`` peer, Tatoeba for both; the peer must appear in the ablation table beside the
reproduction. Also: without the checkpoint, one line naming the key and exit 2 before any job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from workflow_helpers import run_config, run_snakemake, workflow_copy

from conftest import official_reference

pytest.importorskip("sentencepiece")
pytest.importorskip("sacremoses")

def _config(checkpoint: Path | None) -> dict:
    return {
        "name": "official",
        "corpus": {"languages": ["deu", "fra"], "min_pairs_per_language": 50, "valid_pairs_per_language": 64,
                   "max_pairs_per_language": 1000, "max_train_pairs": 1500},
        "tokenizer": {"model": "official", "max_length": 32},
        "model": {"layers": 1, "hidden_size": 32, "heads": 2, "ffn_size": 64, "max_positions": 64,
                  "lang_embedding_dim": 16, "projection_dim": 16, "xtr_head": "official"},
        "train": {"batch_size": 32, "warmup_steps": 2, "max_steps": 6, "max_seconds": 60, "eval_every": 3,
                  "checkpoint_every": 3, "log_every": 3},
        "mining": {"languages": {}},
        "evaluation": {"batch_size": 64, "tatoeba": {"enabled": True, "languages": ["deu", "fra"]},
                       "flores": {"enabled": False}, "mining": {"enabled": False}, "sib200": {"enabled": False},
                       "umsab": {"enabled": False}, "peers": ["official-ems"],
                       "official_ems": {"checkpoint": str(checkpoint) if checkpoint else None, "heads": 4}},
        "ablation": {"factors": {"objective": ["both"], "language_embedding": [True], "temperature": [0.1],
                                 "data_fraction": [1.0]}, "seeds": [1]},
        "tune": {"enabled": False},
    }


def test_missing_checkpoint_is_one_line_before_any_job(tmp_path: Path, mirror: Path) -> None:
    work = workflow_copy(tmp_path)
    (work / "official.yaml").write_text(yaml.safe_dump(_config(None)), encoding="utf-8")
    proc = run_snakemake(["-n", "--cores", "1", "--configfile", "official.yaml"], work, mirror)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(errors) == 1 and "evaluation.official_ems.checkpoint" in errors[0] and "EMS_model.pt" in errors[0]
    assert "Traceback" not in proc.stderr and not (work / "results").exists()


@pytest.mark.slow
def test_official_tokenizer_and_peer_through_the_workflow(tmp_path: Path, mirror: Path, official_repo: Path) -> None:
    ckpt = tmp_path / "EMS_model.pt"
    official_reference(official_repo, "checkpoint", tmp_path, output=ckpt, seed=5)
    work = workflow_copy(tmp_path / "work")
    run_config(work, "official", _config(ckpt), mirror)
    res = work / "results" / "official"
    tok_cfg = json.loads((res / "tokenizer" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_cfg["ems_model"] == "official" and len(tok_cfg["ems_languages"]) == 62
    meta = json.loads((res / "shards" / "train" / "meta.json").read_text(encoding="utf-8"))
    assert meta["vocab_size"] == 60000 and meta["languages"] == tok_cfg["ems_languages"]
    # language ids of the shards are the official ones (<2de> - 3 = 8, <2fr> - 3 = 16); English is 0
    import numpy as np

    src_lang = np.load(res / "shards" / "train" / "src.lang.npy")
    assert set(np.unique(src_lang).tolist()) == {8, 16}
    assert set(np.unique(np.load(res / "shards" / "train" / "tgt.lang.npy")).tolist()) == {0}
    trained = next((res / "models").glob("*/seed1/model"))
    assert (trained / "sentencepiece.bpe.model").is_file()
    peer = json.loads((res / "eval" / "peer-official-ems" / "tatoeba.json").read_text(encoding="utf-8"))
    assert 0.0 <= peer["metrics"][peer["primary_metric"]] <= 1.0
    card = (res / "peers" / "official-ems" / "model" / "README.md").read_text(encoding="utf-8")
    assert "EMS_model.pt" in card
    assert "EMS (authors)" in (res / "tables" / "ablation.tex").read_text(encoding="utf-8")
