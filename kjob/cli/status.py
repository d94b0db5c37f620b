"""kjob status: one look at each job."""

from __future__ import annotations

import click

from kjob.cli.options import ClusterOptions, refs_command


@refs_command()
def status(ctx: click.Context, refs: tuple[str, ...], timeout: float | None, as_json: bool, quiet: bool,
           cluster: ClusterOptions) -> None:
    """Look once at each job (by id or tag): endpoint, status, progress."""
    from kjob.cli.context import make_app
    from kjob.ops.status import status as look

    app = make_app(ctx, cluster, as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(look(app, app.refs(refs)))
