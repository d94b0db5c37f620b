"""kjob status: one look at each job."""

from __future__ import annotations

import click

from kjob.commands import refs_command, split_params


@refs_command()
def status(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Look once at each job (by id or tag): endpoint, status, progress."""
    from kjob.app import look, make_app
    from kjob.jobs import worst

    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(worst([look(app, ref) for ref in app.refs(refs)]))
