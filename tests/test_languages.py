"""Language codes of every dataset map to one canonical code."""

from __future__ import annotations

import pytest

from ems.errors import UnknownLanguageError
from ems.languages import base, canonical, name


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("deu", "deu"),  # OPUS-MT, Tatoeba
        ("deu_Latn", "deu"),  # FLORES-200 / SIB-200
        ("german", "deu"),  # UMSAB
        ("de", "deu"),  # ISO 639-1
        ("cmn", "cmn_Hans"),  # Tatoeba v1, no script given
        ("zho_Hans", "cmn_Hans"),  # SIB-200 macrolanguage
        ("cmn_Hant", "cmn_Hant"),
        ("ara", "arb_Arab"),  # FLORES in OPUS-MT
        ("arb_Arab", "arb_Arab"),  # SIB-200
        ("msa", "zsm"),
        ("srp_Latn", "srp_Latn"),
        ("por_BR", "por"),  # region dropped
        ("jpn_Hira", "jpn"),  # script variants of single-script languages collapse
        ("toki", "tok"),
    ],
)
def test_canonical(code: str, expected: str) -> None:
    assert canonical(code) == expected


def test_base_and_name() -> None:
    assert base("cmn_Hant") == "cmn"
    assert name("deu_Latn") == "German"
    assert name("cmn_Hans") == "Mandarin Chinese (Hans)"


@pytest.mark.parametrize("code", ["xx", "qqq", "de-DE-x", "", "klingon"])
def test_unknown(code: str) -> None:
    with pytest.raises(UnknownLanguageError, match="unknown language code"):
        canonical(code)


def test_two_letter_goes_through_the_macrolanguage() -> None:
    from ems.languages import two_letter

    assert [two_letter(c) for c in ("deu", "arb_Arab", "cmn_Hans", "zsm", "pes", "nob", "kab", "yue_Hant")] == [
        "de", "ar", "zh", "ms", "fa", "nb", "kab", "yue"]
