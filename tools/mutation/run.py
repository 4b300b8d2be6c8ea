#!/usr/bin/env python3
"""Mutation testing of the privacy- and correctness-critical code, on a catalogue of targeted mutations.

Each mutation of tools/mutation/catalogue.yaml replaces one exact snippet of one file, in a fresh copy of
the repository (the working tree is never touched: a crash or Ctrl-C leaves it as it was), then runs the
narrow tests the entry names there. A failing test run kills the mutation; a passing one means it
survived: a promise no test checks. Prints one line per mutation and the score; exit status 0 only when
every mutation was killed. See docs/mutation-testing.md.

    .venv/bin/python tools/mutation/run.py                 # the whole catalogue (docs: its wall time)
    .venv/bin/python tools/mutation/run.py --only cell-size-below-5-only,phone-dots-not-matched
    .venv/bin/python tools/mutation/run.py --list          # the catalogue, nothing run
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = Path(__file__).resolve().parent / "catalogue.yaml"
# pytest's exit codes: 0 all passed, 1 some failed; anything else (interrupted, internal or usage error,
# no test collected) says nothing about the mutation.
_PASSED, _FAILED = 0, 1


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    original: str
    replacement: str
    why: str
    tests: tuple[str, ...]
    depends_on: str | None = None


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | timeout | error
    seconds: float
    log: Path


def load_catalogue(path: Path = CATALOGUE) -> list[Mutation]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["mutations"]
    mutations = [
        Mutation(
            id=e["id"],
            file=e["file"],
            original=e["original"],
            replacement=e["replacement"],
            why=e["why"],
            tests=tuple(e["tests"]),
            depends_on=e.get("depends_on"),
        )
        for e in entries
    ]
    ids = [m.id for m in mutations]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SystemExit(f"{path}: duplicated mutation ids {duplicated}")
    return mutations


def problems(mutation: Mutation, root: Path = ROOT) -> list[str]:
    """What makes an entry unusable against the tree at `root` (a stale snippet, a missing test file)."""
    found: list[str] = []
    target = root / mutation.file
    if not target.is_file():
        return [f"{mutation.id}: no file `{mutation.file}`"]
    count = target.read_text(encoding="utf-8").count(mutation.original)
    if count != 1:
        found.append(
            f"{mutation.id}: the original snippet occurs {count} times in `{mutation.file}` (expected once)"
        )
    if mutation.original == mutation.replacement:
        found.append(f"{mutation.id}: the replacement equals the original")
    for arg in mutation.tests:
        test_file = arg.split("::", 1)[0]
        if test_file.startswith("tests/") and not (root / test_file).is_file():
            found.append(f"{mutation.id}: no test file `{test_file}`")
    return found


def _tree_files(root: Path) -> list[str]:
    """Tracked files and new files not ignored: the tree as the next commit would have it."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def copy_tree(root: Path, destination: Path) -> None:
    for name in _tree_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def _pytest(copy: Path, args: list[str], log: Path, timeout: float) -> tuple[int | None, float]:
    """Run pytest in `copy` with the repository's virtual environment; (exit code or None on timeout, s)."""
    python = ROOT / ".venv" / "bin" / "python"
    # The copy's own `ingest` package must be imported, not the editable install of the working tree:
    # `python -m pytest` puts the working directory first on sys.path, and PYTHONPATH says it again.
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [str(python), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n\n")
        out.flush()
        process = subprocess.Popen(
            command, cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)  # its own session: the dbt and S3 server children go too
            process.wait()
            code = None
        except BaseException:
            os.killpg(process.pid, 9)
            raise
    return code, time.monotonic() - started


def _check_imports(copy: Path) -> None:
    python = ROOT / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(copy)}
    where = subprocess.run(
        [str(python), "-c", "import ingest; print(ingest.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(
            f"the copy imports `ingest` from {where}, not from itself: mutations would not apply"
        )


def run_one(mutation: Mutation, logs: Path, timeout: float) -> Outcome:
    log = logs / f"{mutation.id}.log"
    with tempfile.TemporaryDirectory(prefix=f"mutation-{mutation.id}-") as tmp:
        copy = Path(tmp) / "repo"
        copy_tree(ROOT, copy)
        target = copy / mutation.file
        text = target.read_text(encoding="utf-8")
        if text.count(mutation.original) != 1:  # the tree changed since the catalogue was checked
            log.write_text(f"the original snippet is not found exactly once in {mutation.file}\n")
            return Outcome(mutation, "error", 0.0, log)
        target.write_text(text.replace(mutation.original, mutation.replacement, 1), encoding="utf-8")
        code, seconds = _pytest(copy, list(mutation.tests), log, timeout)
    if code is None:
        status = "timeout"
    elif code == _FAILED:
        status = "killed"
    elif code == _PASSED:
        status = "survived"
    else:
        status = "error"
    return Outcome(mutation, status, seconds, log)


def baseline(mutations: list[Mutation], logs: Path, timeout: float) -> None:
    """The narrow tests pass on the unmutated tree (else a 'kill' would mean nothing); one pytest run."""
    tests: list[str] = []
    for m in mutations:
        # A `-k` filter applies to the whole command line: such entries are checked one by one.
        if "-k" in m.tests:
            continue
        tests += [t for t in m.tests if t not in tests]
    filtered = [m for m in mutations if "-k" in m.tests]
    with tempfile.TemporaryDirectory(prefix="mutation-baseline-") as tmp:
        copy = Path(tmp) / "repo"
        copy_tree(ROOT, copy)
        _check_imports(copy)
        runs = [("baseline", tests)] + [(f"baseline-{m.id}", list(m.tests)) for m in filtered]
        for name, args in runs:
            if not args:
                continue
            code, seconds = _pytest(copy, args, logs / f"{name}.log", timeout)
            print(f"{name:<44} {'passed' if code == _PASSED else 'FAILED':<9} {seconds:7.0f} s", flush=True)
            if code != _PASSED:
                raise SystemExit(f"the narrow tests fail without any mutation: see {logs / (name + '.log')}")


def markdown(mutations: list[Mutation]) -> str:
    """The catalogue as a Markdown table (for docs/mutation-testing.md)."""
    lines = ["| id | file | breaks | tests |", "|---|---|---|---|"]
    for m in mutations:
        note = f" *(needs {m.depends_on})*" if m.depends_on else ""
        tests = " ".join(f"`{t}`" for t in m.tests)
        lines.append(f"| `{m.id}` | `{m.file}` | {m.why}{note} | {tests} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--only", help="comma-separated mutation ids (default: the whole catalogue)")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--markdown", action="store_true", help="print the catalogue as a Markdown table")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the tests unmutated")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per test run (default 1800)")
    parser.add_argument(
        "--logs", type=Path, default=ROOT / ".lakehouse" / "mutation", help="folder for each run's pytest log"
    )
    args = parser.parse_args(argv)
    if not (ROOT / ".venv" / "bin" / "python").is_file():
        parser.error("no virtual environment in .venv/: run `./lakehouse --help` once to build it")

    mutations = load_catalogue()
    if args.only:
        wanted = [i.strip() for i in args.only.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {m.id for m in mutations})
        if unknown:
            parser.error(f"unknown mutation ids: {', '.join(unknown)}")
        mutations = [m for m in mutations if m.id in wanted]
    if args.markdown:
        print(markdown(mutations))
        return 0
    if args.list:
        for m in mutations:
            print(f"{m.id:<44} {m.file}\n    {m.why}\n    tests: {' '.join(m.tests)}")
            if m.depends_on:
                print(f"    depends on: {m.depends_on}")
        return 0
    stale = [p for m in mutations for p in problems(m)]
    if stale:
        print(
            "The catalogue does not match the tree (update tools/mutation/catalogue.yaml):", file=sys.stderr
        )
        for p in stale:
            print(f"  {p}", file=sys.stderr)
        return 2

    args.logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if not args.no_baseline:
        baseline(mutations, args.logs, args.timeout)
    outcomes = []
    for m in mutations:
        outcome = run_one(m, args.logs, args.timeout)
        outcomes.append(outcome)
        mark = " (needs a test of another branch)" if m.depends_on and outcome.status == "survived" else ""
        print(f"{m.id:<44} {outcome.status:<9} {outcome.seconds:7.0f} s{mark}", flush=True)
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    survived = [o for o in outcomes if o.status == "survived"]
    errors = [o for o in outcomes if o.status == "error"]
    score = 100 * killed / len(outcomes) if outcomes else 100.0
    print(
        f"\n{killed} killed, {len(survived)} survived, {len(errors)} errors of {len(outcomes)} mutations: "
        f"score {score:.0f} % (wall time {time.monotonic() - started:.0f} s; logs in {args.logs})"
    )
    for o in survived + errors:
        print(f"  {o.status}: {o.mutation.id} ({o.mutation.file}): {o.mutation.why}; log {o.log}")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
