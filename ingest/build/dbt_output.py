"""Run a dbt command as a child process and show it the way the rest of the CLI speaks: a progress bar over
the nodes (or a few progress lines without a terminal), then one summary, with dbt's full log in a file
whose path is printed. dbt writes JSON events (`--log-format json`, no colour codes), read line by line.

What a build printed before (about 1,300 lines of dbt output with ANSI colours, even into a file) is in the
log file, in dbt's own words, one line per event.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PASSED = {"success", "pass"}
FAILED = {"error", "fail", "runtime error"}
# Node kinds as dbt names them in unique ids, in the order a summary lists them.
KINDS = ("seed", "model", "snapshot", "test", "unit_test")
PROGRESS_LINES = 4  # without a terminal: a line at each quarter of the nodes
MAX_MESSAGES = 20  # dbt's error and warning messages echoed after the summary; the rest is in the log


@dataclass
class DbtRun:
    returncode: int
    log: Path
    seconds: float
    nodes: Counter[str] = field(default_factory=Counter)  # kind -> count
    statuses: Counter[str] = field(default_factory=Counter)  # dbt status -> count
    failed: list[str] = field(default_factory=list)  # "kind name (status)"
    warned: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # dbt's error/warning events, in order

    def summary(self, command: str) -> str:
        kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}{'s' if n > 1 else ''}" for k, n in self._kinds())
        passed = sum(n for s, n in self.statuses.items() if s in PASSED)
        errors = sum(n for s, n in self.statuses.items() if s in FAILED)
        parts = [f"{passed:,} passed", f"{self.statuses['warn']:,} warnings", f"{errors:,} errors"]
        for status in ("skipped", "no-op"):
            if self.statuses[status]:
                parts.append(f"{self.statuses[status]:,} {status}")
        minutes, seconds = divmod(round(self.seconds), 60)
        return f"dbt {command}: {kinds or 'no node'}: {', '.join(parts)} in {minutes}m{seconds:02d}s"

    def _kinds(self) -> list[tuple[str, int]]:
        return [(k, self.nodes[k]) for k in KINDS if self.nodes[k]] + [
            (k, n) for k, n in self.nodes.items() if k not in KINDS
        ]


def log_path(folder: Path, command: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"dbt-{command}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"


def _line(event: dict) -> str:
    info = event.get("info", {})
    stamp = str(info.get("ts", ""))[11:19]
    return f"{stamp}  {info.get('msg', '')}".rstrip()


def run(
    dbt: Path | list[str],
    command: str,
    args: list[str],
    log: Path,
    console: Console,
    run_results: Path,
    env: dict[str, str] | None = None,
) -> DbtRun:
    """Run `dbt <command> <args>`, every event into `log`, progress on `console`; counts and failures from
    dbt's run_results.json (what dbt itself decided), messages from its error and warning events."""
    started = time.monotonic()
    result = DbtRun(returncode=1, log=log, seconds=0.0)
    program = [str(dbt)] if isinstance(dbt, Path) else dbt  # the dbt executable, or a command running dbt
    argv = [*program, "--log-format", "json", "--no-use-colors", command, *args]
    interactive = console.is_terminal
    progress = Progress(
        TextColumn(f"dbt {command}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not interactive,
    )  # fmt: skip
    task = progress.add_task("nodes", total=None)
    done, total, next_report = 0, 0, 1
    with log.open("w", encoding="utf-8") as fh, progress:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:  # dbt's own crash output, a Python warning: kept as is
                fh.write(raw)
                continue
            fh.write(_line(event) + "\n")
            info, data = event.get("info", {}), event.get("data", {})
            if info.get("level") in ("warn", "error") and info.get("msg"):
                result.messages.append(str(info["msg"]))
            if info.get("name") == "LogStartLine" and data.get("total"):
                total = int(data["total"])
                progress.update(task, total=total)
            elif str(info.get("name", "")).endswith("Result") and "index" in data:
                done += 1
                progress.update(task, completed=done)
                if not interactive and total and done * PROGRESS_LINES >= next_report * total:
                    console.print(f"dbt {command}: {done:,}/{total:,} nodes", highlight=False)
                    next_report += 1
        result.returncode = proc.wait()
    result.seconds = time.monotonic() - started
    _read_results(run_results, result, since=started)
    return result


def _read_results(path: Path, result: DbtRun, since: float) -> None:
    # A run_results.json older than this run (dbt died before writing one) says nothing about it.
    if not path.exists() or path.stat().st_mtime < time.time() - (time.monotonic() - since) - 1:
        return
    for node in json.loads(path.read_text(encoding="utf-8")).get("results", []):
        kind, _, name = str(node.get("unique_id", "?.?.?")).partition(".")
        name = name.partition(".")[2] or name
        status = str(node.get("status", "")).lower()
        # The project's on-run-end hook (the build watermark) is dbt's bookkeeping, not a node the user
        # selected: it is counted only when it fails.
        if kind == "operation" and status not in FAILED:
            continue
        result.nodes[kind] += 1
        result.statuses[status] += 1
        if status in FAILED:
            result.failed.append(f"{kind} {name} ({status})")
        elif status == "warn":
            result.warned.append(f"{kind} {name}")
