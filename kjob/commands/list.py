"""kjob list: the jobs a cluster knows, through /admin/show/jobs."""

from __future__ import annotations

import click

from kjob.commands import (
    KjobCommand,
    cluster_options,
    output_options,
    split_params,
    timeout_option,
)


@click.command(name="list", cls=KjobCommand)
@click.option("--all", "include_finished", is_flag=True, help="Also the async jobs that have finished (show_async_jobs).")
@timeout_option()
@output_options
@cluster_options
@click.pass_context
def list_command(ctx: click.Context, include_finished: bool, timeout, as_json, quiet, **kwargs) -> None:
    """List the cluster's jobs: id, status, endpoint, time received, user, tag."""
    from kjob.app import list_jobs, make_app

    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    list_jobs(app, include_finished)
