"""kjob fetch: a finished job's response."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

import click

from kjob.cli.options import (
    ClusterOptions,
    cluster_options,
    complete_refs,
    timeout_option,
    wait_options,
)
from kjob.errors import ExitStatus

if TYPE_CHECKING:
    from kjob.ops.wait import WaitOptions

FORMATS = ("json", "jsonl", "csv", "table", "response")


@click.command()
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
@click.option("-q", "--quiet", is_flag=True, help="No messages on stderr but errors (a partial result is one); the data is the same.")
@timeout_option()
@wait_options
@cluster_options
@click.pass_context
def fetch(ctx: click.Context, ref: str, raw: bool, output: str | None, fmt: str | None, every: bool, then_wait: bool,
          quiet: bool, timeout: float | None, waiting: WaitOptions, cluster: ClusterOptions) -> None:
    """Print a finished job's response, decoded to JSON (or --raw bytes)."""
    from kjob.cli.context import make_app, wait_display
    from kjob.files import output_target
    from kjob.ops.fetch import Destination, check_format
    from kjob.ops.fetch import fetch as fetch_response
    from kjob.ops.wait import wait

    check_format(raw, fmt, every)
    output = output_target(output)
    app = make_app(ctx, cluster, quiet=quiet, timeout=timeout)
    job_ref = app.refs([ref])[0]
    if then_wait:  # quiet by default: stdout is the response's
        waiting = dataclasses.replace(waiting, progress="none" if waiting.progress == "auto" else waiting.progress)
        code = wait(app, [job_ref], waiting, wait_display(app, waiting, outcomes=False))
        if code != ExitStatus.OK:
            ctx.exit(code)
    stdout = app.render.out_terminal
    where = Destination(output, sys.stdout, stdout.is_terminal, stdout.colour)
    fetch_response(app, job_ref, where, raw=raw, fmt=fmt, every=every)
