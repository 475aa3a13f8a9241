"""Mapping files: a CSV mapping as a JSON file, for `tandem import csv FILE --mapping FILE.json`.

The format (docs/bring-your-own-data.md#mapping-files) is the mapping as Tandem stores it, with a version:

    {"tandem_mapping": 1, "name": "...", "kind": "people", "description": "...",
     "columns": {"<CSV header>": "<field>" | "custom:<key>" | ""},
     "options": {"external_id_system", "empty", "values", "defaults", "keep_raw", "stage", "deal_id_prefix",
                 "activity_id_prefix", "duration_unit", "created_at_from_order", "outcomes"}}

`mapping_from_dict` checks everything that does not depend on the CSV file (unknown keys, fields, channels,
stages, types, default values) and names the key at fault (`options.values.original_channel.Google`) and its
value; what depends on the file (its headers) is checked when it is imported (mapping.mapping_check).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

from django.utils.text import slugify

from tandem.capture.csvimport.mapping import (
    CHANNEL_SLUGS,
    CUSTOM,
    DEAL_STAGE_WORDS,
    FALSE_VALUES,
    KIND_SLUGS,
    KINDS,
    SPECS,
    TRUE_VALUES,
    Mapping,
    RowError,
    amount_read,
    datetime_read,
    header_normalize,
)
from tandem.capture.csvimport.outcomes import order_day
from tandem.capture.csvimport.presets import PRESETS, mapping_for_headers, preset_get
from tandem.capture.csvimport.selectors import AUTO, mapping_names, mapping_stored
from tandem.core.errors import NotFound, ValidationFailed
from tandem.crm.stages import FUNNEL

FORMAT_KEY = "tandem_mapping"
FORMAT_VERSION = 1
TOP_KEYS = (FORMAT_KEY, "name", "kind", "description", "columns", "options")
OPTION_KEYS = (
    "external_id_system",
    "empty",
    "values",
    "defaults",
    "keep_raw",
    "stage",
    "deal_id_prefix",
    "activity_id_prefix",
    "duration_unit",
    "created_at_from_order",
    "outcomes",
)
OUTCOME_OPTION_KEYS = ("true_values", "false_values", "won_after_days", "pipeline", "deal_id_prefix")
ORDER_KEYS = ("column", "from", "to")
DURATION_UNITS = ("seconds", "minutes", "hours", "milliseconds")
# ExternalId.system's length.
SYSTEM_MAX = 60


def _refuse(key: str, problem: str, value: Any) -> NoReturn:
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    raise ValidationFailed(
        f"mapping key {key!r}: {problem} (got {shown[:120]!r})", field=key, value=shown[:200]
    )


def _known_keys(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            _refuse(f"{where}{key}", f"unknown key (expected one of {', '.join(allowed)})", key)


def _text(value: Any, key: str, *, max_length: int = 0, required: bool = False) -> str:
    if not isinstance(value, str):
        _refuse(key, "must be a string", value)
    if required and not value.strip():
        _refuse(key, "must not be empty", value)
    if max_length and len(value) > max_length:
        _refuse(key, f"must be at most {max_length} characters", value)
    return value


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _refuse(key, "must be a list of strings", value)
    return list(value)


def _object(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _refuse(key, "must be an object", value)
    return value


def mapping_from_dict(data: Any, *, where: str = "") -> Mapping:
    """A mapping from a mapping file's JSON object, every key and value checked (ValidationFailed naming the
    key and value otherwise)."""
    data = _object(data, "(top level)")
    _known_keys(data, TOP_KEYS, "")
    version = data.get(FORMAT_KEY, FORMAT_VERSION)
    if version != FORMAT_VERSION:
        _refuse(FORMAT_KEY, f"this Tandem reads mapping files of version {FORMAT_VERSION}", version)
    kind = data.get("kind")
    if kind not in KINDS:
        _refuse("kind", f"must be one of {', '.join(KINDS)}", kind)
    name = _text(data.get("name", where), "name", max_length=80, required=True)
    if slugify(name) != name.strip().lower() or name.strip().lower() == "auto":
        _refuse("name", "must be lower-case letters, digits and hyphens (not 'auto')", name)
    description = _text(data.get("description", ""), "description", max_length=300)
    specs = SPECS[kind]
    columns = _object(data.get("columns"), "columns")
    for header, target in columns.items():
        key = f"columns.{header}"
        if not header.strip():
            _refuse(key, "a column needs its header", header)
        target = _text(target, key)
        if target.startswith(CUSTOM):
            if not target[len(CUSTOM) :].strip():
                _refuse(key, "a custom field needs a name after 'custom:'", target)
            continue
        # A field may be listed under several headers (spellings of one tool's versions): the first the file
        # has feeds it (presets.mapping_for_headers).
        if target and target not in specs:
            _refuse(
                key, f"unknown {kind} field (expected one of {', '.join(specs)}, custom:<key> or '')", target
            )
    options = _object(data.get("options", {}), "options")
    _known_keys(options, OPTION_KEYS, "options.")
    _options_check(options, kind=kind)
    mapping = Mapping(
        name=name.strip().lower(),
        kind=kind,
        columns=dict(columns),
        options=dict(options),
        description=description,
    )
    _defaults_check(mapping)
    return mapping


def _options_check(options: dict[str, Any], *, kind: str) -> None:
    specs = SPECS[kind]
    if "external_id_system" in options:
        _text(
            options["external_id_system"], "options.external_id_system", max_length=SYSTEM_MAX, required=True
        )
    if "empty" in options:
        _strings(options["empty"], "options.empty")
    if "keep_raw" in options and not isinstance(options["keep_raw"], bool):
        _refuse("options.keep_raw", "must be true or false", options["keep_raw"])
    for key in ("deal_id_prefix", "activity_id_prefix"):
        if key in options:
            _text(options[key], f"options.{key}", max_length=40)
    if "duration_unit" in options and options["duration_unit"] not in DURATION_UNITS:
        _refuse(
            "options.duration_unit", f"must be one of {', '.join(DURATION_UNITS)}", options["duration_unit"]
        )
    if "stage" in options:
        if kind != "people":
            _refuse("options.stage", "only a people mapping moves people to a stage", options["stage"])
        if options["stage"] not in [s.value for s in FUNNEL]:
            _refuse(
                "options.stage",
                f"must be a funnel stage ({', '.join(s.value for s in FUNNEL)})",
                options["stage"],
            )
    for field_name, table in _object(options.get("values", {}), "options.values").items():
        key = f"options.values.{field_name}"
        if field_name not in specs:
            _refuse(key, f"unknown {kind} field", field_name)
        for source, target in _object(table, key).items():
            _text(target, f"{key}.{source}")
    if "defaults" in options:
        for field_name in _object(options["defaults"], "options.defaults"):
            if field_name not in specs:
                _refuse(f"options.defaults.{field_name}", f"unknown {kind} field", field_name)
    if "created_at_from_order" in options:
        order = _object(options["created_at_from_order"], "options.created_at_from_order")
        _known_keys(order, ORDER_KEYS, "options.created_at_from_order.")
        for key in ORDER_KEYS:
            if key not in order:
                _refuse(f"options.created_at_from_order.{key}", "is required", order)
        _text(order["column"], "options.created_at_from_order.column", required=True)
        if order_day(order["from"], "from") >= order_day(order["to"], "to"):
            _refuse("options.created_at_from_order.to", "must be after 'from'", order["to"])
    if "outcomes" in options:
        if kind != "people":
            _refuse("options.outcomes", "only a people mapping has outcome columns", options["outcomes"])
        _outcomes_check(_object(options["outcomes"], "options.outcomes"))


def _outcomes_check(outcomes: dict[str, Any]) -> None:
    _known_keys(outcomes, OUTCOME_OPTION_KEYS, "options.outcomes.")
    true = {
        v.strip().lower() for v in _strings(outcomes.get("true_values", []), "options.outcomes.true_values")
    }
    false = {
        v.strip().lower() for v in _strings(outcomes.get("false_values", []), "options.outcomes.false_values")
    }
    if true & false:
        _refuse(
            "options.outcomes.false_values", "a value cannot mean both yes and no", sorted(true & false)[0]
        )
    if "won_after_days" in outcomes:
        days = outcomes["won_after_days"]
        if (
            isinstance(days, bool)
            or not isinstance(days, int | float)
            or not (math.isfinite(days) and 0 <= days <= 3650)
        ):
            _refuse("options.outcomes.won_after_days", "must be a number of days from 0 to 3650", days)
    if "pipeline" in outcomes:
        _text(outcomes["pipeline"], "options.outcomes.pipeline", max_length=120, required=True)
    if "deal_id_prefix" in outcomes:
        _text(outcomes["deal_id_prefix"], "options.outcomes.deal_id_prefix", max_length=40)


def _defaults_check(mapping: Mapping) -> None:
    """Each default read as a cell of its field would be: a channel must be one (a file's unknown channel is
    `other`, a mapping's is a mistake), a date a date, a flag one of the yes/no words..."""
    options = mapping.options
    outcomes = options.get("outcomes") or {}
    flags = {
        str(v).strip().lower()
        for v in (*outcomes.get("true_values", TRUE_VALUES), *outcomes.get("false_values", FALSE_VALUES))
    }
    for name, value in (options.get("defaults") or {}).items():
        key = f"options.defaults.{name}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            _refuse(key, "must be a string or a number", value)
        text = str(value)
        mapped = str((options.get("values") or {}).get(name, {}).get(text, text))
        spec = SPECS[mapping.kind][name]
        try:
            if spec.type == "channel" and mapped not in CHANNEL_SLUGS:
                _refuse(key, f"unknown channel (expected one of {', '.join(sorted(CHANNEL_SLUGS))})", text)
            if spec.type == "kind" and mapped not in KIND_SLUGS:
                _refuse(
                    key, f"unknown touchpoint kind (expected one of {', '.join(sorted(KIND_SLUGS))})", text
                )
            if spec.type == "datetime":
                datetime_read(mapped, line=0, column=key)
            if spec.type == "amount":
                amount_read(mapped, line=0, column=key)
            if spec.type == "stage" and mapped.strip().lower() not in DEAL_STAGE_WORDS:
                _refuse(key, "unknown deal stage (expected open, won or lost)", text)
            if spec.type == "flag" and mapped.strip().lower() not in flags:
                _refuse(key, f"must be one of the yes/no words ({', '.join(sorted(flags))})", text)
            if spec.max_length and len(mapped) > spec.max_length:
                _refuse(key, f"must be at most {spec.max_length} characters", text)
        except RowError as exc:
            _refuse(key, exc.problem, text)


def mapping_file_read(*, path: Path) -> Mapping:
    """The mapping of a mapping file (ValidationFailed naming the file, and the key and value at fault)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(
            f"cannot read mapping file {path}: {exc.strerror or exc}", field="mapping", value=str(path)
        ) from None
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"mapping file {path} is not UTF-8 text", field="mapping", value=str(path)
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"mapping file {path} is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field="mapping",
            value=str(path),
        ) from None
    try:
        return mapping_from_dict(data, where=slugify(path.stem))
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"mapping file {path.name}: {exc.message}", field=exc.field, value=exc.value
        ) from None


def mapping_file_text(*, mapping: Mapping) -> str:
    """A mapping as a mapping file (pretty JSON, columns in their order)."""
    data = {FORMAT_KEY: FORMAT_VERSION, **mapping.as_dict()}
    if not data["description"]:
        data.pop("description")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def mapping_named(*, name: str, preset_only: bool = False) -> Mapping:
    """A saved mapping of this name (as built on the upload page), else the shipped preset; NotFound naming the
    ones there are. `preset_only` skips the saved ones (`--preset`)."""
    mapping = (None if preset_only else mapping_stored(name=name)) or preset_get(name)
    if mapping is None:
        known = sorted(PRESETS) if preset_only else [AUTO, *mapping_names()]
        raise NotFound(
            f"no {'preset' if preset_only else 'mapping'} named {name!r} (known: {', '.join(known)})",
            field="preset" if preset_only else "mapping",
            value=name,
        )
    return mapping


def mapping_is_file(value: str) -> bool:
    """Whether `--mapping VALUE` names a mapping file rather than a saved or shipped mapping."""
    return value.lower().endswith(".json") or "/" in value or Path(value).is_file()


def mapping_fit(*, mapping: Mapping, headers: list[str], strict: bool) -> Mapping:
    """The mapping matched to a file's headers (spelling aside: presets.mapping_for_headers). `strict` (a mapping
    file) refuses a column the file lacks, unless another column the file has feeds its field."""
    if strict:
        present = {header_normalize(h) for h in headers}
        found = {t for h, t in mapping.columns.items() if header_normalize(h) in present}
        for header, target in mapping.columns.items():
            if target and header_normalize(header) not in present and target not in found:
                shown = ", ".join(headers[:12]) + (", ..." if len(headers) > 12 else "")
                _refuse(f"columns.{header}", f"the file has no such column (its columns: {shown})", header)
        order = mapping.options.get("created_at_from_order") or {}
        if order and header_normalize(str(order["column"])) not in present:
            _refuse("options.created_at_from_order.column", "the file has no such column", order["column"])
    return mapping_for_headers(mapping=mapping, headers=headers)
