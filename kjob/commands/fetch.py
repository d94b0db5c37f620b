"""kjob fetch: a finished job's response."""

from __future__ import annotations

import click

from kjob.commands import (
    WAIT_OPTIONS,
    KjobCommand,
    cluster_options,
    complete_refs,
    split_params,
    timeout_option,
    wait_options,
)

FORMATS = ("json", "jsonl", "csv", "table", "response")


@click.command(cls=KjobCommand)
@click.argument("ref", shell_complete=complete_refs)
@click.option("--raw", is_flag=True, help="Write the response's bytes as the server sent them, undecoded.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (whole or not at all) instead of stdout; - is stdout.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Rows (/execute/sql, /aggregate/groupby...) as json (default), jsonl, csv or table; "
                   "`response`: the whole decoded response, bytes as base64.")
@click.option("--all", "every", is_flag=True,
              help="A SQL result the server cut: stream every row of the result the server kept (its paging table), "
                   "from its first row, whatever the statement's offset.")
@click.option("--wait", "then_wait", is_flag=True, help="Wait for the job to end first.")
@timeout_option()
@wait_options
@cluster_options
@click.pass_context
def fetch(ctx: click.Context, ref: str, raw: bool, output: str | None, fmt: str | None, every: bool, then_wait: bool,
          timeout, **kwargs) -> None:
    """Print a finished job's response, decoded to JSON (or --raw bytes)."""
    from kjob.app import make_app, run_wait
    from kjob.results import check_format
    from kjob.results import fetch as fetch_result

    from kjob.files import output_target

    check_format(raw, fmt, every)
    output = output_target(output)
    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), timeout=timeout)
    job_ref = app.refs([ref])[0]
    if then_wait:
        waiting["progress"] = "none" if waiting["progress"] == "auto" else waiting["progress"]
        code = run_wait(app, [job_ref], waiting, timeout, outcomes=False)
        if code != 0:
            ctx.exit(code)
    fetch_result(app, job_ref, raw=raw, output=output, fmt=fmt, every=every)
