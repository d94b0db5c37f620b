"""kjob submit: start an endpoint as a job."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kjob.cli.options import (
    ENCODINGS,
    ClusterOptions,
    cluster_options,
    complete_endpoints,
    output_options,
    timeout_option,
    wait_options,
)

if TYPE_CHECKING:
    from kjob.ops.wait import WaitOptions


@click.command()
@click.argument("endpoint", shell_complete=complete_endpoints)
@click.option("--data", metavar="JSON", help="The payload, inline: the endpoint's request as JSON.")
@click.option("--file", "file", metavar="PATH", help="The payload from a file ('-' for stdin).")
@click.option("--avro", "avro_file", metavar="PATH", help="A payload already in Avro binary, sent as it is.")
@click.option("--schema", "schema_file", metavar="PATH", help="Avro schema of the request (endpoints kjob has none for).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="binary", show_default=True,
              help="How the payload travels in the job (request_encoding).")
@click.option("--tag", help="The job's tag (letters, digits, _ and -); default: a new unique tag.")
@click.option("--tag-from-payload", is_flag=True, help="Derive the tag from the endpoint and payload (and --tag-key).")
@click.option("--tag-key", default="", metavar="TEXT", help="Mixed into --tag-from-payload, e.g. the date.")
@click.option("--if-exists", type=click.Choice(["fail", "reuse"]), default="fail", show_default=True,
              help="When the tag already names a job: fail (exit 8) or report that job.")
@click.option("--wait", "then_wait", is_flag=True, help="Then wait for the job to end, as `kjob wait` does.")
@click.option("--skeleton", is_flag=True, help="Print a payload with every field (defaults filled in) for --file; send nothing.")
@timeout_option()
@wait_options
@output_options
@cluster_options
@click.pass_context
def submit(ctx: click.Context, endpoint: str, data: str | None, file: str | None, avro_file: str | None,
           schema_file: str | None, encoding: str, tag: str | None, tag_from_payload: bool, tag_key: str, if_exists: str,
           then_wait: bool, skeleton: bool, timeout: float | None, as_json: bool, quiet: bool, waiting: WaitOptions,
           cluster: ClusterOptions) -> None:
    """Start ENDPOINT as a job with a payload from --data, --file or stdin."""
    from kjob.ops.submit import SubmitRequest, skeleton_for
    from kjob.ops.submit import submit as start

    if skeleton:
        from kjob.output.lines import Renderer

        return Renderer().skeleton(skeleton_for(endpoint, schema_file, given=(data, file, avro_file)))

    from kjob.cli.context import make_app, wait_display
    from kjob.ops.wait import wait

    if cluster.password_stdin and ((data is None and file in (None, "-") and avro_file in (None, "-")) or "-" in (file, avro_file)):
        from kjob.errors import BadInput

        raise BadInput("--password-stdin: stdin carried the password, so the payload must come from --data or --file PATH")
    app = make_app(ctx, cluster, as_json=as_json, quiet=quiet, timeout=timeout)
    created = start(app, SubmitRequest(endpoint, data=data, file=file, avro_file=avro_file, schema_file=schema_file,
                                       encoding=encoding, tag=tag, tag_from_payload=tag_from_payload, tag_key=tag_key,
                                       reuse=if_exists == "reuse"))
    app.render.created(created)
    if then_wait:
        ctx.exit(wait(app, [created.ref], waiting, wait_display(app, waiting)))
