"""What ingest does with inputs that are not extract files, with a killed run's workers, and with an S3
endpoint that dies in the middle of a run."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.exceptions import StorageError
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore, RetryPolicy, S3Settings, open_store
from ingest.landing.input_files import InputFileError
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, diagnosis_row, write_extract
from tests.test_storage import _FaultProxy


def _ingest(tmp_path: Path, *inputs: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ingest", *inputs, "--lake", str(tmp_path / "lake")], env=env)
    return result.exit_code, result.output


def _lake_listing(tmp_path: Path) -> list[str]:
    lake = tmp_path / "lake"
    return sorted(str(p.relative_to(lake)) for p in lake.rglob("*")) if lake.exists() else []


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "link_to_device", "fifo_in_folder"])
def test_inputs_that_are_not_files_are_refused_by_name(
    tmp_path: Path, keystore: LocalKeyStore, kind: str
) -> None:
    folder = tmp_path / "in"
    good = write_extract(folder, "actes", [act_row("1")])
    if kind == "dev_zero":
        target = Path("/dev/zero")
    elif kind == "link_to_device":
        target = folder / "A75001_20240116_actes.csv"
        target.symlink_to("/dev/zero")
    else:
        target = folder / "A75001_20240116_actes.csv"
        os.mkfifo(target)
    inputs = [str(folder)] if kind == "fifo_in_folder" else [str(good), str(target)]

    # A reader of /dev/zero never stops, and opening a FIFO blocks: the test itself would hang.
    code, output = _ingest(tmp_path, *inputs)

    assert code == 2, output
    (line,) = output.strip().splitlines()
    assert line.startswith(f"Error: `{target}` is a ") and "not an extract file" in line
    assert _lake_listing(tmp_path) == []  # the good file was not landed either: nothing was written


def test_a_folder_named_like_a_file_is_searched_not_read(tmp_path: Path, keystore: LocalKeyStore) -> None:
    folder = tmp_path / "A75001_20240115_actes.csv"
    write_extract(folder, "actes", [act_row("1")])
    with pytest.raises(InputFileError, match="is a folder"):
        Ingestor(open_store(tmp_path / "lake"), keystore).run([folder])
    code, output = _ingest(tmp_path, str(folder))
    assert code == 0 and "1 files" in output


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(
    tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = write_extract(tmp_path / "in", "actes", [act_row(str(i)) for i in range(40)])
    size = big.stat().st_size
    monkeypatch.setenv("LAKEHOUSE_MAX_EXTRACT_BYTES", str(size - 1))
    code, output = _ingest(tmp_path, str(big))
    assert code == 2 and f"`{big}` is {size:,} bytes, over the {size - 1:,}-byte cap" in output
    assert "LAKEHOUSE_MAX_EXTRACT_BYTES" in output and _lake_listing(tmp_path) == []

    monkeypatch.setenv("LAKEHOUSE_MAX_EXTRACT_BYTES", str(size))
    assert _ingest(tmp_path, str(big))[0] == 0

    monkeypatch.setenv("LAKEHOUSE_MAX_EXTRACT_BYTES", "lots")
    code, output = _ingest(tmp_path, str(big))
    assert code == 2 and "LAKEHOUSE_MAX_EXTRACT_BYTES must be a positive number" in output


# ------------------------------------------------------------------------------- killed run, workers


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_workers_die_with_a_killed_ingest(tmp_path: Path, keystore: LocalKeyStore) -> None:
    folder = tmp_path / "in"
    for day in range(1, 23):  # 88 files: enough for the worker pool (a handful is read in-process)
        dd = f"{day:02d}/01/2024"
        for assoc in ("A75001", "A13001"):
            acts = [act_row(f"{day}-{i}", date_appel=dd, date_debut=dd, date_fin=dd) for i in range(300)]
            write_extract(folder, "actes", acts, association=assoc, day=f"202401{day:02d}")
            diags = [diagnosis_row(f"{day}-{i}") for i in range(300)]
            write_extract(folder, "diagnostics", diags, association=assoc, day=f"202401{day:02d}")
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(keystore.path)}
    cmd = [sys.executable, "-m", "ingest.cli", "ingest", str(folder), "--lake", str(tmp_path / "lake")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.01)
    assert len(workers) >= 2, "the run should have started its worker processes"

    proc.send_signal(signal.SIGKILL)
    proc.wait()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # do not leave them behind even when the test fails
        os.kill(w, signal.SIGKILL)
    assert survivors == []


# ------------------------------------------------------------------------------------ S3 endpoint dies


class _DyingProxy(_FaultProxy):
    """A proxy in front of moto that stops answering (connections dropped) once the lake has received
    `allowed` data-file writes: the endpoint dies in the middle of an ingest."""

    def __init__(self, upstream: str, allowed: int) -> None:
        super().__init__(upstream, failures=0, status=0, code="")
        self.allowed = allowed
        self.dead = False

    def should_fail(self, command: str, path: str) -> bool:
        if command == "PUT" and "/raw/" in path and not self.dead:
            self.allowed -= 1
            self.dead = self.allowed < 0
        return self.dead


def test_s3_dying_mid_ingest_reports_the_first_write_error(
    moto_server: str, s3_store: ObjectStore, s3_settings: S3Settings, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    paths = []
    for d in range(1, 6):
        dd = f"{d:02d}/01/2024"
        act = act_row(f"{d}-1", date_appel=dd, date_debut=dd, date_fin=dd)
        paths.append(write_extract(tmp_path / "in", "actes", [act], day=f"202401{d:02d}"))
    bucket = s3_store.url.removeprefix("s3://").split("/")[0]
    with _DyingProxy(moto_server, allowed=2) as proxy:
        settings = dataclasses.replace(s3_settings, endpoint_url=proxy.url)
        store = open_store(f"s3://{bucket}/lake", settings, retry=RetryPolicy(attempts=2, base_delay=0.01))
        with pytest.raises(StorageError) as info:
            Ingestor(store, keystore).run(paths)
    message = str(info.value)
    # What failed first is the run's own work on the third file (its data write, or the check of its
    # manifest made meanwhile by the reading thread); the lock and audit entry that could not be written
    # afterwards are secondary (a note), not the error.
    assert re.match(r"Could not (write|check|read) `(raw|manifests)/", message), message
    assert "_locks" not in message and "_audit" not in message
    assert any("lake lock" in note for note in getattr(info.value, "__notes__", []))
    assert info.value.__cause__ is not None  # the endpoint's own error, kept
