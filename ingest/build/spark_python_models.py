"""dbt's Python models on dbt-spark's `session` method: run in the dbt process's own Spark session.

dbt-spark submits a Python model to Databricks only (its `all_purpose_cluster` and `job_cluster`
methods). With the session method the model's Spark session is already in the dbt process, so this
module adds a `session` submission method that runs the model's compiled code there, against
`SparkSession.builder.getOrCreate()`, the session dbt-spark opened with the profile's settings. The
model code is dbt's own (the model, dbt's `dbtObj`, dbt-spark's `py_write_table` that saves the result
as a table): nothing of the model is rewritten. `lakehouse build --target spark` runs dbt through
`python -m ingest.build.spark_python_models`, which registers the method before dbt starts.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.spark.impl import SparkAdapter

__all__ = ["SESSION", "SessionPythonJobHelper", "main", "register"]

SESSION = "session"


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a Python model's compiled code in the dbt process's Spark session."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.name = f"{parsed_model['schema']}.{parsed_model['alias']}"

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        # A module name Python does not know: cloudpickle then ships the model's functions to Spark's
        # Python workers by value (applyInPandas), as it would a notebook's.
        namespace: dict[str, Any] = {"__name__": f"dbt_python_model.{self.name}", "spark": spark}
        exec(compile(compiled_code, f"<dbt Python model {self.name}>", "exec"), namespace)  # noqa: S102


_databricks_helpers = SparkAdapter.python_submission_helpers
_databricks_default = SparkAdapter.default_python_submission_method


def _helpers(adapter: SparkAdapter) -> dict[str, type[PythonJobHelper]]:
    return {**_databricks_helpers.fget(adapter), SESSION: SessionPythonJobHelper}  # type: ignore[attr-defined]


def _default(adapter: SparkAdapter) -> str:
    if adapter.config.credentials.method == SESSION:
        return SESSION
    return _databricks_default.fget(adapter)  # type: ignore[attr-defined]


def register() -> None:
    """Add the `session` submission method, the default of a profile whose method is `session`."""
    SparkAdapter.python_submission_helpers = property(_helpers)  # type: ignore[method-assign,assignment]
    SparkAdapter.default_python_submission_method = property(_default)  # type: ignore[method-assign,assignment]
    # Spark's Python workers must import what the model imports (numpy, statsmodels, ...): this
    # interpreter's environment, not the first `python3` on PATH (pyspark's default).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def main() -> None:
    """`dbt` with the `session` submission method (the same arguments as dbt's command line)."""
    register()
    from dbt.cli.main import cli

    cli()


if __name__ == "__main__":
    main()
