"""Run one benchmark step in its own subprocess and measure it: wall time, CPU time, peak memory.

Peak memory is the larger of two readings: the process tree's resident memory summed over the step's
process and all its descendants (sampled twice a second from /proc, so a dbt subprocess running
beside its Dagster parent counts in full), and the step process's own high-water mark (VmHWM, which
the step reports as it ends, so a short peak between two samples is not missed). The peak of each
kind of process (the step itself, dbt) is kept too, to say which one holds the memory. The kernel's
`maxrss` is not used: a child's maxrss starts at its parent's size at fork. CPU time is user plus
system time of the step and every descendant it waited for (`wait4`).

The machine may be shared, so each step also records how much CPU every other process used while it
ran (busy time from /proc/stat minus the step's own): a step that competed for the cores reads slower
than it is, and the report says so.

Progress: a step may write lines to the file named by its `progress` argument (a build writes one per
Dagster step, `cli.RunProgress`); the parent passes each new line to `echo` as it appears, and says the
step is still running when nothing was echoed for `heartbeat` seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.5


@dataclass
class Measured:
    label: str
    wall_seconds: float
    cpu_seconds: float
    peak_bytes: int
    result: dict = field(default_factory=dict)
    others_cpu_seconds: float = 0.0  # CPU time other processes used while the step ran
    peaks: dict[str, int] = field(default_factory=dict)  # peak resident bytes per kind of process

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def others_share(self) -> float:
        """Share of the machine's cores that other processes kept busy while the step ran."""
        return self.others_cpu_seconds / (self.wall_seconds * (os.cpu_count() or 1)) if self.wall_seconds else 0.0


class StepFailed(RuntimeError):
    pass


def _busy_seconds() -> float:
    """CPU time all processes have used since boot (every state but idle and iowait), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def _label(pid: int, root: int) -> str:
    """What a process of the tree is: the step itself, dbt, or another child."""
    if pid == root:
        return "step"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "other"
    return "dbt" if any(Path(a.decode(errors="replace")).name == "dbt" for a in argv[:2]) else "other"


def _tree_rss(root: int) -> tuple[int, dict[str, int]]:
    """Resident bytes of `root` and every process descended from it, in total and per kind of process
    (`_label`); processes that end between two reads are skipped."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: fields follow the last ')'
        fields_after = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields_after[1]), []).append(int(entry.name))
    tree, frontier = {root}, [root]
    while frontier:
        for pid in children.get(frontier.pop(), []):
            if pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total, by_kind = 0, {}
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss = int(f.read().split()[1]) * PAGE
        except OSError:
            continue
        total += rss
        kind = _label(pid, root)
        by_kind[kind] = by_kind.get(kind, 0) + rss
    return total, by_kind


HEARTBEAT_SECONDS = 30.0


class _NewLines:
    """The complete lines appended to a file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def __call__(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode(errors="replace").splitlines()


def run_step(label: str, step: str, args: dict, env: dict[str, str], logs: Path,
             echo: Callable[[str], None] | None = None, heartbeat: float = HEARTBEAT_SECONDS) -> Measured:
    """Run `python -m dagster_project.benchmark.steps <step> <args>`; its last stdout line is its JSON result.
    With `echo`, the step's progress lines are passed to it as they come (see the module docstring)."""
    logs.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
    out_path, err_path, progress_path = logs / f"{slug}.out", logs / f"{slug}.log", logs / f"{slug}.progress"
    if echo is not None:
        progress_path.unlink(missing_ok=True)
        args = {**args, "progress": str(progress_path)}
    new_lines = _NewLines(progress_path)
    started, busy_before = time.perf_counter(), _busy_seconds()
    last_echo = started
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.benchmark.steps", step, json.dumps(args)],
            stdout=out, stderr=err, env=env,
        )
        peak_tree, peaks = 0, {}
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            total, by_kind = _tree_rss(proc.pid)
            peak_tree = max(peak_tree, total)
            for kind, rss in by_kind.items():
                peaks[kind] = max(peaks.get(kind, 0), rss)
            if echo is not None:
                now = time.perf_counter()
                lines = new_lines()
                for line in lines:
                    echo(line)
                if lines:
                    last_echo = now
                elif now - last_echo >= heartbeat:
                    echo(f"... {label.strip()}: running for {now - started:,.0f} s")
                    last_echo = now
            time.sleep(SAMPLE_SECONDS)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if echo is not None:
        for line in new_lines():
            echo(line)
    wall, busy = time.perf_counter() - started, _busy_seconds() - busy_before
    if proc.returncode != 0:
        tail = err_path.read_text()[-4000:]
        raise StepFailed(f"{label} failed (exit {proc.returncode}); log {err_path}:\n{tail}")
    lines = out_path.read_text().strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    cpu = usage.ru_utime + usage.ru_stime
    peaks["step"] = max(peaks.get("step", 0), result.get("own_peak_bytes", 0))
    return Measured(label, wall, cpu, max(peak_tree, peaks["step"]), result,
                    others_cpu_seconds=max(busy - cpu, 0.0), peaks=peaks)
