"""kjob wait: follow jobs to their end."""

from __future__ import annotations

import click

from kjob.commands import (
    WAIT_OPTIONS,
    KjobCommand,
    cluster_options,
    output_options,
    refs_argument,
    split_params,
    timeout_option,
    wait_options,
)


@click.command(cls=KjobCommand)
@refs_argument
@timeout_option("One deadline for the whole wait; 0 looks once (exit 4).")
@wait_options
@output_options
@cluster_options
@click.pass_context
def wait(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Follow jobs (ids and tags) until every one has ended; exit with the worst outcome."""
    from kjob.app import make_app, run_wait

    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(run_wait(app, app.refs(refs), waiting, timeout))
