"""One mechanism turns a Great Expectations suite into a Dagster asset check.

`gx_asset_check(suite, asset, sql, severity)` builds a check that
1. reads a frame from the warehouse with DuckDB (read-only). GX's SQL datasource does not work on
   DuckDB, so GX only ever sees pandas frames. When `sql` contains `{columns}`, only the columns the
   suite needs are selected: the columns its expectations and the checkpoint's index columns name,
   that exist in the relation. A column a suite names only for a schema expectation
   (`expect_table_columns_to_*`) is selected as a NULL placeholder: its presence matters, not its
   values. A column missing from the relation is left out, so GX reports it.
2. runs the suite's checkpoint (`expectations/checkpoints/<suite>.json`) on the frame, with the
   expectation parameters resolved at run time (see `expectation_parameters`);
3. builds the Data Docs page of this validation, with its styles and scripts served from the site
   so that it opens without a network (`data_docs.py`; best effort: a rendering error is logged, never
   fails the check);
4. returns an `AssetCheckResult` whose description names each failed expectation with its figure (the
   rule, how many rows broke it, the first such row) and whose metadata holds the failing
   expectations, their unexpected values and counts, the unexpected rows' index columns,
   `rows_validated` and the Data Docs path.

The GX context is the File Data Context at `settings.EXPECTATIONS_DIR`. Checks only read its JSON;
GX writes validation results and Data Docs to its git-ignored `uncommitted/` folder. GX is imported
inside the check, so loading the code location does not pay for it.

Raw tables are validated on their latest load only (`latest_load_sql`): the rows loaded since the
start of the run that last materialised the asset, or, when Dagster has no record of one, the rows
of the latest `_loaded_at`.
"""

# no `from __future__ import annotations`: Dagster checks the `context` annotation at definition time
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project import settings
from dagster_project.lib.deployment import open_warehouse

COLUMNS = "{columns}"
LOAD_STARTED_AT = "load_started_at"
SCHEMA_EXPECTATIONS = {"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"}
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list", "column_set")
RESULT_KEYS = (
    "observed_value", "element_count", "unexpected_count", "unexpected_percent", "missing_count",
    "partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list", "details",
)
SAMPLE_IN_TABLE = 5


def latest_load_sql(table: str) -> str:
    """The latest load of `raw.<table>`, as a frame SQL with a `{columns}` placeholder.

    Every loader stamps the rows it lands with `_loaded_at`, but a file load stamps each file apart,
    so "the latest load" is everything loaded since the start of the run that last materialised
    the asset (DuckDB variable `load_started_at`, set by the check), falling back to the rows of
    the latest `_loaded_at`.
    """
    return (
        f"select {COLUMNS} from raw.{table} where _loaded_at >= coalesce("
        f"getvariable('{LOAD_STARTED_AT}'), (select max(_loaded_at) from raw.{table}))"
    )


def suite_json(suite: str) -> dict:
    """The suite as it is in git (`expectations/expectations/<suite>.json`)."""
    return json.loads((settings.EXPECTATIONS_DIR / "expectations" / f"{suite}.json").read_text(encoding="utf-8"))


def index_columns(suite: str) -> list[str]:
    """The columns that identify an unexpected row, from the checkpoint's result_format."""
    path = settings.EXPECTATIONS_DIR / "checkpoints" / f"{suite}.json"
    checkpoint = json.loads(path.read_text(encoding="utf-8"))
    return checkpoint.get("result_format", {}).get("unexpected_index_column_names", [])


def data_docs_index() -> Path:
    return settings.EXPECTATIONS_DIR / "uncommitted" / "data_docs" / "local_site" / "index.html"


def suite_columns(suite: dict, index: list[str]) -> tuple[list[str], list[str]]:
    """(columns whose values the suite reads, columns it only needs to exist), in first-seen order."""
    values: list[str] = list(index)
    schema: list[str] = []
    for exp in suite.get("expectations", []):
        target = schema if exp["type"] in SCHEMA_EXPECTATIONS else values
        for key in COLUMN_KWARGS:
            named = exp.get("kwargs", {}).get(key)
            target.extend([named] if isinstance(named, str) else named or [])
    values = list(dict.fromkeys(values))
    return values, [c for c in dict.fromkeys(schema) if c not in values]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def frame_sql(con, sql: str, value_columns: list[str], schema_columns: list[str]) -> str:
    """Fill `{columns}` with the needed columns the relation has (schema-only ones as NULL placeholders)."""
    if COLUMNS not in sql:
        return sql
    present = {d[0] for d in con.execute(f"select * from ({sql.replace(COLUMNS, '*')}) limit 0").description}
    select = [_quote(c) for c in value_columns if c in present]
    select += [f"null::boolean as {_quote(c)}" for c in schema_columns if c in present]
    return sql.replace(COLUMNS, ", ".join(select) or "null::boolean as _no_column")


def expectation_parameters(suite: dict, now: dt.datetime | None = None) -> dict[str, Any]:
    """The `$PARAMETER` values of a run.

    `now_utc` is always given (ISO text, naive UTC like every warehouse timestamp). A suite declares
    its other parameters in `meta.parameters` as `{name: {"env": VAR, "default": value}}`: the JSON in
    git holds the default, and the environment variable, when set, overrides it for the run.
    """
    now = now or dt.datetime.now(dt.UTC)
    params: dict[str, Any] = {"now_utc": now.astimezone(dt.UTC).replace(tzinfo=None).isoformat()}
    for name, spec in suite.get("meta", {}).get("parameters", {}).items():
        default = spec.get("default")
        override = os.environ.get(spec.get("env") or "", "")
        if not override:
            params[name] = default
        else:
            params[name] = type(default)(override) if isinstance(default, int | float) else override
    return params


def _plain(value: Any) -> Any:
    """JSON-safe copy of a GX result value (numpy scalars, timestamps, tuples)."""
    return json.loads(json.dumps(value, default=_plain_default))


def _plain_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "exception"
    for nested in info.values():
        message = _exception_message(nested)
        if message:
            return message
    return None


def failed_expectations(validation_results) -> list[dict]:
    """One dict per failed expectation: its type, columns, parameters and what GX found."""
    failures = []
    for vr in validation_results:
        for r in vr.results:
            if r.success:
                continue
            kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
            entry = {
                "expectation": r.expectation_config.type,
                "column": next((kwargs.pop(k) for k in COLUMN_KWARGS[:3] if k in kwargs), None),
                "kwargs": kwargs,
                **{k: r.result[k] for k in RESULT_KEYS if r.result and k in r.result},
            }
            message = _exception_message(r.exception_info)
            if message:
                entry["exception"] = message
            failures.append(_plain(entry))
    return failures


def failures_markdown(failures: list[dict]) -> str:
    rows = ["| expectation | column | unexpected | sample |", "|---|---|---|---|"]
    for f in failures:
        # the unexpected rows' index columns say which rows; fall back to the values, then the rest
        sample = f.get("partial_unexpected_index_list") or f.get("partial_unexpected_list")
        if sample is None:
            sample = f.get("exception") or f.get("details") or f.get("observed_value")
        elif len(sample) > SAMPLE_IN_TABLE:
            sample = [*sample[:SAMPLE_IN_TABLE], "…"]
        cell = json.dumps(sample, default=str, ensure_ascii=False).replace("|", "\\|")
        rows.append(f"| {f['expectation']} | {f.get('column') or ''} | {f.get('unexpected_count', '')} | {cell} |")
    return "\n".join(rows)


EXAMPLE_VALUE_CHARS = 40


def _figure(value: Any) -> str:
    """A value as a person reads it: whole numbers with separators, others to 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def _rule(expectation: str, kwargs: dict) -> str:
    """What an expectation asks of its column, in a few words."""
    if expectation == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is not None and high is not None:
            return f"= {_figure(low)}" if low == high else f"between {_figure(low)} and {_figure(high)}"
        return f">= {_figure(low)}" if low is not None else f"<= {_figure(high)}"
    if expectation == "expect_column_values_to_not_be_null":
        return "not null"
    if expectation == "expect_column_values_to_be_in_set":
        values = [str(v) for v in kwargs.get("value_set", [])]
        return "in {" + ", ".join(values[:6]) + (", ..." if len(values) > 6 else "") + "}"
    if expectation == "expect_column_values_to_match_regex":
        return f"matches {kwargs.get('regex')}"
    if expectation == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{'>=' if kwargs.get('or_equal') else '>'} {kwargs.get('column_B')}"
    return expectation.removeprefix("expect_").replace("_", " ")


def describe_failure(failure: dict, rows: int | None = None) -> str:
    """One failed expectation in one line with its figure: the rule, on how many rows it broke, and the
    first breaking row's index columns (long text left out), e.g. `untagged_share <= 0.05 broken by 97 of
    120 rows, first: usage_date 2026-09-01, provider anthropic, untagged_share 0.0996`. `rows` is how many
    rows the frame stands for, when GX saw only the rows breaking a rule (`read_frame`)."""
    text = " ".join(p for p in (failure.get("column"), _rule(failure["expectation"], failure.get("kwargs", {}))) if p)
    if failure.get("exception"):
        return f"{text}: could not be evaluated ({failure['exception']})"
    if failure.get("unexpected_count") is not None:
        total = rows if rows is not None else failure.get("element_count")
        text += f" broken by {_figure(failure['unexpected_count'])} of {_figure(total)} rows"
        first = (failure.get("partial_unexpected_index_list") or [None])[0]
        if isinstance(first, dict):
            shown = [f"{k} {_figure(v)}" for k, v in first.items() if len(_figure(v)) <= EXAMPLE_VALUE_CHARS]
            text += f", first: {', '.join(shown)}" if shown else ""
        elif failure.get("partial_unexpected_list"):
            text += f", first value {_figure(failure['partial_unexpected_list'][0])}"
    elif failure.get("observed_value") is not None:
        text += f" (observed {json.dumps(failure['observed_value'], default=str)[:200]})"
    return text


def _load_started_at(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey) -> dt.datetime | None:
    """Start (naive UTC) of the run that last materialised the asset, if this instance recorded one."""
    event = context.instance.get_latest_materialization_event(asset_key)
    if event is None:
        return None
    record = context.instance.get_run_record_by_id(event.run_id)
    if record is None or record.start_time is None:
        return None
    return dt.datetime.fromtimestamp(record.start_time, dt.UTC).replace(tzinfo=None)


ROW_EXPECTATIONS = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
}


def _literal(value: Any, parameters: dict[str, Any]) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        value = parameters[value["$PARAMETER"]]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def breaking_rows_predicate(suite: dict, parameters: dict[str, Any], present: set[str]) -> str | None:
    """SQL that is true for a row breaking any of the suite's row-level expectations, or None when the
    suite has an expectation that needs every row (a `mostly`, a row count, a distribution) or names a
    column the frame lacks (GX then reports it on the frame as it is).

    A table of tens of millions of rows is then filtered by DuckDB, and GX validates only the rows that
    break a rule (with their index columns), plus the table's columns: the verdict and the failing rows
    are the same as on the whole load, without pulling the load into pandas. Nulls break only
    not-null, as in GX.
    """
    breaks = []
    for exp in suite.get("expectations", []):
        kind, kwargs = exp["type"], exp.get("kwargs", {})
        if kind in SCHEMA_EXPECTATIONS:
            continue
        if kind not in ROW_EXPECTATIONS or kwargs.get("mostly") not in (None, 1, 1.0):
            return None
        if kwargs.get("column") not in present:
            return None
        column = _quote(kwargs["column"])
        if kind == "expect_column_values_to_not_be_null":
            breaks.append(f"{column} is null")
        elif kind == "expect_column_values_to_be_in_set":
            values = ", ".join(_literal(v, parameters) for v in kwargs["value_set"])
            breaks.append(f"{column} not in ({values})")
        else:
            if kwargs.get("strict_min") or kwargs.get("strict_max"):
                return None
            if kwargs.get("min_value") is not None:
                breaks.append(f"{column} < {_literal(kwargs['min_value'], parameters)}")
            if kwargs.get("max_value") is not None:
                breaks.append(f"{column} > {_literal(kwargs['max_value'], parameters)}")
    return " or ".join(f"coalesce({b}, false)" for b in breaks) or "false"


def read_frame(sql: str, suite: dict, index: list[str], load_started_at: dt.datetime | None,
               parameters: dict[str, Any] | None = None):
    """The frame a suite validates, read with DuckDB from the warehouse (read-only), and the number of
    rows it stands for. A relation's rows (`{columns}` frames) are narrowed in DuckDB to those that break
    a row-level expectation when the suite allows it (`breaking_rows_predicate`)."""
    values, schema = suite_columns(suite, index)
    with open_warehouse(read_only=True) as con:
        con.execute(f"set variable {LOAD_STARTED_AT} = ?::timestamp", [load_started_at])
        query = frame_sql(con, sql, values, schema)
        breaking = None
        if COLUMNS in sql:
            present = {d[0] for d in con.execute(f"select * from ({query}) as frame limit 0").description}
            breaking = breaking_rows_predicate(suite, parameters or {}, present)
        if breaking is None:
            frame = con.execute(query).df()
            return frame, len(frame)
        rows = con.execute(f"select count(*) from ({query}) as frame").fetchone()[0]
        return con.execute(f"select * from ({query}) as frame where {breaking}").df(), rows


def build_docs(gx_context, checkpoint_result, log) -> dict[str, str]:
    """Render this run's validation and suite pages and the index, served offline (`data_docs.py`: the
    CDN styles and scripts replaced by the site's copies); never raises (Data Docs are best effort)."""
    try:
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        from dagster_project.defs.quality.data_docs import VENDOR, make_offline, page_path

        identifiers = []
        for vid, vr in checkpoint_result.run_results.items():
            identifiers += [vid, ExpectationSuiteIdentifier(name=vr.suite_name)]
        gx_context.build_data_docs(site_names=["local_site"], resource_identifiers=identifiers)
        index = data_docs_index()
        docs = {"data_docs": str(index)}
        urls = [[u["site_url"] for u in gx_context.get_docs_sites_urls(resource_identifier=ident, site_name="local_site")]
                for ident in identifiers]
        site = index.parent
        # a site without the copies yet was built online: every page of it is rewritten once
        first = not (site / "static" / VENDOR).is_dir()
        written = None if first else [index, *(page_path(u) for us in urls for u in us if page_path(u))]
        left = make_offline(site, written)
        if left:
            log.warning(f"Data Docs still load {len(left)} resource(s) from the network, unknown to "
                        f"expectations/data_docs_assets/assets.json: {', '.join(left)}")
        pages = urls[0] if urls else []  # the first validation's page
        if pages and pages[0]:
            docs["data_docs_validation"] = pages[0]
        return docs
    except Exception as exc:  # a docs failure must never fail the check
        log.warning(f"Data Docs were not built: {exc!r}")
        return {}


def run_suite(suite: str, frame, parameters: dict, run_name: str | None, log) -> tuple[bool, list[dict], dict]:
    """Run the suite's checkpoint on `frame`: (success, failed expectations, Data Docs locations)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    gx_context = gx.get_context(mode="file", context_root_dir=str(settings.EXPECTATIONS_DIR))
    checkpoint = gx_context.checkpoints.get(suite)
    result = checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        run_id=RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC)),
    )
    failures = failed_expectations(result.run_results.values())
    return result.success, failures, build_docs(gx_context, result, log)


def gx_asset_check(
    suite: str,
    asset: list[str],
    sql: str,
    severity: dg.AssetCheckSeverity,
) -> dg.AssetChecksDefinition:
    """An asset check named after `suite` on `asset` that validates the frame `sql` yields.

    Blocking only for an ERROR on a raw table: a broken raw contract stops the run before dbt
    builds on it; everything else reports and lets the run go on.
    """
    notes = suite_json(suite).get("notes") or ""  # also fails the code location on a missing suite
    asset_key = dg.AssetKey(asset)
    blocking = severity == dg.AssetCheckSeverity.ERROR and asset[0] == "raw"

    @dg.asset_check(
        asset=asset_key,
        name=suite,
        blocking=blocking,
        description=f"GX suite `{suite}`: {notes}".strip(),
        metadata={"gx_suite": f"expectations/expectations/{suite}.json", "severity": severity.value},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        started = time.monotonic()
        # the suite as it is now (the JSON in git), not as it was when the code location loaded
        current = suite_json(suite)
        since = _load_started_at(context, asset_key) if LOAD_STARTED_AT in sql else None
        parameters = expectation_parameters(current)
        frame, rows = read_frame(sql, current, index_columns(suite), since, parameters)
        passed, failures, docs = run_suite(suite, frame, parameters, context.op_execution_context.run_id, context.log)
        metadata: dict[str, Any] = {
            "suite": suite,
            "rows_validated": dg.MetadataValue.int(rows),
            "rows_breaking_a_rule": dg.MetadataValue.int(len(frame)),
            "expectations": dg.MetadataValue.int(len(current.get("expectations", []))),
            "expectations_failed": dg.MetadataValue.int(len(failures)),
            "parameters": dg.MetadataValue.json(_plain(parameters)),
            "seconds": dg.MetadataValue.float(round(time.monotonic() - started, 3)),
        }
        if since is not None:
            metadata["load_started_at"] = since.isoformat()
        if failures:
            metadata["failures"] = dg.MetadataValue.json(failures)
            metadata["failures_table"] = dg.MetadataValue.md(failures_markdown(failures))
        if "data_docs" in docs:
            metadata["data_docs"] = dg.MetadataValue.path(docs["data_docs"])
        if "data_docs_validation" in docs:
            metadata["data_docs_validation"] = dg.MetadataValue.url(docs["data_docs_validation"])
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            description=(
                "; ".join(describe_failure(f, rows) for f in failures) if failures
                else f"all {metadata['expectations'].value} expectation(s) passed on {rows:,} row(s)"
            ),
            metadata=metadata,
        )

    return _check
