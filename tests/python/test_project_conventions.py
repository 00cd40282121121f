"""House rules checked on the project's files (no Spark, no dbt run):

- the event vocabulary (`'view'`, `'cart'`, `'purchase'`, `'remove_from_cart'`)
  is written only in staging and in the event fact; every other model, macro,
  test and analysis uses the fact's flags;
- every macro is documented in a macros.yml, and no macro holds a whole model
  (a `ref` in a macro would hide lineage from the model that calls it);
- every `ref` of a model sits in an import CTE before the first transformation;
- a var that shapes rows is read in a model's SQL, never inside a macro (an
  incremental table's stored definition names the vars of its SQL only).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# an event type as a string literal (a materialization named 'view' is not one)
EVENT_TYPE_LITERAL = re.compile(r"""(?<!materialized=)['"](view|cart|purchase|remove_from_cart)['"]""")
VOCABULARY_HOMES = {ROOT / "models" / "staging", ROOT / "models" / "marts" / "core" / "fct_events.sql",
                    ROOT / "models" / "marts" / "core" / "fct_events.yml"}


def project_files(*patterns: str) -> list[Path]:
    found = []
    for folder in ("models", "macros", "analyses", "tests/dbt"):
        for pattern in patterns:
            found += (ROOT / folder).rglob(pattern)
    return sorted(found)


def in_vocabulary_home(path: Path) -> bool:
    return any(path == home or home in path.parents for home in VOCABULARY_HOMES)


def test_event_type_literals_appear_only_in_staging_and_the_event_fact():
    offenders = []
    for path in project_files("*.sql", "*.yml", "*.md"):
        if in_vocabulary_home(path):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if EVENT_TYPE_LITERAL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "event types outside staging and fct_events:\n" + "\n".join(offenders)


def test_the_vocabulary_check_finds_a_literal():
    # the check itself can fail: a line as a mart would write it is caught
    assert EVENT_TYPE_LITERAL.search("count_if(event_type = 'purchase') as purchases")
    assert not EVENT_TYPE_LITERAL.search("case when purchases > 0 then 'purchased' end")
    assert not EVENT_TYPE_LITERAL.search("{{ config(materialized='view') }}")


def macro_names() -> dict[str, Path]:
    names = {}
    for path in (ROOT / "macros").rglob("*.sql"):
        for match in re.finditer(r"{%-?\s*(macro|test)\s+(\w+)", path.read_text()):
            names[("test_" if match.group(1) == "test" else "") + match.group(2)] = path
    return names


def test_every_macro_is_documented_in_macros_yml():
    documented = set()
    for path in (ROOT / "macros").rglob("*.yml"):
        documented |= {entry["name"] for entry in yaml.safe_load(path.read_text()).get("macros", [])}
    undocumented = sorted(set(macro_names()) - documented)
    assert not undocumented, f"macros without an entry in macros/*.yml: {undocumented}"


def test_no_macro_refers_to_a_model():
    refs = [f"{path.relative_to(ROOT)}: {m}" for path in (ROOT / "macros").rglob("*.sql")
            for m in re.findall(r"\bref\(\s*['\"][^'\"]+['\"]\s*\)", path.read_text())]
    assert not refs, "macros must stay column-level helpers; refs belong in models:\n" + "\n".join(refs)


def test_refs_sit_in_import_ctes_at_the_top_of_each_model():
    late = []
    for path in (ROOT / "models").rglob("*.sql"):
        text = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)
        ctes = re.split(r"\n(?=\w+ as \(\n)", text)
        seen_transformation = False
        for cte in ctes:
            has_ref = "ref(" in cte or "source(" in cte
            is_import = bool(re.search(r"\bfrom \{\{ (ref|source)\(", cte)) and " join " not in cte
            if has_ref and seen_transformation:
                late.append(f"{path.relative_to(ROOT)}: {cte.split(' as (')[0].strip()[:40]}")
            if not is_import and cte.strip() and " as (" in cte:
                seen_transformation = True
    assert not late, "refs after the first transformation CTE:\n" + "\n".join(late)


def documented_columns() -> dict[str, list[str]]:
    """model name -> its documented column names, in order, from every YAML file."""
    out = {}
    for path in project_files("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            out[model["name"]] = [column["name"] for column in model.get("columns", [])]
    return out


def test_python_model_outputs_are_documented_exactly_as_declared():
    from ml.outputs import OUTPUTS

    documented = documented_columns()
    python_models = {path.stem for path in (ROOT / "models").rglob("*.py")}
    declared = {schema.model for schema in OUTPUTS}
    # every Python model of the ml package writes a declared schema, and the docs list exactly its columns
    assert python_models <= declared
    for schema in OUTPUTS:
        assert documented[schema.model] == schema.columns, schema.model


def test_the_documentation_check_notices_a_missing_column():
    from ml.outputs import TRAINING_RUNS, OutputSchema

    widened = OutputSchema(TRAINING_RUNS.model, (*TRAINING_RUNS.fields, ("extra", "string")))
    assert documented_columns()[widened.model] != widened.columns


# Vars macros may read: settings of a run, not of the rows a model stores
# (which raw folder, whether data tests check every date), and the macros that
# read the vars of a model by name.
VARS_MACROS_MAY_READ = {"raw_events_path", "full_data_checks"}
MACROS_READING_VARS_BY_NAME = {"definition_hash.sql", "stored_definition.sql", "validate_project_vars.sql"}
VAR_READ = re.compile(r"\bvar\(\s*['\"]?([A-Za-z0-9_]*)")


def vars_read_in_macros(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.sql")):
        if path.name in MACROS_READING_VARS_BY_NAME:
            continue
        code = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)
        found += [f"{path.name}: var({name})" for name in VAR_READ.findall(code) if name not in VARS_MACROS_MAY_READ]
    return found


def test_vars_that_shape_rows_are_read_in_models_not_in_macros(tmp_path):
    assert vars_read_in_macros(ROOT / "macros") == [], "pass the var's value in from the model instead"
    # the check itself can fail: a macro reading a var by its name is caught
    (tmp_path / "m.sql").write_text("{% macro m() %}{{ var('session_inactivity_minutes') }}{% endmacro %}")
    assert vars_read_in_macros(tmp_path) == ["m.sql: var(session_inactivity_minutes)"]
