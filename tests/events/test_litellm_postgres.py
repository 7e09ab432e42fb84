"""LiteLLM read straight from its PostgreSQL: a real server started for the test, the proxy's table shape.

Needs PostgreSQL's server binaries (`initdb`, `pg_ctl`; Debian: `apt-get install postgresql`) and the
`psycopg` driver; skipped, saying which is missing, without them. As root the server runs as the
`postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.events import litellm
from dagster_project.defs.events.assets import litellm_spend_logs
from tests.events.conftest import FIXTURES

psycopg = pytest.importorskip("psycopg", reason="psycopg (the LiteLLM database driver) is not installed")

# The columns of LiteLLM_SpendLogs as LiteLLM's Prisma migrations create them (schema.prisma).
SPEND_LOGS_DDL = """
create table "LiteLLM_SpendLogs" (
    "request_id" text not null primary key,
    "call_type" text not null,
    "api_key" text not null default '',
    "spend" double precision not null default 0.0,
    "total_tokens" integer not null default 0,
    "prompt_tokens" integer not null default 0,
    "completion_tokens" integer not null default 0,
    "startTime" timestamp(3) not null,
    "endTime" timestamp(3) not null,
    "completionStartTime" timestamp(3),
    "model" text not null default '',
    "model_id" text default '',
    "model_group" text default '',
    "custom_llm_provider" text default '',
    "api_base" text default '',
    "user" text default '',
    "metadata" jsonb default '{}',
    "cache_hit" text default '',
    "cache_key" text default '',
    "request_tags" jsonb default '[]',
    "team_id" text,
    "end_user" text,
    "requester_ip_address" text,
    "messages" jsonb default '{}',
    "response" jsonb default '{}',
    "session_id" text,
    "status" text
)"""


def _server_binaries() -> tuple[str, str] | None:
    found = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if all(found):
        return found[0], found[1]
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{bindir}/initdb") and os.path.exists(f"{bindir}/pg_ctl"):
            return f"{bindir}/initdb", f"{bindir}/pg_ctl"
    return None


def _unavailable(reason: str):
    """Skip on a developer machine without PostgreSQL; fail in CI, which installs it (.ci/run)."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL test: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_url():
    binaries = _server_binaries()
    if binaries is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    initdb, pg_ctl = binaries
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the PostgreSQL server as")
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="tokenspend-pg-"))
    if owner:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, port = root / "data", 54329
    subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "litellm", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
                    "-o", f"-k {root} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    url = f"postgresql://litellm@/postgres?host={root}&port={port}"
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(SPEND_LOGS_DDL)
        yield url
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _insert(url: str, rows: list[dict]) -> None:
    columns = ("request_id", "call_type", "spend", "total_tokens", "prompt_tokens", "completion_tokens", "startTime",
               "endTime", "model", "custom_llm_provider", "end_user", "metadata", "request_tags", "cache_hit", "status",
               "messages", "response")
    with psycopg.connect(url, autocommit=True) as db:
        for row in rows:
            values = []
            for c in columns:
                v = row.get(c)
                if c in ("metadata", "request_tags", "messages", "response"):
                    v = json.dumps(json.loads(v) if isinstance(v, str) else (v if v is not None else {}))
                elif c in ("startTime", "endTime"):
                    v = dt.datetime.fromisoformat(str(row.get("startTime")).replace("Z", "+00:00")).replace(tzinfo=None)
                values.append(v)
            db.execute(
                f'insert into "LiteLLM_SpendLogs" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
                f'values ({", ".join("%s" for _ in columns)})', values)


def _fixture_rows(*request_ids: str) -> list[dict]:
    rows = [json.loads(line) for line in (FIXTURES / "litellm" / "spend_logs_2026-10-05.jsonl").read_text().splitlines()]
    return [dict(r, messages=[{"role": "user", "content": "a prompt that must never leave the proxy"}])
            for r in rows if r.get("request_id") in request_ids]


def test_new_rows_are_read_from_the_proxy_database_incrementally(postgres_url, tmp_path, monkeypatch):
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(landing))
    monkeypatch.setenv(litellm.DATABASE_URL_VAR, postgres_url)
    a1, a2, a3 = (f"chatcmpl-d3cf3701b3f156eaf0b717a2cb24{i}" for i in (5, 6, 7))
    b2, cache_hit, azure = ("msg_01a1b2c3d4e5f6a7b8c9d0e1f3", "chatcmpl-d3cf3701b3f156eaf0b717a2cb250",
                            "chatcmpl-azure0000000000000000000000001")
    rows = _fixture_rows(a1, a2, a3, b2, cache_hit, azure)
    rows[0]["response"] = {"id": "chatcmpl-provider-id-a1",
                           "choices": [{"message": {"content": "a completion that must never leave the proxy"}}]}
    _insert(postgres_url, rows)

    first = dg.materialize([litellm_spend_logs], instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
    assert first.asset_materializations_for_node("raw__litellm_spend_logs")[0].metadata["rows_loaded"].value == 4
    exports = sorted(litellm.export_folder(landing).glob("*.csv"))
    assert len(exports) == 1 and "never leave the proxy" not in exports[0].read_text()
    # of the response, only the provider's id is exported
    assert "chatcmpl-provider-id-a1" in exports[0].read_text()
    with duckdb.connect(str(db)) as con:
        rows = dict(con.execute(
            "select request_id, [prompt_tokens - coalesce(cached_tokens, 0) - coalesce(cache_creation_input_tokens, 0), "
            "coalesce(cached_tokens, 0), coalesce(cache_creation_input_tokens, 0), completion_tokens] "
            "from raw.litellm_spend_logs").fetchall())
        assert rows == {a1: [1388, 1024, 0, 188], a2: [800, 0, 0, 120], a3: [1000, 0, 0, 100], b2: [500, 3000, 1000, 400]}
        assert con.execute("select max(start_time) from raw.litellm_spend_logs").fetchone()[0] == dt.datetime(2026, 10, 5, 10, 30)
        assert con.execute("select response_id from raw.litellm_spend_logs where request_id = ?",
                           [a1]).fetchone()[0] == "chatcmpl-provider-id-a1"
        assert con.execute("select reason from raw.rejected_rows").fetchall() == [("unknown provider: azure",)]

    # later: a new request, and one that started before the newest loaded row but was written late
    new, late = dict(_fixture_rows(a3)[0]), dict(_fixture_rows(a2)[0])
    new.update(request_id="chatcmpl-new000000000000000000000001", startTime="2026-10-05T11:30:00Z")
    late.update(request_id="chatcmpl-late00000000000000000000001", startTime="2026-10-05T09:45:00Z")
    _insert(postgres_url, [new, late])
    dg.materialize([litellm_spend_logs], instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
    second = sorted(set(litellm.export_folder(landing).glob("*.csv")) - set(exports))
    assert len(second) == 1
    exported_ids = {line.split(",")[0] for line in second[0].read_text().splitlines()[1:]}
    # read from the newest loaded startTime (10:30) minus the 60-minute lookback, so the late row is
    # caught; rows an earlier export already landed are left out: each row lands once
    assert exported_ids == {new["request_id"], late["request_id"]}
    with duckdb.connect(str(db)) as con:
        assert con.execute("select count(*), count(distinct request_id) from raw.litellm_spend_logs").fetchone() == (6, 6)
        assert con.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 1

    # nothing new: nothing lands
    third = dg.materialize([litellm_spend_logs], instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
    assert third.asset_materializations_for_node("raw__litellm_spend_logs")[0].metadata[
        "litellm_database_export"].value == "no new rows"
    assert len(list(litellm.export_folder(landing).glob("*.csv"))) == 2


def test_an_unreachable_database_fails_the_load_naming_the_setting_not_the_url(tmp_path):
    url = f"postgresql://litellm:s3cret@/postgres?host={tmp_path}&port=1"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema raw")
        con.execute("create table raw.litellm_spend_logs (start_time timestamp, _source_file varchar)")
        with pytest.raises(RuntimeError, match=litellm.DATABASE_URL_VAR) as error:
            litellm.export_spend_logs(con, tmp_path / "landing", url)
    assert "s3cret" not in str(error.value)
