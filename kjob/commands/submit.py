"""kjob submit: start an endpoint as a job."""

from __future__ import annotations

import click

from kjob.commands import (
    ENCODINGS,
    WAIT_OPTIONS,
    KjobCommand,
    cluster_options,
    complete_endpoints,
    output_options,
    split_params,
    timeout_option,
    wait_options,
)


@click.command(cls=KjobCommand)
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
def submit(ctx: click.Context, endpoint: str, data, file, avro_file, schema_file, encoding, tag, tag_from_payload,
           tag_key, if_exists, then_wait, skeleton, timeout, as_json, quiet, **kwargs) -> None:
    """Start ENDPOINT as a job with a payload from --data, --file or stdin."""
    from kjob.app import make_app, run_wait
    from kjob.jobs import JobRef
    from kjob.submission import check_reuse, prepare, skeleton_for

    if skeleton:
        from kjob.output.lines import Renderer

        return Renderer().skeleton(skeleton_for(endpoint, schema_file, given=(data, file, avro_file)))

    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    job = prepare(endpoint, data=data, file=file, avro_file=avro_file, schema_file=schema_file, encoding=encoding,
                  tag=tag, tag_from_payload_flag=tag_from_payload, tag_key=tag_key)
    created = app.client().create_job(job.endpoint, job.request_encoding, job.data, job.data_str, job.tag,
                                      reuse=if_exists == "reuse")
    check_reuse(created, job.endpoint)
    app.remember(created)
    app.render.created(created)
    if then_wait:
        ref = JobRef(job_id=created.job_id, tag=created.job_tag, origin=created.cluster)
        ctx.exit(run_wait(app, [ref], waiting, app.remaining()))
