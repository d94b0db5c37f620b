"""The click layer: the `kjob` group, its lazy subcommands, its help, and main().

Each subcommand lives in kjob/cli/<name>.py: it parses, calls one operation (kjob/ops/) and
hands the result to the renderer. Only click and kjob's light modules are imported at start-up;
a command's module (and requests, rich, fastavro, snappy) loads when it runs or shows its own
help, so `kjob --help` and `kjob status` start fast. A command's help lives in its docstring
only: `kjob --help` reads its first line from the module's source, without importing it.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from kjob import __version__
from kjob.cli import streams
from kjob.cli.options import CLUSTER_FLAGS, CLUSTER_VALUE_OPTIONS
from kjob.config import DEFAULT_HTTP_TIMEOUT
from kjob.errors import EXIT_CODES, ExitStatus, Interrupted, Terminated

# The commands, in the order `kjob --help` lists them; each is kjob/cli/<name>.py, whose one
# click command is its function `<name>` (`list_command` for list, which shadows a builtin).
COMMANDS = ("submit", "status", "wait", "fetch", "cancel", "list", "history", "endpoints", "completion", "help")


def _function_of(name: str) -> str:
    return "list_command" if name == "list" else name

# The README's table of variables lists the same names in the same order (a test checks it).
ENVIRONMENT = {
    "KJOB_URL": "cluster URLs, comma-separated, primary first (else KI_URL)",
    "KJOB_USER": "user for basic auth (else KI_USER)",
    "KJOB_PASSWORD": "password for basic auth (else KI_PWD)",
    "KJOB_TOKEN": "bearer token, wins over user and password (else KI_OAUTH_TOKEN)",
    "KJOB_PROFILE": "profile of the config file to use",
    "KJOB_CONFIG": "config file (default ~/.config/kjob/config.toml)",
    "KJOB_HTTP_TIMEOUT": f"seconds one HTTP call may take (default {DEFAULT_HTTP_TIMEOUT:g})",
    "KJOB_CA_BUNDLE": "CA certificates to check TLS with (else REQUESTS_CA_BUNDLE)",
    "KJOB_DISCOVER": "1: also use the HA ring's other clusters",
    "KJOB_DEBUG": "1: show a traceback for an unexpected error",
    "NO_COLOR": "set: no colour (also TERM=dumb)",
    "GITHUB_STEP_SUMMARY": "file that `kjob wait` appends a Markdown table of outcomes to",
}


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    width = max(map(len, ENVIRONMENT))
    env = "\n".join(f"  {name:<{width}}  {text}" for name, text in ENVIRONMENT.items())
    return (f"Exit codes:\n{codes}\n\nEnvironment:\n{env}\n\nA REF is a job id (digits 0-9) or a job tag (or tag:NAME), or @last.\n"
            "Cluster options (--url, --user, --profile...) may also come before the command.\n"
            "Durations (--timeout, --interval): seconds, or 90s, 5m, 1h30m, 1d.")


def short_help(docstring: str | None) -> str:
    """The line `kjob --help` shows for a command: its docstring's first line, as a phrase."""
    line = (docstring or "").strip().splitlines()[0] if docstring and docstring.strip() else ""
    return (line[:1].lower() + line[1:]).rstrip(".")


def _docstring_of(name: str) -> str | None:
    """A command's docstring, read from its module's source: `kjob --help` imports no command."""
    import ast
    from importlib.util import find_spec

    function = _function_of(name)
    with open(find_spec(f"kjob.cli.{name}").origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    return next(ast.get_docstring(node) for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function)


class KjobGroup(click.Group):
    """kjob's command group: subcommands load lazily, the help ends with exit codes and variables."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if name == "help":
            return help_command
        module = importlib.import_module(f"kjob.cli.{name}")
        command = getattr(module, _function_of(name))
        command.short_help = short_help(command.help)
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:  # bare `kjob` asks for help, as bare git and kubectl: exit 0
            click.echo(ctx.get_help())
            ctx.exit(ExitStatus.OK)
        return super().parse_args(ctx, hoist_cluster_options(args))

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """A mistyped command gets "did you mean" (click suggests from commands it has loaded:
        none, here, as they load lazily)."""
        name = args[0]
        if name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            raise click.exceptions.NoSuchCommand(name, possibilities=list(COMMANDS), ctx=ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):
        # click itself turns a broken pipe into a silent exit 1, which here means "the job
        # ended in ERROR"; the reader going away is 141 (128 + SIGPIPE), as for other tools.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            streams.silence_stdout()
            raise click.exceptions.Exit(ExitStatus.BROKEN_PIPE) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short_help(help_command.help if name == "help" else _docstring_of(name))) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


def hoist_cluster_options(args: list[str]) -> list[str]:
    """Cluster options given before the command move after it: `kjob --url X status 1` is
    `kjob status --url X 1`. Anything else before the command is left for click to judge."""
    moved: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name = arg.split("=", 1)[0]
        if name in CLUSTER_VALUE_OPTIONS and "=" not in arg and index + 1 < len(args):
            moved += args[index : index + 2]
            index += 2
        elif name in CLUSTER_VALUE_OPTIONS or arg in CLUSTER_FLAGS:
            moved.append(arg)
            index += 1
        else:
            break
    if not moved or index >= len(args) or args[index].startswith("-"):
        return args
    return [args[index], *moved, *args[index + 1 :]]


@click.command(name="help")
@click.argument("command_name", required=False, metavar="[COMMAND]")
@click.pass_context
def help_command(ctx: click.Context, command_name: str | None) -> None:
    """Show this help, or a command's (kjob help wait)."""
    group = ctx.parent
    if command_name is None:
        click.echo(group.get_help())
        return
    if command_name not in COMMANDS:
        raise click.exceptions.NoSuchCommand(command_name, possibilities=list(COMMANDS), ctx=group)
    command = cli.get_command(group, command_name)
    click.echo(command.get_help(click.Context(command, info_name=command_name, parent=group)))


def main(argv: list[str] | None = None) -> None:
    """The `kjob` console script: one exit code, one line per error, never a traceback."""
    streams.reserve_standard_streams()
    streams.terminate_on_signals()
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="kjob", standalone_mode=False)
        code = code if isinstance(code, int) else ExitStatus.OK
        sys.stdout.flush()  # here, so that a reader gone away is a BrokenPipeError we catch
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        _say(exc.show)
        code = exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        _say(lambda: click.echo("kjob: interrupted", err=True))
        code = Interrupted.exit_code
    except Terminated as exc:
        line = f"kjob: {exc}"
        _say(lambda: click.echo(line, err=True))
        code = exc.exit_code
    except OSError as exc:
        code = _output_failed(exc)
    except Exception as exc:  # a bug: one line, and the traceback only on request
        if os.environ.get("KJOB_DEBUG"):
            raise
        code = _unexpected(exc)
    try:
        sys.stdout.flush()  # what a successful run or an error left for stdout
    except OSError as exc:
        code = _output_failed(exc) if code == ExitStatus.OK else code
    if code == ExitStatus.INTERRUPTED:
        streams.end_interrupted()
    sys.exit(code)


def _say(show) -> None:
    """Write an error line; a stderr that cannot take it (closed, full) changes nothing."""
    try:
        show()
    except OSError:
        streams.quiet_stderr()


def _output_failed(exc: OSError) -> int:
    """An OSError that reached the top: stdout or stderr could not be written, or (KJOB_DEBUG) a bug."""
    if exc.errno == errno.EPIPE:  # the reader went away (`kjob ... | head -1`): 141, as for other tools
        streams.silence_stdout()
        return ExitStatus.BROKEN_PIPE
    if streams.broken(sys.stdout):
        streams.silence_stdout()
        _say(lambda: click.echo(f"kjob: cannot write to stdout: {exc.strerror or exc}", err=True))
        return ExitStatus.USAGE  # a local write error, like a file that cannot be written
    if os.environ.get("KJOB_DEBUG"):
        raise exc
    return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    """A bug: one line (redacted, visible), and the traceback only on request."""
    from kjob.sanitize import safe

    text = safe(f"kjob: unexpected error: {type(exc).__name__}: {exc} (set KJOB_DEBUG=1 for a traceback)")
    _say(lambda: click.echo(text, err=True))
    return ExitStatus.JOB_FAILED  # as click itself does for an unhandled error
