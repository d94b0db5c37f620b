"""kjob cancel: stop jobs through /admin/alter/jobs."""

from __future__ import annotations

import click

from kjob.commands import refs_command, split_params


@refs_command()
def cancel(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Cancel each job (by id or tag); a job that has already ended is reported so, exit 0."""
    from kjob.app import cancel as cancel_one
    from kjob.app import make_app
    from kjob.jobs import worst

    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(worst([cancel_one(app, ref) for ref in app.refs(refs)]))
