"""Save and load the trained encoder as a plain ``transformers`` + sentence-transformers folder.

``models/<model_id>/model/`` holds ``config.json`` + ``model.safetensors`` (a stock
``BertModel``), the tokenizer, and the sentence-transformers files (``modules.json``,
``sentence_bert_config.json``, ``1_Pooling/config.json`` with mean pooling). The saved
tokenizer is made self-contained: lower-casing (``ems_lowercase``) becomes a ``Lowercase``
normaliser and no special tokens are added (the shards hold none), so ``load_model``,
``AutoModel`` + ``AutoTokenizer`` and ``SentenceTransformer(path)`` give identical vectors.
``README.md`` is the model card (:mod:`ems.model.card`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BertModel, PreTrainedTokenizerFast

from ems.errors import DataError
from ems.io import atomic_dir, sha256_file
from ems.model.card import CARD_FILE, write_card
from ems.model.encoder import mean_pool

logger = logging.getLogger(__name__)

INFO_FILE = "ems_model.json"
#: sha256 of every other file of a model folder, written by save_model, checked by load_model.
CHECKSUMS = "checksums.sha256"


def lowercase_flag(tokenizer_dir: str | os.PathLike[str]) -> bool:
    cfg = Path(tokenizer_dir) / "tokenizer_config.json"
    if not cfg.exists():
        return False
    return bool(json.loads(cfg.read_text(encoding="utf-8")).get("ems_lowercase", False))


def standalone_tokenizer(tokenizer_dir: str | os.PathLike[str], max_length: int) -> PreTrainedTokenizerFast:
    """A copy of the training tokenizer that lower-cases itself and adds no special tokens."""
    from tokenizers import normalizers, processors

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    backend = tok.backend_tokenizer
    if lowercase_flag(tokenizer_dir):
        current = backend.normalizer
        backend.normalizer = (
            normalizers.Sequence([normalizers.Lowercase(), current]) if current is not None else normalizers.Lowercase()
        )
    backend.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")
    tok.model_max_length = int(max_length)
    tok.init_kwargs["ems_lowercase"] = False  # the normaliser does it now
    return tok


def _copy_official_files(tokenizer_dir: str | os.PathLike[str], out: Path) -> None:
    """The official tokenizer's SentencePiece model and ``ems_*`` keys go with the model: ``ems embed``
    tokenises with them (pre-tokenisation by language, :class:`ems.data.official_tokenizer.OfficialTokenizer`)."""
    import shutil

    from ems.data.official_tokenizer import SPM_FILE, is_official

    if not is_official(tokenizer_dir):
        return
    shutil.copyfile(Path(tokenizer_dir) / SPM_FILE, out / SPM_FILE)
    src = json.loads((Path(tokenizer_dir) / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.update({k: v for k, v in src.items() if k.startswith("ems_") and k != "ems_lowercase"})
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_model(
    encoder: BertModel,
    tokenizer_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    max_length: int,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write the model folder atomically (an existing one is replaced)."""
    hidden = int(encoder.config.hidden_size)
    with atomic_dir(out) as tmp:
        # A stock BertModel has a CLS pooler; EMS does not use it. Saving a placeholder
        # (identity, zero bias) lets AutoModel / SentenceTransformer load with no missing keys.
        state = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
        state.setdefault("pooler.dense.weight", torch.eye(hidden))
        state.setdefault("pooler.dense.bias", torch.zeros(hidden))
        encoder.save_pretrained(tmp, state_dict=state, safe_serialization=True)
        standalone_tokenizer(tokenizer_dir, max_length).save_pretrained(tmp)
        _copy_official_files(tokenizer_dir, tmp)
        (tmp / "modules.json").write_text(
            json.dumps(
                [
                    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                ],
                indent=2,
            )
        )
        (tmp / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": int(max_length), "do_lower_case": False}, indent=2)
        )
        (tmp / "1_Pooling").mkdir()
        (tmp / "1_Pooling" / "config.json").write_text(
            json.dumps(
                {
                    "word_embedding_dimension": hidden,
                    "pooling_mode_cls_token": False,
                    "pooling_mode_mean_tokens": True,
                    "pooling_mode_max_tokens": False,
                    "pooling_mode_mean_sqrt_len_tokens": False,
                    "pooling_mode_weightedmean_tokens": False,
                    "pooling_mode_lasttoken": False,
                    "include_prompt": True,
                },
                indent=2,
            )
        )
        (tmp / "config_sentence_transformers.json").write_text(
            json.dumps({"similarity_fn_name": "cosine", "prompts": {}, "default_prompt_name": None}, indent=2)
        )
        full_info = {"max_length": int(max_length), **(info or {})}
        (tmp / INFO_FILE).write_text(json.dumps(full_info, indent=2, sort_keys=True))
        write_card(tmp / CARD_FILE, full_info)  # the results come later, in ../README.md (rule model_card)
        write_checksums(tmp)
    return Path(out)


def write_checksums(folder: str | os.PathLike[str]) -> None:
    """``checksums.sha256`` (``sha256sum`` format) of every file of a model folder, written last."""
    folder = Path(folder)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}" for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name != CHECKSUMS]
    (folder / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_checksums(folder: str | os.PathLike[str]) -> None:
    """Every file listed in ``checksums.sha256`` is there, unchanged; DataError naming the first that is not.

    A folder without the file (saved before checksums were written) is loaded with a warning."""
    folder = Path(folder)
    listing = folder / CHECKSUMS
    if not listing.is_file():
        logger.warning("%s has no %s (saved by an older version): its files are not verified", folder, CHECKSUMS)
        return
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise DataError(f"{listing}, line {number}: expected '<sha256>  <file>'")
        path = folder / rel
        if not path.is_file():
            raise DataError(f"{path}: missing from the model folder (listed in {CHECKSUMS}); copy the whole folder "
                            "again or re-export the model")
        if sha256_file(path) != digest:
            raise DataError(f"{path}: changed or damaged (its sha256 differs from {CHECKSUMS}); copy the whole "
                            "folder again or re-export the model")



def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[BertModel, PreTrainedTokenizerFast, dict[str, Any]]:
    """Our loader: encoder (eval mode), its tokenizer and the ``ems_model.json`` info."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise DataError(f"{path}: not a saved EMS model folder (no config.json)")
    verify_checksums(path)
    if not (path / "tokenizer.json").is_file():  # transformers would build a 5-token tokenizer and go on
        raise DataError(f"{path / 'tokenizer.json'}: missing; the model folder has no tokenizer")
    model = BertModel.from_pretrained(str(path)).to(device).eval()  # pooler loaded, never used
    tok = AutoTokenizer.from_pretrained(str(path))
    info_path = path / INFO_FILE
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info.setdefault("max_length", int(tok.model_max_length))
    return model, tok, info


def embed_ids(
    model: BertModel,
    sentences_ids: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Mean-pooled vectors (n, H) float32 of tokenised sentences: sorted by length, batched."""
    if len(sentences_ids) == 0:
        return np.zeros((0, int(model.config.hidden_size)), dtype=np.float32)
    from ems.model.batching import encode_ids

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

    return encode_ids(forward, sentences_ids, pad_id, batch_size=batch_size, device=device)


def embed_texts(
    model: BertModel,
    tokenizer: PreTrainedTokenizerFast,
    sentences: Sequence[str],
    max_length: int,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    lang: str | None = None,
    official: Any = None,
) -> np.ndarray:
    """Tokenise (the saved tokenizer lower-cases and adds no specials) and embed. A model with the official
    tokenizer (``official``, :func:`ems.data.official_tokenizer.official_tokenizer`) is tokenised by it, per
    ``lang``."""
    if official is not None:
        if lang is None:
            raise DataError("a model with the official tokenizer pre-tokenises by language: give the language")
        ids = official.encode(list(sentences), lang, max_length)
    else:
        ids = tokenizer(list(sentences), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return embed_ids(model, ids, int(pad_id), batch_size, device)
