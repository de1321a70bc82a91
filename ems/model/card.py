"""The model card (``README.md``) of a saved EMS model, in the form the Hugging Face Hub reads.

A YAML front matter (``language`` list in one code system, ``library_name: sentence-transformers``,
tags, the licence, and once evaluated a ``model-index`` of this model's results) and Markdown:
what the model is, its configuration (values as configured), languages, training data with its
content hash, the code commit, how to load it, the licence, and once evaluated the results.
Every card has a ``LICENSE.md`` beside it (``license: other``: the code is Apache-2.0, the
weights carry the terms of the corpora they were trained on, listed there).

Two folders, because a Snakemake rule may not change another rule's ``directory()`` output (and
``checksums.sha256`` would no longer match): ``models/<id>/model/`` is written by ``save_model``
at training time (card without results, pointing at the release); ``models/<id>/release/`` by the
``model_card`` rule after the evaluations (:func:`write_release`): a loadable sentence-transformers
folder whose files are hard links to the model's (a copy across devices), with the full card, its
``LICENSE.md`` and its own ``checksums.sha256``. sentence-transformers' own card
(``SentenceTransformerModelCardData``) works offline but fills a template of its trainer (dummy
example sentences, "Download from the Hub", empty training sections) and has no place for the
data hash or commit, so the card is written here.
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


#: The licence of this project's code (pyproject.toml ``license``), which wrote and converted the weights.
CODE_LICENSE = "Apache-2.0"
#: ``license: other`` on the Hub: the weights carry the terms of their training corpora (LICENSE.md).
LICENSE_NAME = "ems-weights-corpus-terms"
LICENSE_FILE = "LICENSE.md"
#: Terms of the training corpora, by ``corpus.sources`` kind (docs/data.md): (what, licence, link).
CORPUS_TERMS: dict[str, list[tuple[str, str, str]]] = {
    "opus_mt_testsets": [
        ("Tatoeba-Challenge test sets (sentences from tatoeba.org)", "CC BY 2.0 FR",
         "https://tatoeba.org/en/terms_of_use"),
        ("FLORES-1 (Nepali, Sinhala)", "CC BY-SA 4.0 (the archive's LICENSE-CC-BY-SA)",
         "https://creativecommons.org/licenses/by-sa/4.0/"),
        ("TICO-19", "CC0 1.0 (the archive's LICENSE-CC0.md)", "https://creativecommons.org/publicdomain/zero/1.0/"),
        ("WMT newstest", "no licence stated: the WMT organisers' terms (research use)", "https://www.statmt.org/"),
    ],
    "opus": [("OPUS corpus {corpus} {version}", "the licence OPUS lists for that corpus", "https://opus.nlpl.eu/")],
    "tatoeba_challenge": [("Tatoeba-Challenge training release {version} (OPUS corpora)",
                           "the licences of the OPUS corpora it bundles",
                           "https://github.com/Helsinki-NLP/Tatoeba-Challenge")],
    "tsv": [("your own corpus {name}", "its own terms", "")],
}
DEFAULT_CORPORA = ({"kind": "opus_mt_testsets"},)
OFFICIAL_REPOSITORY = "https://github.com/Mao-KU/EMS"
#: Built-in task -> (Hub task type, task name, dataset name) of the ``model-index``.
TASK_INDEX = {
    "tatoeba": ("sentence-similarity", "Bitext retrieval", "Tatoeba (LASER v1)"),
    "flores": ("sentence-similarity", "Bitext retrieval", "FLORES-200 devtest (OPUS-MT-testsets)"),
    "mining": ("sentence-similarity", "Bitext mining", "BUCC-style mining on WMT newstest"),
    "bucc2018": ("sentence-similarity", "Bitext mining", "BUCC 2018"),
    "sib200": ("text-classification", "Topic classification", "SIB-200"),
    "umsab": ("text-classification", "Sentiment classification", "UMSAB (XLM-T)"),
}


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


def _summary_keys(res: Mapping[str, Any]) -> list[str]:
    """The primary metric, then the task's other summary metrics (``<task>/<name>``; no time, no counts)."""
    metrics = res.get("metrics") or {}
    primary = res.get("primary_metric")
    keys = [primary] if primary in metrics else []
    keys += sorted(k for k, v in metrics.items() if k != primary and isinstance(v, (int, float))
                   and not isinstance(v, bool) and k.count("/") == 1 and not k.endswith("/seconds")
                   and not k.split("/", 1)[1].startswith("n_"))
    return keys


def _metric_type(key: str) -> str:
    name = key.split("/", 1)[-1].lower()
    for word, kind in (("f1", "f1"), ("acc", "accuracy"), ("precision", "precision"), ("recall", "recall"),
                       ("error", "error_rate")):
        if word in name:
            return kind
    return name


def model_index(info: Mapping[str, Any], results: Sequence[Mapping[str, Any]],
                sources: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The Hub's ``model-index``: one result per evaluation (task, dataset with the source archive's commit as
    revision, its summary metrics with the exact values of the evaluation JSON)."""
    from ems.datasets import SOURCE_ROLE

    entries = []
    for res in sorted(results, key=lambda r: str(r.get("task"))):
        task = str(res.get("task"))
        hub_type, task_label, dataset = TASK_INDEX.get(task, ("feature-extraction", "Evaluation", task))
        ds: dict[str, Any] = {"name": dataset, "type": task, "split": "test"}
        role = SOURCE_ROLE.get(task)
        src = (sources or {}).get(role) if role else None
        if src and src.get("commit"):
            ds["revision"] = f"{src['repo']}@{src['commit']}"
        metrics = [{"type": _metric_type(k), "value": float(res["metrics"][k]), "name": k}
                   for k in _summary_keys(res) if math.isfinite(float(res["metrics"][k]))]
        if metrics:
            entries.append({"task": {"type": hub_type, "name": task_label}, "dataset": ds, "metrics": metrics})
    return [{"name": str(info.get("model_id", "ems-model")), "results": entries}]


def front_matter(info: Mapping[str, Any], results: Sequence[Mapping[str, Any]] | None = None,
                 sources: Mapping[str, Any] | None = None) -> dict[str, Any]:
    langs = list(dict.fromkeys(_hub_language(c) for c in info.get("languages") or []))
    out: dict[str, Any] = {
        "language": langs, "library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity",
        "license": "other", "license_name": LICENSE_NAME, "license_link": LICENSE_FILE,
        "tags": ["sentence-transformers", "feature-extraction", "sentence-similarity", "multilingual", "ems"]}
    if results:
        out["model-index"] = model_index(info, results, sources)
    return out


def license_text(info: Mapping[str, Any], corpora: Sequence[Mapping[str, Any]] | None = None) -> str:
    """``LICENSE.md`` beside a card: the code's licence and the terms of the corpora the weights come from."""
    lines = ["# Licence", "",
             (f"The code that trained, converted and wrote this model (ems-workflow) is licensed under {CODE_LICENSE} "
             "(`pyproject.toml`). The weights are not covered by one licence: they are trained on the corpora "
             "below, whose terms apply to them. The Hub's front matter says `license: other` for that reason."), ""]
    if info.get("imported_from"):
        lines += [(f"These weights are the authors' EMS checkpoint ({OFFICIAL_REPOSITORY}, whose repository licence, "
                  "MIT, covers their code); their terms for the checkpoint and its training data apply."), ""]
        return "\n".join(lines)
    lines += ["| training corpus | licence | link |", "|---|---|---|"]
    for src in corpora or DEFAULT_CORPORA:
        fields = {k: src.get(k, "") for k in ("corpus", "version", "name")}
        for what, terms, link in CORPUS_TERMS.get(str(src.get("kind")), [(str(src.get("kind")), "unknown", "")]):
            lines.append(f"| {what.format(**fields)} | {terms} | {link} |")
    return "\n".join(lines) + "\n"


def _config_rows(settings: Mapping[str, Any]) -> list[tuple[str, Any]]:
    model, objective, train = (settings.get(k) or {} for k in ("model", "objective", "train"))
    keys = [("model", k) for k in ("layers", "hidden_size", "heads", "ffn_size", "max_positions", "lang_embedding_dim",
                                   "projection_dim")]
    keys += [("objective", k) for k in ("xtr_weight", "contrastive_weight", "temperature", "language_embedding")]
    keys += [("train", k) for k in ("batch_size", "lr", "max_steps", "warmup_steps", "seed")]
    sections = {"model": model, "objective": objective, "train": train}
    return [(f"{sec}.{key}", sections[sec][key]) for sec, key in keys if key in sections[sec]]


def _fmt(value: Any) -> str:
    """A measured number, rounded for reading (the exact value is in the ``model-index``)."""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "n/a"
    return str(value)


def _exact(value: Any) -> str:
    """A configured value as configured: Python's shortest round-trip form (``lr: 5.0e-4`` -> ``0.0005``,
    ``3e-05`` stays ``3e-05``), never rounded to another number."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "n/a"
    return str(value)


def results_section(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown of evaluation summaries (``eval/<model_id>/<task>.json``): each task's primary metric first."""
    lines = ["## Evaluation results", "",
             "Measured by this project's evaluation stage (docs/evaluation.md); accuracy and F1 are fractions in [0, 1].",
             "", "| task | metric | value |", "|---|---|---|"]
    for res in sorted(results, key=lambda r: str(r.get("task"))):
        metrics = res.get("metrics") or {}
        primary = res.get("primary_metric")
        for key in _summary_keys(res):
            lines.append(f"| {res.get('task')} | `{key}`{' (primary)' if key == primary else ''} | {_fmt(metrics[key])} |")
    return lines


def card_text(info: Mapping[str, Any], results: Sequence[Mapping[str, Any]] | None = None,
              full_card: str | None = None, sources: Mapping[str, Any] | None = None,
              corpora: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The card of a model whose ``ems_model.json`` is ``info``; with ``results`` (eval summaries) the
    full card of a release folder, else a note that the results are in ``full_card``. ``sources``: the
    config's ``sources`` (dataset revisions of the model-index); ``corpora``: its ``corpus.sources``."""
    model_id = str(info.get("model_id", "ems-model"))
    settings = info.get("settings") or {}
    langs = list(info.get("languages") or [])
    head = yaml.safe_dump(front_matter(info, results, sources), sort_keys=False, allow_unicode=True).strip()
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
    lines += [f"| `{k}` | {_exact(v)} |" for k, v in _config_rows(settings)]
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
              "model = SentenceTransformer(\"path/to/this/folder\")",
              "vectors = model.encode([\"The cat sleeps.\", \"Die Katze schläft.\"], normalize_embeddings=True)",
              "```", "", ("transformers (the same vectors: the tokenizer lower-cases and adds no special tokens; "
              "mean pooling over the attention mask):"), "", "```python", "import torch",
              "from transformers import AutoModel, AutoTokenizer", "",
              "tok = AutoTokenizer.from_pretrained(\"path/to/this/folder\")",
              "enc = AutoModel.from_pretrained(\"path/to/this/folder\").eval()",
              (f"batch = tok([\"The cat sleeps.\"], padding=True, truncation=True, max_length={info.get('max_length')}, "
              "return_tensors=\"pt\")"), "with torch.inference_mode():",
              "    h = enc(**batch).last_hidden_state", "mask = batch[\"attention_mask\"].unsqueeze(-1).float()",
              "vectors = (h * mask).sum(1) / mask.sum(1)", "```", ""]
    lines += ["## Licence", "",
              (f"`license: other` (`{LICENSE_NAME}`): the code is {CODE_LICENSE}; the weights carry the terms "
               f"of their training corpora, listed in [{LICENSE_FILE}]({LICENSE_FILE}) beside this card."), ""]
    if results:
        lines += [("This is the card of the folder it is in: a release of the trained model (weights hard-linked "
                   "to `../model/`, which keeps the card without results) with this model's evaluation results; "
                   "the front matter's `model-index` holds the same numbers unrounded."), ""]
        lines += results_section(results)
    else:
        lines += ["## Evaluation results", "",
                  (f"Not evaluated when this folder was written; the card with results is {full_card or RELEASE_CARD}, "
                   "in the release folder the workflow's `model_card` rule writes after the evaluations (the same "
                   "model, loadable the same way).")]
    return "\n".join(lines) + "\n"


#: Where the card of the model folder points: the release folder's card (ems.paths.release_dir).
RELEASE_CARD = "../release/README.md"


def write_card(path: str | os.PathLike[str], info: Mapping[str, Any],
               results: Sequence[Mapping[str, Any]] | None = None, full_card: str | None = None,
               sources: Mapping[str, Any] | None = None, corpora: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Write the card at ``path`` and its ``LICENSE.md`` beside it (its ``license_link``)."""
    from ems.io import atomic_open

    with atomic_open(Path(path).with_name(LICENSE_FILE)) as fh:
        fh.write(license_text(info, corpora))
    with atomic_open(path) as fh:
        fh.write(card_text(info, results, full_card, sources, corpora))
    return Path(path)


def _read_results(info: Mapping[str, Any], evals: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    from ems.errors import DataError
    from ems.io import read_json_input

    results = []
    for path in evals:
        res = read_json_input(path)
        if not isinstance(res, dict) or "metrics" not in res:
            raise DataError(f"{path}: not an evaluation summary (no 'metrics')")
        if info.get("model_id") and res.get("model_id") not in (None, info["model_id"]):
            raise DataError(f"{path}: results of {res.get('model_id')}, not of {info['model_id']}")
        results.append(res)
    return results


def _link_or_copy(src: Path, dst: Path) -> None:
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another device, or a file system without hard links
        shutil.copy2(src, dst)


def write_release(model_dir: str | os.PathLike[str], evals: Sequence[str | os.PathLike[str]],
                  out: str | os.PathLike[str], run_json: str | os.PathLike[str] | None = None,
                  sources: Mapping[str, Any] | None = None,
                  corpora: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """``models/<id>/release/``: the model folder ``model_dir`` (verified first) as a new loadable folder, its
    files hard links to the model's, with the card with results of the eval JSONs ``evals`` (and a
    ``model-index``), ``LICENSE.md`` and its own ``checksums.sha256``. ``model_dir`` is not changed."""
    from ems.io import atomic_dir, read_json_input
    from ems.model.io import CHECKSUMS, INFO_FILE, verify_checksums, write_checksums

    model_dir = Path(model_dir)
    info = dict(read_json_input(model_dir / INFO_FILE, hint=" (is it a saved EMS model folder?)"))
    if run_json:
        run = read_json_input(run_json)
        info.setdefault("mlflow_run_id", run.get("run_id"))
        for key in ("data_hash", "config_hash"):
            info.setdefault(key, run.get(key))
    results = _read_results(info, evals)
    verify_checksums(model_dir)
    skip = {CARD_FILE, LICENSE_FILE, CHECKSUMS}
    with atomic_dir(out) as tmp:
        for src in sorted(model_dir.rglob("*")):
            rel = src.relative_to(model_dir)
            if src.is_file() and rel.as_posix() not in skip:
                _link_or_copy(src, tmp / rel)
        write_card(tmp / CARD_FILE, info, results, sources=sources, corpora=corpora)
        write_checksums(tmp)
    logger.info("release of %s with %d evaluation results -> %s", info.get("model_id"), len(results), out)
    return Path(out)
