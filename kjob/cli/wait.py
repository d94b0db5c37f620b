"""kjob wait: follow jobs to their end."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kjob.cli.options import ClusterOptions, refs_command, wait_options

if TYPE_CHECKING:
    from kjob.ops.wait import WaitOptions


@refs_command("One deadline for the whole wait (seconds, or 90s, 5m, 1h30m); 0 looks once (exit 4 if a job has not ended).",
              extra=(wait_options,))
def wait(ctx: click.Context, refs: tuple[str, ...], timeout: float | None, as_json: bool, quiet: bool,
         waiting: WaitOptions, cluster: ClusterOptions) -> None:
    """Follow jobs until every one has ended; exit with the worst outcome.

    REF...: job ids or tags, followed together, each to its end. A job that no cluster
    answers for is tried again for 60 s (never past --timeout) before it counts as
    UNREACHABLE (exit 7).
    """
    from kjob.cli.context import make_app, wait_display
    from kjob.ops.wait import wait as follow_jobs

    app = make_app(ctx, cluster, as_json=as_json, quiet=quiet, timeout=timeout)
    ctx.exit(follow_jobs(app, app.refs(refs), waiting, wait_display(app, waiting)))
