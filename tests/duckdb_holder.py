"""A second process that holds a DuckDB file open, as a BI tool or another build would."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HOLDER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
con.execute("select 1").fetchall()
print("held", flush=True)
for sql in sys.stdin:  # one statement a line, answered as a JSON line, until the test closes stdin
    print(json.dumps(con.execute(sql).fetchall(), default=str), flush=True)
con.close()
"""


class Holder:
    """The holding process: `query` runs SQL on its connection; `release` closes it and waits."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def query(self, sql: str) -> list:
        self.proc.stdin.write(" ".join(sql.split()) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        return json.loads(line)

    def release(self) -> None:
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def held(path: Path | str, read_only: bool = True) -> Iterator[Holder]:
    """Hold `path` open in another process (read-only or read-write) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "ro" if read_only else "rw"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    holder = Holder(proc)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "held", proc.stderr.read()
        yield holder
    finally:
        holder.release()
        proc.stdout.close()
        proc.stderr.close()
