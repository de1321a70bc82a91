"""Run the authors' own code (github Mao-KU/EMS, extracted from the data mirror) for tests/test_official.py.

A separate process, because the archive's top-level modules (``config``, ``utils``, ``modeling``,
``preprocessing``) would shadow others in the test process. Three commands:

- ``ids``: JSON ``{official code: [sentences]}`` -> ``{code: [ids]}`` through ``inference/embed.py``'s
  ``load_data`` (lower-case, Moses / jieba segmentation) and ``preprocessing.BPETokenizer``;
- ``checkpoint``: a small ``modeling.BilingualModel`` with random weights, saved as the official
  training saves it (``main.py``: a DDP state dict with ``module.`` prefixes, best_loss, step, optimizer);
- ``embed``: the official inference path (``load_data``, ``DataProvider``, ``Evaluator.load_model``,
  ``get_sentence_embeddings``) on that checkpoint -> ``.npy`` per language.

Juman++ (pyknp) cannot be installed here: pyknp is replaced by a stand-in that refuses to run, so
Japanese is not part of the comparison (docs/paper.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

SMALL = {"num_layers": 2, "sent_dim": 32, "token_dim": 32, "num_heads": 4, "ffn_dim": 64, "la_dim": 16,
         "has_sentence_loss": True, "has_sentence_similarity_loss": False, "contrastive_T": 0.1, "model_name": "small",
         "eval_batch_size": 7}


def _import_official(root: Path):
    """``inference/embed.py`` as its README runs it (cwd inference/, the repository root on the path)."""
    pyknp = types.ModuleType("pyknp")

    class Juman:
        def analysis(self, text):
            raise RuntimeError("Juman++ is not installed; Japanese is not compared")

    pyknp.Juman = Juman
    sys.modules["pyknp"] = pyknp
    import functools

    import torch

    # the torch of the authors' environment (ems.yaml, < 2.6) loaded pickles whole; 2.6+ defaults to weights_only
    torch.load = functools.partial(torch.load, weights_only=False)
    sys.path[:0] = [str(root / "inference"), str(root)]
    os.chdir(root / "inference")
    import embed

    return embed


def _config(embed, root: Path):
    config = embed.config
    config.set_eval()
    config.bpe_path = str(root / "preprocessing" / "62languages_bpe_60000.model")
    for key, value in SMALL.items():
        setattr(config, key, value)
    return config


def _lines(embed, sentences: list[str], code: str) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(sentences) + "\n")
    try:
        return list(embed.load_data(fh.name, code, lower=True))
    finally:
        os.unlink(fh.name)


def cmd_ids(embed, root: Path, args) -> None:
    tok = embed.BPETokenizer(str(root / "preprocessing" / "62languages_bpe_60000.model"), 120)
    data = json.loads(Path(args.input).read_text(encoding="utf-8"))
    out = {code: [tok.convert_sents_to_ids(s) for s in _lines(embed, sents, code)] for code, sents in data.items()}
    Path(args.output).write_text(json.dumps(out), encoding="utf-8")


def cmd_checkpoint(embed, root: Path, args) -> None:
    import torch

    config = _config(embed, root)
    torch.manual_seed(args.seed)
    model = embed.BilingualModel(config.vocab_size, config)
    with torch.no_grad():  # LayerNorms start at 1/0: make them random too, so a wrong mapping shows
        for name, param in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                param.add_(0.1 * torch.randn_like(param))
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # DistributedDataParallel's keys
    torch.save({"epoch": 3, "step": 1234, "model_name": config.model_name, "state_dict": state,
                "best_loss": np.float64(2.5), "optimizer": {}, "valid_loss": 2.5}, args.output)


def cmd_embed(embed, root: Path, args) -> None:
    config = _config(embed, root)
    data = json.loads(Path(args.input).read_text(encoding="utf-8"))
    model = embed.Evaluator(config, "cpu").load_model(args.checkpoint)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for code, sentences in data.items():
        provider = embed.DataProvider(config, code, list(_lines(embed, sentences, code)), False, False, "eval")
        vectors = embed.Evaluator(config, "cpu").get_sentence_embeddings(provider, model)
        np.save(out / f"{code}.npy", vectors.numpy())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["ids", "checkpoint", "embed"])
    parser.add_argument("--root", required=True, help="the extracted Mao-KU/EMS archive")
    parser.add_argument("--input")
    parser.add_argument("--output", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.input = args.input and str(Path(args.input).resolve())
    args.output = str(Path(args.output).resolve())
    args.checkpoint = args.checkpoint and str(Path(args.checkpoint).resolve())
    root = Path(args.root).resolve()
    embed = _import_official(root)
    {"ids": cmd_ids, "checkpoint": cmd_checkpoint, "embed": cmd_embed}[args.command](embed, root, args)


if __name__ == "__main__":
    main()
