"""The dbt project on Apache Spark, for the tests: is Spark usable here, the session settings of the dbt
`spark` target, and dbt and PySpark jobs in processes of their own, all under one temporary folder.

The Spark run needs Java 17+ and the `spark` extra (requirements-spark.lock: dbt-spark, PySpark). Without
them the Spark tests skip, saying what is missing; with TOKENSPEND_TEST_SPARK=1 (CI, `make test-spark`)
they fail instead, and TOKENSPEND_TEST_SPARK=0 skips them on a machine that has both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pytest
import yaml

from dagster_project import settings
from dagster_project.lib.raw_tables import RAW_TABLES, SPARK_TYPES, raw_columns, spark_create_statements

REQUIRED_VAR = "TOKENSPEND_TEST_SPARK"
JOB = Path(__file__).with_name("spark_job.py")
INSTALL_HINT = "make install-spark (pip install -r requirements.lock -r requirements-spark.lock)"


def java_version() -> tuple[str, int] | None:
    """(path, major version) of the Java PySpark would start, or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        return None
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if result.returncode != 0 or not found:
        return None
    major = int(found.group(1))
    return java, (int(found.group(2)) if major == 1 and found.group(2) else major)


def missing() -> str | None:
    """Why the Spark run cannot happen on this machine, or None when it can."""
    java = java_version()
    if java is None:
        return "no Java found (JAVA_HOME or java on PATH); Debian: apt-get install openjdk-17-jre-headless"
    if java[1] < 17:
        return f"{java[0]} is Java {java[1]}; PySpark 4 needs Java 17 or later (apt-get install openjdk-17-jre-headless)"
    for module, package in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (the optional `spark` extra): {INSTALL_HINT}"
    return None


def require_spark() -> None:
    """Skip (or, with TOKENSPEND_TEST_SPARK=1, fail) when Spark cannot run here, naming why."""
    setting = os.environ.get(REQUIRED_VAR, "").strip()
    if setting == "0":
        pytest.skip(f"{REQUIRED_VAR}=0: the Spark run is switched off")
    reason = missing()
    if reason is None:
        return
    if setting == "1":
        pytest.fail(f"{REQUIRED_VAR}=1 requires the Spark run, and it cannot run here: {reason}")
    pytest.skip(f"Spark run skipped: {reason}. Set {REQUIRED_VAR}=1 to make this a failure.")


def session_conf(spark_dir: Path) -> dict[str, str]:
    """The local session's settings exactly as the dbt `spark` target opens it (profiles.yml), so a
    PySpark job sees the same metastore, warehouse folder and SQL settings as dbt."""
    profile = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text())
    params = profile["tokenspend"]["outputs"]["spark"]["server_side_parameters"]
    env = spark_env(spark_dir)

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"profiles.yml reads {name}, which is not set")
        return default

    # not HTML: the values are Spark settings, rendered as dbt renders profiles.yml
    renderer = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    renderer.globals.update(env_var=env_var, var=lambda name, default=None: default)
    conf = {str(k): renderer.from_string(str(v)).render() for k, v in params.items()}
    conf["spark.sql.ansi.enabled"] = "false"  # dbt-spark sets it on every session it opens
    return conf


def spark_env(spark_dir: Path) -> dict[str, str]:
    """The environment of every Spark process of a test: the warehouse folder, no usage statistics."""
    return {**os.environ, "TOKENSPEND_SPARK_DIR": str(spark_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


@dataclass
class SparkWarehouse:
    """A warehouse on the dbt `spark` target under `root`: its metastore and tables in root/spark, a copy
    of the dbt project (the seeds folder is the repository's, linked), dbt's target and logs."""

    root: Path
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spark_dir = self.root / "spark"
        self.project_dir = self.root / "dbt_models"
        self.target = self.root / "target"
        self.spark_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(settings.DBT_PROJECT_DIR, self.project_dir,
                        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "org_seeds_*"))
        # the demo's seeds, the repository's own folder: '../seeds' from the project copy
        (self.root / "seeds").symlink_to(settings.SEEDS_DIR, target_is_directory=True)

    def _run(self, label: str, args: list[str]) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result = subprocess.run(args, cwd=self.root, env=spark_env(self.spark_dir), capture_output=True, text=True,
                                check=False)
        self.timings[label] = round(time.monotonic() - started, 1)
        return result

    def job(self, label: str, spec: dict) -> None:
        """Run spark_job.py with `spec` (plus the session settings); fail with its output if it fails."""
        path = self.root / f"{label}.json"
        path.write_text(json.dumps({**spec, "conf": session_conf(self.spark_dir)}))
        result = self._run(label, [sys.executable, str(JOB), str(path)])
        assert result.returncode == 0, f"Spark job {label} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"

    def load_raw(self, parquet_dir: Path, overwrite: bool = False) -> None:
        """Schema raw from the raw-table contract (raw_tables.spark_create_statements), each table that has
        a parquet_dir/<table>.parquet filled from it (`overwrite`: replacing its rows)."""
        tables = {
            name: {"parquet": str(parquet_dir / f"{name}.parquet"),
                   "columns": [(column, SPARK_TYPES[kind]) for column, kind, _ in raw_columns(name)]}
            for name in RAW_TABLES if (parquet_dir / f"{name}.parquet").exists()
        }
        self.job(f"load_{parquet_dir.name}", {"job": "load", "statements": spark_create_statements(),
                                              "tables": tables, "overwrite": overwrite})

    def export(self, label: str, out: Path, schema: str | None = None, tables: list[str] | None = None) -> list[str]:
        """`tables` (schema.table), or every table of `schema`, to out/<schema.table>/ as Parquet; their names."""
        out.mkdir(parents=True, exist_ok=True)
        self.job(label, {"job": "export", "schema": schema, "out": str(out), "tables": tables})
        return json.loads((out / "tables.json").read_text())

    def dbt(self, label: str, *args: str, duckdb_path: Path | None = None) -> list[dict]:
        """Run dbt on the spark target (or, given `duckdb_path`, on that DuckDB file with the same project
        copy); the run's results (run_results.json). Fails on dbt's exit code, naming every node that did
        not pass."""
        target = ["--target", "spark"] if duckdb_path is None else [
            "--vars", json.dumps({"tokenspend_duckdb_path": str(duckdb_path)})]
        results_file = self.target / "run_results.json"
        results_file.unlink(missing_ok=True)
        result = self._run(label, [
            dbt_executable(), *args, *target, "--project-dir", str(self.project_dir),
            "--profiles-dir", str(self.project_dir), "--target-path", str(self.target),
            "--log-path", str(self.root / "logs"),
        ])
        (self.root / f"{label}.log").write_text(result.stdout + result.stderr)
        results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
        bad = [f"{r['unique_id']}: {r['status']}: {(r.get('message') or '')[:300]}" for r in results
               if r["status"] not in ("success", "pass")]
        assert result.returncode == 0, (
            f"dbt {' '.join(args)} on Spark failed (log: {self.root / (label + '.log')}):\n"
            + "\n".join(bad[:20]) + "\n" + result.stdout[-5000:])
        return results
