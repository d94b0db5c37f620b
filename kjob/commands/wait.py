"""kjob wait: follow jobs to their end."""

from __future__ import annotations

import click

from kjob.commands import WAIT_OPTIONS, refs_command, split_params, wait_options


@refs_command("One deadline for the whole wait (seconds, or 90s, 5m, 1h30m); 0 looks once (exit 4).",
              extra=(wait_options,))
def wait(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Follow jobs (ids and tags) until every one has ended; exit with the worst outcome."""
    from kjob.app import make_app, run_wait

    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(run_wait(app, app.refs(refs), waiting, timeout))
