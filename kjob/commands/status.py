"""kjob status: one look at each job."""

from __future__ import annotations

import click

from kjob.commands import (
    KjobCommand,
    cluster_options,
    output_options,
    refs_argument,
    split_params,
    timeout_option,
)


@click.command(cls=KjobCommand)
@refs_argument
@timeout_option()
@output_options
@cluster_options
@click.pass_context
def status(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Look once at each job (by id or tag): endpoint, status, progress."""
    from kjob.app import look, make_app
    from kjob.jobs import worst

    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    job_refs = app.refs(refs)
    codes = [look(app, ref) for ref in job_refs]
    ctx.exit(worst(codes))
