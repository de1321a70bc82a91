"""One canonical language code for every dataset (see docs/interfaces.md, "Language codes").

Canonical form: the ISO 639-3 code of the individual language, plus ``_<Script>`` only for
languages that our data holds in several scripts (``cmn_Hans``/``cmn_Hant``,
``srp_Cyrl``/``srp_Latn``). Datasets spell languages differently: FLORES-200 and SIB-200
always add a script (``deu_Latn``), OPUS-MT uses macrolanguages (``zho``, ``msa``, ``ara``),
ISO 639-1 appears in places (``de``), UMSAB uses English names (``german``). Every stage
maps codes through :func:`canonical` so that tables join on one key.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

from ems.errors import UnknownLanguageError

ENGLISH = "eng"

#: Macrolanguage or legacy code -> the individual language the datasets actually hold.
MACRO_TO_INDIVIDUAL: dict[str, str] = {
    "ara": "arb",  # Arabic -> Standard Arabic (FLORES ara = arb_Arab)
    "zho": "cmn",  # Chinese -> Mandarin (Tatoeba-Challenge zho lines are labelled cmn_*)
    "chi": "cmn",
    "msa": "zsm",  # Malay -> Standard Malay (FLORES msa -> zsm)
    "fas": "pes",  # Persian -> Iranian Persian
    "per": "pes",
    "lav": "lvs",  # Latvian -> Standard Latvian
    "swa": "swh",  # Swahili -> Swahili (individual)
    "uzb": "uzn",  # Uzbek -> Northern Uzbek
    "aze": "azj",  # Azerbaijani -> North Azerbaijani
    "est": "est",
    "nor": "nob",  # Norwegian -> Bokmål
    "kur": "kmr",  # Kurdish -> Northern Kurdish (Kurmanji)
    "mon": "khk",  # Mongolian -> Halh Mongolian
    "nep": "npi",  # Nepali -> Nepali (individual)
    "pus": "pbt",  # Pashto -> Southern Pashto
    "sqi": "als",  # Albanian -> Tosk Albanian
    "alb": "als",
    "yid": "ydd",  # Yiddish -> Eastern Yiddish
    "orm": "gaz",  # Oromo -> West Central Oromo
    "ori": "ory",  # Oriya -> Odia
    "que": "quy",  # Quechua -> Ayacucho Quechua (FLORES)
    "kau": "knc",  # Kanuri -> Central Kanuri
    "ful": "fuv",  # Fulah -> Nigerian Fulfulde (FLORES)
    "grn": "grn",
    "toki": "tok",  # Tatoeba's Toki Pona tag
    "ger": "deu",
    "fre": "fra",
    "dut": "nld",
}

#: English names (UMSAB folder names) -> ISO 639-3.
NAMES: dict[str, str] = {
    "arabic": "arb", "english": "eng", "french": "fra", "german": "deu", "hindi": "hin",
    "italian": "ita", "portuguese": "por", "spanish": "spa", "chinese": "cmn",
    "russian": "rus", "japanese": "jpn",
}

#: Languages whose script is part of the canonical code, with the script assumed when a
#: dataset gives none (for example Tatoeba v1 ``cmn``, FLORES ``yue``).
MULTI_SCRIPT_DEFAULT: dict[str, str] = {
    "cmn": "Hans", "yue": "Hant", "lzh": "Hant", "wuu": "Hans",
    "srp": "Cyrl", "kas": "Arab", "knc": "Latn",  # OPUS-MT kau (TICO-19) is Latin
    "min": "Latn", "bjn": "Latn",
    "ace": "Latn", "taq": "Latn", "arb": "Arab", "uzn": "Latn", "ota": "Arab",
    "lfn": "Latn",
}

#: Codes outside ISO 639-3 that datasets use as languages (ISO 639-5 collectives).
EXTRA_CODES: dict[str, str] = {
    "ber": "Berber languages",
    "kzj": "Coastal Kadazan",  # retired 2016 (merged into dtp); Tatoeba v1 keeps kzj and dtp apart
    "ajp": "South Levantine Arabic",  # retired 2023 (merged into apc); FLORES-200/SIB-200 use it
}

_CODE = re.compile(r"^(?P<lang>[a-z]{2,4})(?:[_-](?P<script>[A-Z][a-z]{3}))?(?:[_-](?P<region>[A-Z]{2}|\d{3}))?$")


@lru_cache(maxsize=1)
def iso639_3() -> dict[str, tuple[str, str, str]]:
    """ISO 639-3 table: code -> (ISO 639-1 code, scope, reference name)."""
    text = resources.files("ems").joinpath("resources/iso639_3.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader((line for line in text.splitlines() if not line.startswith("#")), delimiter="\t")
    table = {r["code"]: (r["alpha2"], r["scope"], r["name"]) for r in rows}
    for code, name in EXTRA_CODES.items():
        table.setdefault(code, ("", "C", name))
    return table


@lru_cache(maxsize=1)
def _alpha2() -> dict[str, str]:
    return {a2: code for code, (a2, _, _) in iso639_3().items() if a2}


@lru_cache(maxsize=4096)
def canonical(code: str) -> str:
    """Map any supported spelling of a language to its canonical code.

    Raises :class:`UnknownLanguageError` for codes that are not ISO 639-1/639-3 (or a
    known alias); the caller adds the file or key where the code was found.
    """
    raw = code.strip()
    if raw.lower() in NAMES:
        return _with_script(NAMES[raw.lower()], None)
    match = _CODE.match(raw)
    if not match:
        raise UnknownLanguageError(f"unknown language code {code!r}")
    lang, script = match.group("lang"), match.group("script")
    if len(lang) == 2:
        if lang not in _alpha2():
            raise UnknownLanguageError(f"unknown language code {code!r} (not ISO 639-1)")
        lang = _alpha2()[lang]
    lang = MACRO_TO_INDIVIDUAL.get(lang, lang)
    if lang not in iso639_3():
        raise UnknownLanguageError(f"unknown language code {code!r} (not ISO 639-3)")
    return _with_script(lang, script)


def _with_script(lang: str, script: str | None) -> str:
    if lang in MULTI_SCRIPT_DEFAULT:
        return f"{lang}_{script or MULTI_SCRIPT_DEFAULT[lang]}"
    return lang


def base(code: str) -> str:
    """The language without its script: ``cmn_Hans`` -> ``cmn``."""
    return canonical(code).split("_", 1)[0]


def two_letter(code: str) -> str:
    """ISO 639-1 of a language, through its macrolanguage when it has none of its own (``cmn_Hans`` -> ``zh``,
    ``arb`` -> ``ar``, ``zsm`` -> ``ms``); the ISO 639-3 code when neither has one (``kab``, ``yue``).
    The official EMS language tags (``<2zh>``) and the Hugging Face Hub's ``language`` list use these."""
    lang = base(code)
    table = iso639_3()
    alpha2 = table.get(lang, ("",))[0]
    if alpha2:
        return alpha2
    for macro, individual in MACRO_TO_INDIVIDUAL.items():
        if individual == lang and table.get(macro, ("",))[0]:
            return table[macro][0]
    return lang


def name(code: str) -> str:
    """A human-readable name for tables and figures (``cmn_Hans`` -> ``Mandarin Chinese (Hans)``)."""
    canon = canonical(code)
    lang, _, script = canon.partition("_")
    label = iso639_3()[lang][2]
    return f"{label} ({script})" if script else label

