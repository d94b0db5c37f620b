"""kjob list: the jobs a cluster knows, through /admin/show/jobs."""

from __future__ import annotations

import click

from kjob.cli.options import ClusterOptions, cluster_options, output_options, timeout_option


@click.command(name="list")
@click.option("--all", "include_finished", is_flag=True, help="Also the async jobs that have finished (show_async_jobs).")
@timeout_option()
@output_options
@cluster_options
@click.pass_context
def list_command(ctx: click.Context, include_finished: bool, timeout: float | None, as_json: bool, quiet: bool,
                 cluster: ClusterOptions) -> None:
    """List the jobs the cluster knows (/admin/show/jobs).

    One line each, newest first: id, status, endpoint, time received, user, tag.
    """
    from kjob.cli.context import make_app
    from kjob.ops.list import list_jobs

    app = make_app(ctx, cluster, as_json=as_json, quiet=quiet, timeout=timeout)
    app.render.job_list(*list_jobs(app, include_finished, count_hidden=not (as_json or quiet)))
