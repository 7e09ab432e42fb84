"""A second process that holds a DuckDB file open, as a BI tool or another build would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
con.execute("select 1").fetchall()
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
con.close()
"""


@contextlib.contextmanager
def held(path: Path | str, read_only: bool = True) -> Iterator[subprocess.Popen]:
    """Hold `path` open in another process (read-only or read-write) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "ro" if read_only else "rw"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "held", proc.stderr.read()
        yield proc
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
