"""Readers of the evaluation sets, each returning canonical language codes.

Used by decontamination (``ems.data.decontaminate``) and by the evaluators. Every reader
takes the extracted, verified archive folder ``results/sources/<owner>+<repo>@<commit>/``
(see docs/interfaces.md) and raises :class:`ems.errors.DataError` on malformed files.
"""

from __future__ import annotations

from ems.datasets.flores import load_flores
from ems.datasets.opus_mt import PairFile, iter_pair_files, load_newstest, newstest_sets
from ems.datasets.sib200 import load_sib200, sib200_languages
from ems.datasets.tatoeba import load_tatoeba
from ems.datasets.umsab import decode_escapes, load_umsab

#: Built-in evaluation task → the source role (config ``sources``) whose archive it reads.
SOURCE_ROLE: dict[str, str | None] = {
    "tatoeba": "laser",
    "flores": "opus_mt_testsets",
    "mining": "opus_mt_testsets",
    "sib200": "sib200",
    "umsab": "umsab",
    "bucc2018": None,
}

__all__ = [
    "SOURCE_ROLE", "PairFile", "decode_escapes", "iter_pair_files", "load_flores", "load_newstest", "load_sib200",
    "load_tatoeba", "load_umsab", "newstest_sets", "sib200_languages",
]
