"""The model card (``README.md``) of a saved EMS model, in the form the Hugging Face Hub reads.

A YAML front matter (``language`` list, ``library_name: sentence-transformers``, tags,
``license: unknown``) and Markdown: what the model is, its configuration, languages,
training data with its content hash, the code commit, how to load it (sentence-transformers
and plain transformers), and, once evaluated, this model's results.

Two cards, because a Snakemake rule cannot write into another rule's ``directory()`` output:
``models/<id>/model/README.md`` is written by ``save_model`` at training time (no results yet;
it points at the full card), ``models/<id>/README.md`` by the ``model_card`` rule after the
model's evaluations (the same card plus the results). sentence-transformers' own card
(``SentenceTransformerModelCardData``) works offline but fills a template of its trainer
(dummy example sentences, "Download from the Hub", empty training sections) and has no place
for the data hash or commit, so the card is written here.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

CARD_FILE = "README.md"
#: Keys of ``ems_model.json`` written by training that the card shows (see ems.train.outputs.write_model).
PROVENANCE = (("data_hash", "training shards (`meta.json` content_sha256)"),
              ("valid_data_hash", "validation shards (content_sha256)"),
              ("config_hash", "resolved settings (config_hash)"),
              ("git_commit", "code commit"))


def _hub_language(code: str) -> str:
    """ISO 639-1 where the language or its macrolanguage has one (the Hub's preference: ``arb`` -> ``ar``,
    ``cmn_Hans`` -> ``zh``), else the ISO 639-3 code; one system, not ``arb`` beside ``de``."""
    from ems.languages import UnknownLanguageError, two_letter

    try:
        return two_letter(code)
    except UnknownLanguageError:  # an unknown code is shown as it is
        return code


def _language_name(code: str) -> str:
    from ems.languages import UnknownLanguageError, name

    try:
        return name(code)
    except (UnknownLanguageError, KeyError):
        return code


def front_matter(info: Mapping[str, Any]) -> dict[str, Any]:
    langs = list(dict.fromkeys(_hub_language(c) for c in info.get("languages") or []))
    return {"language": langs, "library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity",
            "license": "unknown",
            "tags": ["sentence-transformers", "feature-extraction", "sentence-similarity", "multilingual", "ems"]}


def _config_rows(settings: Mapping[str, Any]) -> list[tuple[str, Any]]:
    model, objective, train = (settings.get(k) or {} for k in ("model", "objective", "train"))
    keys = [("model", k) for k in ("layers", "hidden_size", "heads", "ffn_size", "max_positions", "lang_embedding_dim",
                                   "projection_dim")]
    keys += [("objective", k) for k in ("xtr_weight", "contrastive_weight", "temperature", "language_embedding")]
    keys += [("train", k) for k in ("batch_size", "lr", "max_steps", "warmup_steps", "seed")]
    sections = {"model": model, "objective": objective, "train": train}
    return [(f"{sec}.{key}", sections[sec][key]) for sec, key in keys if key in sections[sec]]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "n/a"
    return str(value)


def results_section(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown of evaluation summaries (``eval/<model_id>/<task>.json``): each task's primary metric first."""
    lines = ["## Evaluation results", "",
             "Measured by this project's evaluation stage (docs/evaluation.md); accuracy and F1 are fractions in [0, 1].",
             "", "| task | metric | value |", "|---|---|---|"]
    for res in sorted(results, key=lambda r: str(r.get("task"))):
        metrics = res.get("metrics") or {}
        primary = res.get("primary_metric")
        keys = [primary] if primary in metrics else []
        keys += sorted(k for k, v in metrics.items() if k != primary and isinstance(v, (int, float))
                       and k.count("/") == 1 and not k.endswith("/seconds"))
        for key in keys:
            lines.append(f"| {res.get('task')} | `{key}`{' (primary)' if key == primary else ''} | {_fmt(metrics[key])} |")
    return lines


def card_text(info: Mapping[str, Any], results: Sequence[Mapping[str, Any]] | None = None,
              full_card: str | None = None) -> str:
    """The card of a model whose ``ems_model.json`` is ``info``; with ``results`` (eval summaries) the
    full card, else a note that the results are in ``full_card``."""
    model_id = str(info.get("model_id", "ems-model"))
    settings = info.get("settings") or {}
    langs = list(info.get("languages") or [])
    head = yaml.safe_dump(front_matter(info), sort_keys=False, allow_unicode=True).strip()
    imported = info.get("imported_from")
    intro = (("The authors' EMS model (Mao, Chu & Kurohashi, TASLP 2024; github Mao-KU/EMS), imported from their "
              f"checkpoint `{imported}` (sha256 `{info.get('checkpoint_sha256')}`, training step "
              f"{info.get('official_step')}, best dev loss {_fmt(info.get('official_best_loss'))}) by "
              "`ems import-official`; its vectors equal the official inference's (docs/paper.md).") if imported else
             ("A multilingual sentence encoder trained with this project's EMS objective (XTR token-level "
              "cross-lingual reconstruction plus a contrastive sentence-level loss, after Mao et al., EMS; "
              "docs/training.md)."))
    lines = ["---", head, "---", "", f"# EMS sentence encoder `{model_id}`", "",
             intro + " Sentence vectors are mean-pooled token states; compare them with cosine similarity.",
             "", "## Configuration", "", "| setting | value |", "|---|---|"]
    lines += [f"| `{k}` | {_fmt(v)} |" for k, v in _config_rows(settings)]
    lines += [f"| max sequence length | {info.get('max_length')} |"]
    if not imported:
        lines.append(f"| best step (dev retrieval accuracy) | {info.get('best_step')} of {info.get('steps')} "
                     f"({_fmt(info.get('best_dev_retrieval_acc'))}) |")
    lines += ["",
              "## Languages", "", (f"{len(langs)} language tags: " if imported else
                                   f"Trained on {len(langs)} languages (paired with English): ")
              + ", ".join(f"{_language_name(c)} (`{c}`)" for c in langs) + ".", "",
              "## Training data and provenance", "", "| what | value |", "|---|---|"]
    lines += [f"| {label} | `{info[key]}` |" for key, label in PROVENANCE if info.get(key)]
    if imported:
        lines += [f"| official checkpoint | `{imported}` |", f"| its sha256 | `{info.get('checkpoint_sha256')}` |"]
    if info.get("mlflow_run_id"):
        lines.append(f"| MLflow run | `{info['mlflow_run_id']}` |")
    if not imported:
        lines += ["", ("The training shards are the project's data stage output (docs/data.md); the hash is the "
                  "`content_sha256` of their `meta.json`, so a rebuilt corpus with another hash is another corpus.")]
    lines += ["",
              "## How to load", ""]
    if info.get("tokenizer") == "official":
        lines += [("**Pre-tokenise first.** This model uses the authors' tokenizer: text is lower-cased and "
                   "segmented per language (Moses; jieba for Chinese; a JUMAN-dictionary analyser for Japanese) "
                   "before SentencePiece, which the loaders below do not do. `ems embed --lang <code>` does it; "
                   "in Python, `from ems.data.pretokenize import pretokenize` and pass "
                   "`pretokenize(sentences, \"de\")` (the official two-letter code) to them."), ""]
    lines += ["sentence-transformers:", "", "```python",
              "from sentence_transformers import SentenceTransformer", "",
              "model = SentenceTransformer(\"path/to/model\")  # this folder",
              "vectors = model.encode([\"The cat sleeps.\", \"Die Katze schläft.\"], normalize_embeddings=True)",
              "```", "", ("transformers (the same vectors: the tokenizer lower-cases and adds no special tokens; "
              "mean pooling over the attention mask):"), "", "```python", "import torch",
              "from transformers import AutoModel, AutoTokenizer", "",
              "tok = AutoTokenizer.from_pretrained(\"path/to/model\")",
              "enc = AutoModel.from_pretrained(\"path/to/model\").eval()",
              (f"batch = tok([\"The cat sleeps.\"], padding=True, truncation=True, max_length={info.get('max_length')}, "
              "return_tensors=\"pt\")"), "with torch.inference_mode():",
              "    h = enc(**batch).last_hidden_state", "mask = batch[\"attention_mask\"].unsqueeze(-1).float()",
              "vectors = (h * mask).sum(1) / mask.sum(1)", "```", ""]
    if results:
        lines += results_section(results)
    else:
        lines += ["## Evaluation results", "",
                  (f"Not evaluated when this folder was written; see {full_card or '../README.md'} "
                  "(written by the workflow's `model_card` rule after the evaluations).")]
    return "\n".join(lines) + "\n"


def write_card(path: str | os.PathLike[str], info: Mapping[str, Any],
               results: Sequence[Mapping[str, Any]] | None = None, full_card: str | None = None) -> Path:
    from ems.io import atomic_open

    with atomic_open(path) as fh:
        fh.write(card_text(info, results, full_card))
    return Path(path)


def write_results_card(model_dir: str | os.PathLike[str], evals: Sequence[str | os.PathLike[str]],
                       out: str | os.PathLike[str], run_json: str | os.PathLike[str] | None = None) -> Path:
    """``models/<id>/README.md``: the card of ``model_dir`` with the results of the eval JSONs ``evals``."""
    from ems.errors import DataError
    from ems.io import read_json_input
    from ems.model.io import INFO_FILE

    info = dict(read_json_input(Path(model_dir) / INFO_FILE, hint=" (is it a saved EMS model folder?)"))
    if run_json:
        run = read_json_input(run_json)
        info.setdefault("mlflow_run_id", run.get("run_id"))
        for key in ("data_hash", "config_hash"):
            info.setdefault(key, run.get(key))
    results = []
    for path in evals:
        res = read_json_input(path)
        if not isinstance(res, dict) or "metrics" not in res:
            raise DataError(f"{path}: not an evaluation summary (no 'metrics')")
        if info.get("model_id") and res.get("model_id") not in (None, info["model_id"]):
            raise DataError(f"{path}: results of {res.get('model_id')}, not of {info['model_id']}")
        results.append(res)
    logger.info("model card of %s with %d evaluation results -> %s", info.get("model_id"), len(results), out)
    return write_card(out, info, results)
