"""The settings module's choices that guard the perimeter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _matplotlib_dir(tmp: Path) -> Path:
    """MPLCONFIGDIR as a fresh process of the lakehouse chooses it, with `tmp` as the temporary folder."""
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env["TMPDIR"] = str(tmp)
    code = "import os; from ingest import settings; settings.use_private_matplotlib_cache(); "
    code += "print(os.environ['MPLCONFIGDIR'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def test_matplotlib_cache_is_a_private_folder_of_this_user(tmp_path: Path) -> None:
    chosen = _matplotlib_dir(tmp_path)
    assert chosen == tmp_path / f"lakehouse-mpl-{os.getuid()}"
    assert chosen.stat().st_mode & 0o777 == 0o700
    assert _matplotlib_dir(tmp_path) == chosen, "the font cache is kept between runs"


@pytest.mark.parametrize("planted", ["writable-by-others", "symlink", "file"])
def test_a_matplotlib_folder_planted_by_someone_else_is_not_used(tmp_path: Path, planted: str) -> None:
    shared = tmp_path / f"lakehouse-mpl-{os.getuid()}"
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (elsewhere / "matplotlibrc").write_text("backend: module://attacker_backend\n")
    if planted == "writable-by-others":
        shared.mkdir()
        shared.chmod(0o777)
        (shared / "matplotlibrc").write_text("backend: module://attacker_backend\n")
    elif planted == "symlink":
        shared.symlink_to(elsewhere)
    else:
        shared.write_text("")
    chosen = _matplotlib_dir(tmp_path)
    assert chosen not in (shared, elsewhere)
    assert chosen.parent == tmp_path and chosen.name.startswith("lakehouse-mpl-")
    assert chosen.stat().st_mode & 0o777 == 0o700
    assert not (chosen / "matplotlibrc").exists()


def test_dbt_is_not_told_to_report_usage_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import settings

    monkeypatch.delenv("DBT_SEND_ANONYMOUS_USAGE_STATS", raising=False)
    assert settings.dbt_environment()["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "true")  # an explicit choice is kept
    assert settings.dbt_environment()["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "true"
