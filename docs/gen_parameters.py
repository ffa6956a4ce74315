"""Generate ``docs/parameters.md`` from the code's own declarations.

The tables are rendered from :data:`coinnovation_sim.parameters.PARAMETERS`, from the pydantic
models of the scenario schema (:mod:`coinnovation_sim.scenario`) and from the place-table column
declarations (:mod:`coinnovation_sim.places`), so the documentation cannot drift from the code:
``tests/test_docs.py`` fails when ``render()`` differs from the committed file.

Run ``python docs/gen_parameters.py`` after changing a declaration to rewrite the file.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from coinnovation_sim import parameters, places, scenario
from coinnovation_sim.mechanisms import REGISTRY

#: Where the generated file lives (next to this script).
OUTPUT = Path(__file__).resolve().parent / "parameters.md"

NOT_DECLARED = "*(no description declared)*"

HEADER = """\
<!-- GENERATED FILE: do not edit by hand.
     Regenerate with `python docs/gen_parameters.py`; tests/test_docs.py checks it is current. -->

# Parameters, scenario schema and place table

This page is generated from the declarations in the code, so it is always the reference for the
installed version:

* behavioural parameters: `coinnovation_sim.parameters.PARAMETERS` (set under `parameters:` in a
  scenario file);
* scenario schema: the pydantic models in `coinnovation_sim/scenario.py`;
* place table: `coinnovation_sim.places.NUMERIC_COLUMNS`, `TEXT_COLUMNS` and `FIELDS`.

Units: money in 万元 (wan, 10,000 yuan), time in months (one step = one month, step 0 = 2020-01),
talent in persons, knowledge in the model's own units (the initial mean stock of a firm is of
order 10). What each parameter does in the equations is explained in [ODD.md](ODD.md); how the
outputs are computed in [metrics.md](metrics.md).
"""

PARAM_INTRO = """\
## Behavioural parameters

*Valid range* is enforced: a scenario with a value outside it is refused with a one-line error
(exit status 2). *Plausible range* is advisory: a valid value outside it runs, with a
`PlausibilityWarning`; it is the range sweeps and sensitivity analyses should explore. Most
defaults are model assumptions awaiting calibration (the *source or assumption* column says which);
see [limitations.md](limitations.md).
"""

SCHEMA_INTRO = """\
## Scenario schema

A scenario is a YAML file read with `yaml.safe_load`. Every section rejects unknown keys and is
strict about types (a string is not accepted where a number is expected). Only `name` is required.
`extends` names a parent scenario file (relative to this one) that is deep-merged under this one;
`places` names a CSV that replaces the shipped place table; `place_overrides` replaces single
numeric values, e.g. `{wujiang: {research_strength: 12}}`; `parameters` maps the names of the
table above to values. Place lists (`members`, `issuers`, `providers`) take place ids or group
names (`demo_zone`, `jkt`, `g60`).
"""

PLACE_INTRO = """\
## Place table

One row per place; the shipped table is `src/coinnovation_sim/data/places.csv`. A scenario can
replace it (`places: my-places.csv`) or override single numeric values (`place_overrides`). Text
columns: `id` (lower-case identifier used everywhere), `name_zh` and `name_en` (names), `city`
(prefecture-level city) and `province` (these two define the boundary level crossed by a pair of
places), `groups` (semicolon-separated group ids such as `demo_zone;g60`) and `source` (where each
value comes from; estimates are labelled as such).
"""


def _cell(text: object) -> str:
    """Make text safe for a Markdown table cell.

    Parameters
    ----------
    text : object
        Cell content.

    Returns
    -------
    str
        The text on one line, with pipes escaped.
    """
    return " ".join(str(text).split()).replace("|", "\\|")


def _num(value: float, sep: str = ",") -> str:
    """Format a number compactly and exactly.

    Parameters
    ----------
    value : float
        The number.
    sep : str
        Thousands separator for whole numbers (``""`` for YAML literals).

    Returns
    -------
    str
        ``12``, ``0.012``, ``10,000`` or scientific notation for very large or small values.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == 2**63 - 1:
        return "2^63 − 1"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e7):
        return f"{int(value):,}".replace(",", sep)
    text = f"{value:g}"
    return text if float(text) == float(value) else repr(float(value))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Render a Markdown table.

    Parameters
    ----------
    header : tuple of str
        Column titles.
    rows : list of tuple of str
        Cells, already formatted.

    Returns
    -------
    str
        The table, ending with a newline.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parameter_table() -> str:
    """Table of the behavioural parameters.

    Returns
    -------
    str
        Markdown table, one row per :class:`coinnovation_sim.parameters.ParamSpec`.
    """
    rows = []
    for spec in parameters.PARAMETERS:
        valid = f"[{_num(spec.lower)}, {_num(spec.upper)}]"
        if spec.integer:
            valid += ", whole number"
        lo, hi = spec.plausible
        rows.append((f"`{spec.name}`", spec.meaning, spec.unit, _num(spec.default), valid,
                     f"[{_num(lo)}, {_num(hi)}]", spec.source))
    return _table(("name", "meaning", "unit", "default", "valid range", "plausible range",
                   "source or assumption"), rows)


def _type_name(annotation: object) -> str:
    """Readable name of a field's type annotation.

    Parameters
    ----------
    annotation : object
        The annotation from ``model_fields``.

    Returns
    -------
    str
        E.g. ``int``, ``list[str]``, ``int | None``.
    """
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = text.replace("typing.", "")
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)


def _yaml_value(value: object) -> str:
    """Render a default as a user would write it in YAML.

    Parameters
    ----------
    value : object
        A default value.

    Returns
    -------
    str
        YAML-like literal.
    """
    if value is None:
        return "`null`"
    if isinstance(value, bool | int | float):
        return f"`{_num(value, sep='')}`"
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _default(field: object) -> str:
    """Default of a pydantic field, or ``required``.

    Parameters
    ----------
    field : pydantic.fields.FieldInfo
        The field.

    Returns
    -------
    str
        Rendered default.
    """
    if field.is_required():
        return "**required**"
    if field.default is not PydanticUndefined:
        return _yaml_value(field.default)
    return _yaml_value(field.default_factory())


_CONSTRAINTS = (("ge", "≥ {}"), ("gt", "> {}"), ("le", "≤ {}"), ("lt", "< {}"),
                ("min_length", "length ≥ {}"), ("max_length", "length ≤ {}"))


def _constraints(field: object) -> str:
    """Validity constraints declared on a pydantic field.

    Parameters
    ----------
    field : pydantic.fields.FieldInfo
        The field.

    Returns
    -------
    str
        E.g. ``≥ 0, ≤ 1200, finite``; empty when unconstrained.
    """
    out = []
    for meta in field.metadata:
        for attr, fmt in _CONSTRAINTS:
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(fmt.format(_num(value)))
        if getattr(meta, "allow_inf_nan", None) is False:
            out.append("finite")
    return ", ".join(out)


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    """Pydantic models nested in an annotation such as ``list[Park]``.

    Parameters
    ----------
    annotation : object
        A field annotation.

    Returns
    -------
    list of type
        The model classes found, outermost first.
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    if isinstance(annotation, types.GenericAlias | types.UnionType) or typing.get_origin(annotation):
        for arg in typing.get_args(annotation):
            out += _nested_models(arg)
    return out


def model_table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> str:
    """Table of the fields of one schema model.

    Parameters
    ----------
    model : type
        A pydantic model class of the scenario schema.
    skip : tuple of str
        Field names to leave out (e.g. those inherited from a documented base).

    Returns
    -------
    str
        Markdown table: key, type, default, constraints, description.
    """
    rows = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        rows.append((f"`{name}`", f"`{_type_name(field.annotation)}`", _default(field),
                     _constraints(field), field.description or NOT_DECLARED))
    return _table(("key", "type", "default", "constraints", "description"), rows)


def _first_line(model: type) -> str:
    """First line of a class docstring, with reStructuredText literals turned into Markdown.

    Parameters
    ----------
    model : type
        A class.

    Returns
    -------
    str
        The summary line (empty when there is no docstring).
    """
    doc = (model.__doc__ or "").strip()
    return doc.splitlines()[0].replace("``", "`") if doc else ""


def _shared_base(classes: list[type[BaseModel]]) -> type[BaseModel]:
    """Most derived pydantic model that every mechanism section inherits from.

    Parameters
    ----------
    classes : list of type
        The mechanisms' section models.

    Returns
    -------
    type
        The common base holding the shared keys (``enabled``, ``start``, ``end``).
    """
    for base in classes[0].__mro__[1:]:
        if (isinstance(base, type) and issubclass(base, BaseModel) and base.model_fields
                and all(issubclass(c, base) for c in classes)):
            return base
    return BaseModel


def _model_section(title: str, model: type[BaseModel], intro: str, skip: tuple[str, ...] = (),
                   path: str = "") -> list[str]:
    """A schema model's table, followed by the tables of the models nested in it.

    Parameters
    ----------
    title : str
        Heading (Markdown, without the leading hashes).
    model : type
        The pydantic model.
    intro : str
        Text between heading and table.
    skip : tuple of str
        Keys to leave out of the table.
    path : str
        Dotted key path of the model in a scenario file, for nested headings.

    Returns
    -------
    list of str
        Markdown parts.
    """
    parts = [f"### {title}\n\n{intro}\n\n" + model_table(model, skip)]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        suffix = "" if isinstance(field.annotation, type) else "[]"
        for nested in _nested_models(field.annotation):
            parts.append(f"#### `{path}.{name}{suffix}`\n\n{_first_line(nested)}\n\n"
                         + model_table(nested))
    return parts


def schema_section() -> str:
    """Tables of the scenario schema: top level, population and every mechanism.

    Returns
    -------
    str
        Markdown with one table per schema model.
    """
    parts = [SCHEMA_INTRO]
    parts.append("### Top level\n\n" + _first_line(scenario.Scenario) + "\n\n"
                 + model_table(scenario.Scenario))
    parts.append("### `population`\n\n" + _first_line(scenario.Population) + "\n\n"
                 + model_table(scenario.Population))
    sections = {key: field.annotation for key, field in scenario.Mechanisms.model_fields.items()}
    shared = _shared_base(list(sections.values()))
    common = tuple(shared.model_fields)
    parts.append("### `mechanisms`: keys shared by every mechanism\n\n"
                 f"{_first_line(shared)} An off mechanism changes nothing, whatever its other keys "
                 "say.\n\n" + model_table(shared))
    for key, cls in sections.items():
        status = ("**implemented**" if key in REGISTRY else
                  "**schema only in this version**: its keys are validated, but `enabled: true` "
                  "is refused until the mechanism is implemented")
        module_doc = sys.modules[cls.__module__].__doc__
        summary = module_doc.strip().splitlines()[0].replace("``", "`") if module_doc else ""
        intro = f"{summary or _first_line(cls)} Status: {status}. Keys besides the shared ones:"
        parts += _model_section(f"`mechanisms.{key}`", cls, intro, skip=common,
                                path=f"mechanisms.{key}")
    return "\n".join(parts)


def place_section() -> str:
    """Tables of the place-table columns, technology fields and boundary levels.

    Returns
    -------
    str
        Markdown section.
    """
    num_rows = [(f"`{c}`", meaning) for c, meaning in places.NUMERIC_COLUMNS.items()
                if c not in places.MIX_COLUMNS]
    num_rows.append(("`mix_<field>`", "share of the place's firms in each technology field "
                     "(one column per field below; each row is normalised to sum to one)"))
    parts = [PLACE_INTRO,
             "Required text columns: " + ", ".join(f"`{c}`" for c in places.TEXT_COLUMNS) + ".\n",
             "Required numeric columns (all overridable with `place_overrides`; non-negative except "
             "`lat`/`lon`):\n\n" + _table(("column", "meaning"), num_rows),
             "Technology fields of the knowledge vector (`mix_<field>` columns, in this order):\n\n"
             + _table(("index", "field", "column"),
                      [(str(i), f"`{f}`", f"`mix_{f}`") for i, f in enumerate(places.FIELDS)]),
             "Boundary levels a pair of places crosses (the highest one counts):\n\n"
             + _table(("level", "name"), [(str(i), f"`{n}`") for i, n in enumerate(places.LEVELS)])]
    return "\n".join(parts)


def render() -> str:
    """Render the whole of ``docs/parameters.md``.

    Returns
    -------
    str
        The Markdown text.
    """
    return "\n".join([HEADER, PARAM_INTRO, parameter_table(), schema_section(), place_section()])


def main() -> int:
    """Write :data:`OUTPUT` and report where.

    Returns
    -------
    int
        Exit status 0.
    """
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
