"""`lakehouse`: the single command-line entry point.

Thin: parses options, shows progress and results, maps errors to exit codes; the work is in the library.
Exit codes: 0 ok, 1 data rejected (some rows or files quarantined, with --strict), 2 configuration,
3 storage, 4 decryption.

Every command is registered here, by name, on the one group: the modules beside this one only define them.
"""

from __future__ import annotations

import click

from ingest.cli import ai, governance, pipeline, report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """Outpatient health-data lakehouse: synthetic extracts, pseudonymised encrypted ingest, dbt build.

    Locations come from the environment (LAKEHOUSE_HOME, LAKEHOUSE_LAKE, LAKEHOUSE_KEYSTORE,
    LAKEHOUSE_S3_ENDPOINT with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); see docs/configuration.md.
    """


for command in (
    # The pipeline, in the order it runs.
    pipeline.keys,
    pipeline.generate,
    pipeline.ingest,
    pipeline.build,
    pipeline.disclosure_check,
    pipeline.disclosure_audit,
    pipeline.export,
    pipeline.run,
    pipeline.contract_docs,
    # Governance: the data-protection officer's and analysts' audited access.
    governance.audit,
    governance.query,
    governance.opposition,
    governance.purge,
    governance.extract,
    # Publication and prediction tasks.
    report.report,
    ai.ai,
):
    main.add_command(command)

for key_command in (
    governance.keys_rotate,
    governance.keys_retire,
    governance.keys_add_footer_keys,
    governance.keys_seal_manifests,
    governance.keys_remove_master,
    governance.keys_rotate_pseudonym_secret,
):
    pipeline.keys.add_command(key_command)

__all__ = ["main"]
