"""kjob cancel: stop jobs through /admin/alter/jobs."""

from __future__ import annotations

import click

from kjob.cli.options import ClusterOptions, refs_command


@refs_command()
def cancel(ctx: click.Context, refs: tuple[str, ...], timeout: float | None, as_json: bool, quiet: bool,
           cluster: ClusterOptions) -> None:
    """Cancel jobs (by id or tag); a job that has already ended is reported so.

    Cancelling an ended job is no error (exit 0): the command can be run again safely.
    """
    from kjob.cli.context import make_app
    from kjob.ops.cancel import cancel as cancel_jobs

    app = make_app(ctx, cluster, as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(cancel_jobs(app, app.refs(refs)))
