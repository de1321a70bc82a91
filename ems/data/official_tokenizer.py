"""The authors' tokenizer (``tokenizer.model: official``): their SentencePiece BPE and pre-tokenisation.

github Mao-KU/EMS ships ``preprocessing/62languages_bpe_60000.model`` (60,000 pieces: ``<pad>``=0,
``<unk>``=1, ``<MASK>``=2, then the 62 language tags ``<2en>``, ``<2af>``, ... ``<2zh>``) and
tokenises in ``inference/embed.py`` as: lower-case, strip, Moses / jieba / Juman++ segmentation
(:mod:`ems.data.pretokenize`), ``SentencePieceProcessor.encode_as_ids``, cut at 120 ids. The
language id of a tag is its piece id minus 3 (``preprocessing/dataset.py``), so the folder lists
its languages in tag order: the index of a language in ``ems_languages`` is the official id.

The folder holds the original model file (``sentencepiece.bpe.model``, what our code encodes
with, so the ids are the official ones) and, for ``AutoTokenizer`` and sentence-transformers, a
``tokenizer.json`` converted by transformers' SentencePiece converter (it encodes 33,245 of
33,246 lower-cased Tatoeba sentences identically, measured 2026-12-04; those loaders also need
the text pre-tokenised, see the model card).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ems.errors import ConfigError, DataError
from ems.io import atomic_dir

logger = logging.getLogger(__name__)

SPM_FILE = "sentencepiece.bpe.model"
#: The model file inside the Mao-KU/EMS repository.
REPOSITORY_MODEL = "preprocessing/62languages_bpe_60000.model"
UNK = 1
#: Piece id of the first language tag (<2en>): language id = piece id - 3 (official dataset.py).
FIRST_TAG_ID = 3


def _processor(model_file: str | os.PathLike[str]):
    try:
        import sentencepiece as spm
    except ImportError as exc:
        raise ConfigError("the official tokenizer needs its extra: pip install -e .[official]") from exc
    if not Path(model_file).is_file():
        raise DataError(f"{model_file}: no SentencePiece model file")
    try:
        return spm.SentencePieceProcessor(model_file=str(model_file))
    except (RuntimeError, OSError) as exc:
        raise DataError(f"{model_file}: not a SentencePiece model ({exc})") from exc


def official_tags(model_file: str | os.PathLike[str]) -> list[str]:
    """The model's language tags in id order (``<2en>``, ``<2af>``, ...), from its control pieces."""
    sp = _processor(model_file)
    tags = []
    for i in range(FIRST_TAG_ID, sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if not (sp.is_control(i) and piece.startswith("<2") and piece.endswith(">")):
            break
        tags.append(piece)
    if not tags:
        raise DataError(f"{model_file}: no <2xx> language tags from id {FIRST_TAG_ID}; not the EMS tokenizer")
    return tags


def _hf_tokenizer(model_file: Path):
    """The model as a ``tokenizers.Tokenizer`` (transformers' SentencePiece converter, public since 5.0)."""
    from transformers.convert_slow_tokenizer import SentencePieceExtractor, SpmConverter

    build = getattr(SpmConverter, "build_tokenizer_from_spm_proto", None)
    if build is None:
        raise ConfigError("tokenizer.model: official needs transformers>=5 (SpmConverter.build_tokenizer_from_spm_proto)")
    proto = SentencePieceExtractor(str(model_file)).proto
    return build(proto, {p.piece: i for i, p in enumerate(proto.pieces)})


def save_official_tokenizer(model_file: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                            settings: Mapping[str, Any]) -> list[str]:
    """Write the tokenizer folder (atomically) from the official model file; return its languages."""
    from transformers import PreTrainedTokenizerFast

    from ems.languages import canonical

    model_file = Path(model_file)
    tags = official_tags(model_file)
    languages = [canonical(tag[2:-1]) for tag in tags]
    fast = PreTrainedTokenizerFast(tokenizer_object=_hf_tokenizer(model_file), pad_token="<pad>", unk_token="<unk>",
                                   mask_token="<MASK>", model_max_length=int(settings["max_length"]))
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)
        shutil.copyfile(model_file, tmp / SPM_FILE)
        cfg_path = tmp / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg.update({
            "ems_lowercase": True, "ems_languages": languages, "ems_language_tags": tags, "ems_model": "official",
            "ems_pretokenize": "official", "ems_max_length": int(settings["max_length"]),
        })
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info("official tokenizer saved to %s (%d pieces, %d language tags)", out_dir, fast.vocab_size, len(tags))
    return languages


def is_official(folder: str | os.PathLike[str]) -> bool:
    """Whether a tokenizer or model folder tokenises the official way (it holds the SentencePiece model)."""
    return (Path(folder) / SPM_FILE).is_file()


def official_tokenizer(folder: str | os.PathLike[str], max_length: int) -> OfficialTokenizer | None:
    """The folder's :class:`OfficialTokenizer` when it holds the official SentencePiece model, else None
    (the one place every loader — tokenizer folders and model folders — decides it)."""
    return OfficialTokenizer(folder, max_length) if is_official(folder) else None


class OfficialTokenizer:
    """Encodes sentences of one language as the official inference: pre-tokenise, SentencePiece, truncate."""

    def __init__(self, folder: str | os.PathLike[str], max_length: int) -> None:
        self.sp = _processor(Path(folder) / SPM_FILE)
        self.max_length = int(max_length)

    def encode(self, sentences: Sequence[str], lang: str, max_length: int | None = None) -> list[list[int]]:
        """Ids of ``sentences`` (canonical language ``lang``); an empty result becomes ``[<unk>]``.

        The official code would give an empty sentence no ids (and a NaN mean); ours keeps one
        ``<unk>`` so that every sentence has a vector, as :func:`ems.data.tokenizer.encode_batch`.
        """
        from ems.data.pretokenize import official_code, pretokenize

        limit = int(max_length or self.max_length)
        texts = pretokenize(sentences, official_code(lang))
        return [ids[:limit] or [UNK] for ids in self.sp.encode(texts)]
