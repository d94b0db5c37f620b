"""kjob history: the jobs kjob submitted from here."""

from __future__ import annotations

import os

import click

from kjob.cli.options import output_options


@click.command()
@click.option("-n", "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="How many (newest last; 0: none, as tail -n 0);"
              " the record keeps the newest 1000.")
@output_options
def history(limit: int, as_json: bool, quiet: bool) -> None:
    """List the jobs kjob submitted from here.

    One line each, oldest first: time, id, endpoint, cluster, tag.
    """
    from kjob.config import state_folder
    from kjob.history import History
    from kjob.ops.history import history as newest
    from kjob.output.lines import Renderer

    Renderer(as_json=as_json, quiet=quiet).history(newest(History(state_folder(os.environ)), limit))
