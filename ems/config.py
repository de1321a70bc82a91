"""Load and validate configurations against ``workflow/schemas/config.schema.yaml``.

The Snakefile validates with ``snakemake.utils.validate``; the package validates the same
schema here so that the ``ems`` CLI gives the same answers outside Snakemake, with errors
that name the offending key (``train.lr``) rather than a schema path.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from ems.errors import ConfigError
from ems.io import stable_hash

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_schema() -> dict[str, Any]:
    if not SCHEMA_PATH.exists():
        raise ConfigError(
            f"config schema not found at {SCHEMA_PATH}; install the package from a clone "
            "(pip install -e .) so that workflow/ sits beside ems/"
        )
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"{key_node.start_mark.name}: key {key!r} is given twice (lines {seen[key]} and {line}); "
                              "the second would silently win: keep one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """A YAML file with no duplicate key (ConfigError naming the key and both lines) and no syntax error."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_StrictLoader)  # a SafeLoader subclass
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


def check_finite(value: Any, path: str = "") -> None:
    """ConfigError naming the key of the first number that is not finite (YAML's ``.inf``, ``.nan``):
    JSON Schema's ``number`` lets them through, and a NaN learning rate trains a NaN model."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path or 'value'}: {value} is not a finite number")
    if isinstance(value, Mapping):
        for k, v in value.items():
            check_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{path}[{i}]")


def check_results_dir(cfg: Mapping[str, Any], source: str = "config") -> None:
    """``results_dir`` is a folder or can become one: not a file, nor under a file."""
    if "results_dir" not in cfg:
        return
    path = Path(str(cfg["results_dir"])).expanduser()
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                what = "is a file" if candidate == path else f"is under the file {candidate}"
                raise ConfigError(f"invalid configuration {source}: results_dir: {cfg['results_dir']} {what}, "
                                  "not a folder")
            return


def _extend_with_defaults(validator_class: type) -> type:
    """A validator that fills ``default`` values of absent properties (as Snakemake does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for prop, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(prop, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _fill_section_defaults(cfg: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Create absent object sections so that their own defaults get filled too."""
    for key, sub in schema.get("properties", {}).items():
        is_section = isinstance(sub, dict) and sub.get("type") == "object" and "default" not in sub
        if key not in cfg and is_section and key not in schema.get("required", []):
            cfg[key] = {}
        if isinstance(cfg.get(key), dict) and isinstance(sub, dict) and sub.get("type") == "object":
            _fill_section_defaults(cfg[key], sub)


def key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "<top level>"


#: Longest reason printed per error (a wrong type of a whole section would print the section).
_MAX_REASON = 160


def _reason(err: jsonschema.ValidationError) -> str:
    """The reason of one error in a line: unknown keys named, long instance reprs cut."""
    if err.validator == "additionalProperties":
        unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key(s): {', '.join(map(repr, unknown))}"
    if err.validator in ("oneOf", "anyOf"):
        hint = err.schema.get("description")
        return f"{_short(err.instance)} is not valid here" + (f" (expected {hint})" if hint else "")
    msg = err.message
    return msg if len(msg) <= _MAX_REASON else msg[: _MAX_REASON - 3] + "..."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(validator: jsonschema.protocols.Validator, cfg: Any, what: str) -> None:
    """Raise ConfigError: one line listing (up to five) errors as ``key.path: reason``, never the schema."""
    errors = sorted(validator.iter_errors(cfg), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        parts = [f"{key_path(e)}: {_reason(e)}" for e in errors[:5]]
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ConfigError(f"invalid {what}: " + "; ".join(parts) + more)


def validate_config(config: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """The whole configuration (the workflow's, a benchmark's): :func:`sections` of every section, then the
    checks across sections (results folder, the authors' files). Returns a validated deep copy."""
    cfg = sections(config, None, what=f"configuration {source}")
    check_results_dir(cfg, source)
    check_official_inputs(cfg, source)
    return cfg


#: Where the authors publish their trained model (github Mao-KU/EMS README, "Get Started").
OFFICIAL_CHECKPOINT_URL = "https://lotus.kuee.kyoto-u.ac.jp/~zhuoyuanmao/EMS_model.pt"


def check_official_inputs(cfg: Mapping[str, Any], source: str = "config") -> None:
    """The authors' files that ``tokenizer.model: official`` and peer ``official-ems`` need are configured:
    the Mao-KU/EMS source, and a checkpoint that exists (a local path) or a URL (downloaded by a rule)."""
    official_tokenizer = cfg.get("tokenizer", {}).get("model") == "official"
    evaluation = cfg.get("evaluation", {})
    peer = "official-ems" in evaluation.get("peers", [])
    if (official_tokenizer or peer) and "ems_official" not in cfg.get("sources", {}):
        what = "tokenizer.model: official" if official_tokenizer else "peer official-ems"
        raise ConfigError(f"invalid configuration {source}: sources.ems_official: {what} needs the Mao-KU/EMS "
                          "source (copy its entry from config.yaml)")
    if not peer:
        return
    official = evaluation.get("official_ems", {})
    checkpoint = official.get("checkpoint")
    where = f"download EMS_model.pt from {OFFICIAL_CHECKPOINT_URL} (github Mao-KU/EMS README)"
    if not checkpoint:
        raise ConfigError(f"invalid configuration {source}: evaluation.official_ems.checkpoint: peer official-ems "
                          f"needs the authors' checkpoint; {where} and give its path")
    if not str(checkpoint).startswith(("http://", "https://")) and not Path(checkpoint).is_file():
        raise ConfigError(f"invalid configuration {source}: evaluation.official_ems.checkpoint: {checkpoint} does "
                          f"not exist; {where}")


def schema_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for ``schema`` that also fills ``default`` values (as Snakemake does)."""
    return _extend_with_defaults(jsonschema.validators.validator_for(schema))(schema)


def _sub_schema(schema: Mapping[str, Any], keys: tuple[str, ...] | None, strict: bool) -> dict[str, Any]:
    """The top-level schema restricted to ``keys`` (unknown names are ignored); ``None``: the whole schema."""
    if keys is None:
        return dict(schema)
    sub = {
        "type": "object",
        "$schema": schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
        "$defs": schema.get("$defs", {}),
        "properties": {k: schema["properties"][k] for k in keys if k in schema["properties"]},
    }
    if strict:
        sub["additionalProperties"] = False
    return sub


def sections(
    settings: Mapping[str, Any], names: tuple[str, ...] | None, *, what: str = "settings",
    extra_keys: tuple[str, ...] = (), strict: bool = True,
) -> dict[str, Any]:
    """The one way into the configuration: ``names`` sections of ``settings`` (and top-level ``extra_keys``),
    validated against the schema, the schema's defaults filled (absent sections included), every language
    list checked; a validated deep copy. ``names=None``: the whole configuration (the workflow's).

    Every CLI, the workflow (:func:`validate_config`) and :func:`section` come through here, so the schema
    stays the only place where defaults live. Errors are one :class:`ConfigError` line
    ``invalid <what>: key.path: reason``. ``strict``: any other top-level key is an error.
    """
    schema = load_schema()
    present = tuple(schema["properties"]) if names is None else tuple(n for n in names if n in schema["properties"])
    sub = _sub_schema(schema, None if names is None else (*present, *extra_keys), strict)
    cfg = copy.deepcopy(dict(settings))
    try:
        check_finite(cfg if names is None else {s: cfg[s] for s in (*present, *extra_keys) if s in cfg})
    except ConfigError as exc:
        raise ConfigError(f"invalid {what}: {exc}") from None
    if names is not None:
        for s in present:
            cfg.setdefault(s, {})
    _fill_section_defaults(cfg, sub)
    check(schema_validator(sub), cfg, what)
    check_language_codes(cfg, what)
    return cfg


def source_entry(value: Mapping[str, Any], what: str = "--settings (one source)") -> dict[str, Any]:
    """One entry of ``sources`` (a GitHub archive at a commit), validated against the schema's ``source``."""
    schema = load_schema()
    entry = copy.deepcopy(dict(value))
    check(schema_validator({**schema["$defs"]["source"], "$defs": schema["$defs"]}), entry, what)
    return entry


def _codes_at(cfg: Mapping[str, Any]) -> list[tuple[str, list[Any], bool]]:
    """``(key path, codes, must be canonical)`` of every language list present in ``cfg``."""
    out: list[tuple[str, list[Any], bool]] = []
    langs = (cfg.get("corpus") or {}).get("languages")
    if isinstance(langs, list):
        out.append(("corpus.languages", langs, True))
    ev = cfg.get("evaluation") or {}
    for task in ("tatoeba", "flores", "sib200"):
        langs = (ev.get(task) or {}).get("languages")
        if isinstance(langs, list):
            out.append((f"evaluation.{task}.languages", langs, False))
    mining = (cfg.get("mining") or {}).get("languages")
    if isinstance(mining, Mapping):
        out.append(("mining.languages", list(mining), False))
    for i, extra in enumerate(ev.get("extra_datasets") or []):
        langs = extra.get("languages") if isinstance(extra, Mapping) else None
        codes = list(langs.values()) if isinstance(langs, Mapping) else langs
        if isinstance(codes, list):
            out.append((f"evaluation.extra_datasets[{i}].languages", codes, True))
    return out


def check_language_codes(cfg: Mapping[str, Any], source: str = "config") -> None:
    """Every code of every language list of the config is known (canonical where the data needs it)."""
    from ems.errors import UnknownLanguageError
    from ems.languages import canonical

    for path, codes, must_be_canonical in _codes_at(cfg):
        for code in codes:
            try:
                canon = canonical(str(code))
            except UnknownLanguageError as exc:
                raise ConfigError(f"invalid configuration {source}: {path}: {exc}") from None
            if must_be_canonical and canon != code:
                raise ConfigError(f"invalid configuration {source}: {path}: {code!r} is not canonical (use {canon!r})")


T = TypeVar("T")


def section(settings: Mapping[str, Any], name: str, into: type[T] | None = None) -> Any:
    """The config section ``name`` of ``settings``, validated, with the schema's defaults filled.

    :func:`sections` for one section. With ``into`` (a dataclass whose fields are the section's
    keys) a typed object is returned, else a dict.
    Errors raise :class:`ConfigError` naming the key (``train.lr: ...``).
    """
    cfg = sections({name: settings.get(name, {})}, (name,), what=f"settings ({name!r} section)")[name]
    if into is None:
        return cfg
    return typed(into, cfg, name)


def typed(into: type[T], values: Mapping[str, Any], name: str) -> T:
    """``into(**values)`` for a dataclass, naming the section when a key has no field."""
    fields = {f.name for f in dataclasses.fields(into)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"unknown key(s) in {name}: {', '.join(unknown)}")
    missing = sorted(fields - set(values))
    if missing:  # a schema without a default for a field: a defect of the schema, not of the user
        raise ConfigError(f"{name}: no value and no schema default for {', '.join(missing)}")
    return into(**dict(values))


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config, deep-merge ``overrides``, validate and fill defaults."""
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, source=str(path))


def free_maps(schema: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Key paths of mappings whose keys the user names (``tune.space``, ``mining.languages``).

    Such a mapping is one value, not a set of options: a later config file that sets it
    replaces it (:func:`replace_free_maps`), where Snakemake would deep-merge it.
    """
    out: list[tuple[str, ...]] = []
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        path = (*prefix, key)
        if sub.get("type") == "object" and "properties" not in sub and isinstance(sub.get("additionalProperties"), Mapping):
            out.append(path)
        elif "properties" in sub:
            out.extend(free_maps(sub, path))
    return out


def _get(cfg: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(cfg, Mapping) or key not in cfg:
            return _ABSENT
        cfg = cfg[key]
    return cfg


_ABSENT = object()


def replace_free_maps(config: dict[str, Any], layers: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Give each free-form map of ``config`` the value of the last layer that sets it.

    ``layers``: (name, content) of the config files (and ``--config``) in the order they were
    merged. Snakemake deep-merges them, so ``--configfile config/smoke.yaml`` naming one
    ``tune.space`` parameter would tune the default file's three; here the smoke file's space
    replaces the default one. Returns (and logs at WARNING) one line per replaced map.
    """
    notes = []
    for path in free_maps(load_schema()):
        setters = [(name, value) for name, layer in layers if (value := _get(layer, path)) is not _ABSENT]
        if len(setters) < 2:
            continue
        name, value = setters[-1]
        parent = config
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        dropped = sorted(set(parent.get(path[-1]) or {}) - set(value or {}))
        parent[path[-1]] = copy.deepcopy(value)
        note = (f"{'.'.join(path)}: the value of {name} replaces that of {setters[-2][0]} (not merged)"
                + (f"; dropped: {', '.join(map(str, dropped))}" if dropped else ""))
        logger.warning(note)
        notes.append(note)
    return notes


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of the resolved configuration, used to tag runs."""
    return stable_hash(config)


def settings_json(value: Mapping[str, Any]) -> str:
    """Settings as sorted JSON: the one form of a rule's ``params`` (its rerun trigger) and of ``--settings``."""
    return json.dumps(value, sort_keys=True)


def parse_settings(text: str) -> dict[str, Any]:
    """Parse a JSON object handed over by a Snakemake rule (``--settings``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--settings is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError("--settings must be a JSON object")
    return value
