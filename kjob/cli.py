"""The click layer: parse options, call one layer down, render, exit. No protocol logic here.

Only click and kjob's light modules are imported at start-up; requests, rich, fastavro and
snappy load inside the code that needs them, so `kjob --help` and `kjob status` start fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from kjob import __version__
from kjob.config import DEFAULT_HTTP_TIMEOUT
from kjob.errors import EXIT_CODES, Interrupted

# name: the line `kjob --help` shows; the command lives in kjob.commands.<name>, a module
# imported only when that command runs or shows its own help.
COMMANDS = {
    "submit": "start ENDPOINT as a job with a payload from --data, --file or stdin",
    "status": "look once at each job (by id or tag): endpoint, status, progress",
    "wait": "follow jobs until every one has ended; exit with the worst outcome",
    "fetch": "print a finished job's response, decoded to JSON (or --raw bytes)",
    "cancel": "cancel jobs (by id or tag); a job that has already ended is reported so",
    "list": "list the jobs the cluster knows (/admin/show/jobs)",
    "history": "list the jobs kjob submitted from here",
    "endpoints": "list Kinetica's endpoints, or show one endpoint's request and response fields",
    "completion": "print the shell completion script for bash, zsh or fish",
}

ENVIRONMENT = {
    "KJOB_URL": "cluster URLs, comma-separated, primary first (else KI_URL)",
    "KJOB_USER": "user for basic auth (else KI_USER)",
    "KJOB_PASSWORD": "password for basic auth (else KI_PWD)",
    "KJOB_TOKEN": "bearer token, wins over user and password (else KI_OAUTH_TOKEN)",
    "KJOB_PROFILE": "profile of the config file to use",
    "KJOB_CONFIG": "config file (default ~/.config/kjob/config.toml)",
    "KJOB_HTTP_TIMEOUT": f"seconds one HTTP call may take (default {DEFAULT_HTTP_TIMEOUT:g})",
    "KJOB_DEBUG": "1: show a traceback for an unexpected error",
    "NO_COLOR": "set: no colour",
}


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    env = "\n".join(f"  {name:<18} {text}" for name, text in ENVIRONMENT.items())
    return f"Exit codes:\n{codes}\n\nEnvironment:\n{env}\n\nA REF is a job id (all digits) or a job tag (or tag:NAME)."


class KjobGroup(click.Group):
    """kjob's command group: subcommands load lazily, the help ends with exit codes and variables."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"kjob.commands.{name}")
        command = getattr(module, name, None) or module.list_command  # `list` shadows a builtin
        command.short_help = COMMANDS[name]
        return command

    def invoke(self, ctx: click.Context):
        # click itself turns a broken pipe into a silent exit 1, which here means "the job
        # ended in ERROR"; the reader going away is 141 (128 + SIGPIPE), as for other tools.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            raise click.exceptions.Exit(141) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n")
        for line in _epilog().splitlines():
            formatter.write(line + "\n")


@click.group(cls=KjobGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="kjob", message="%(prog)s %(version)s")
def cli() -> None:
    """kjob: run Kinetica endpoints as background jobs and follow them.

    \b
      kjob submit /execute/sql --data '{"statement": "SELECT 1"}'
      kjob status REF
    """


def main(argv: list[str] | None = None) -> None:
    """The `kjob` console script: one exit code, one line per error, never a traceback."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="kjob", standalone_mode=False)
        sys.stdout.flush()  # here, so that a reader gone away is a BrokenPipeError we catch
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("kjob: interrupted", err=True)
        sys.exit(Interrupted.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(141)
    except Exception as exc:  # a bug: one line, and the traceback only on request
        if os.environ.get("KJOB_DEBUG"):
            raise
        click.echo(f"kjob: unexpected error: {type(exc).__name__}: {exc} (set KJOB_DEBUG=1 for a traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _silence_stdout() -> None:
    """The reader went away (`kjob ... | head -1`): what is left for stdout goes nowhere,
    so that the flush at exit cannot fail again with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


