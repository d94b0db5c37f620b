"""Baseline: a bare click program with four subcommands (nothing but click imported)."""

import click


@click.group()
def cli():
    """A bare click program."""


@cli.command()
@click.argument("ref")
def status(ref):
    """Look at a job."""


@cli.command()
def submit():
    """Start a job."""


@cli.command()
def wait():
    """Wait for jobs."""


@cli.command()
def fetch():
    """Fetch a response."""


cli()
