"""The click layer: parse options, call one layer down, render, exit. No protocol logic here.

Only click and kjob's light modules are imported at start-up; requests, rich, fastavro and
snappy load inside the code that needs them, so `kjob --help` and `kjob status` start fast.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import signal
import sys

import click

from kjob import __version__
from kjob.config import DEFAULT_HTTP_TIMEOUT
from kjob.errors import EXIT_CODES, Interrupted, Terminated

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
    "help": "show this help, or a command's (kjob help wait)",
}

# The options every cluster command shares (commands/__init__.py, cluster_options): also taken
# before the command, as kubectl and the aws CLI take theirs (`kjob --url X status 1`).
CLUSTER_VALUE_OPTIONS = ("--url", "--user", "--profile", "--ca-bundle", "--http-timeout", "--wire")
CLUSTER_FLAGS = ("--password-stdin", "--insecure", "--discover", "-v", "--verbose")

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
    return (f"Exit codes:\n{codes}\n\nEnvironment:\n{env}\n\nA REF is a job id (digits 0-9) or a job tag (or tag:NAME), or @last.\n"
            "Cluster options (--url, --user, --profile...) may also come before the command.\n"
            "Durations (--timeout, --interval): seconds, or 90s, 5m, 1h30m.")


class KjobGroup(click.Group):
    """kjob's command group: subcommands load lazily, the help ends with exit codes and variables."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if name == "help":
            return help_command
        module = importlib.import_module(f"kjob.commands.{name}")
        command = getattr(module, name, None) or module.list_command  # `list` shadows a builtin
        command.short_help = COMMANDS[name]
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
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
    """Show kjob's help, or one command's (the same as COMMAND --help)."""
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
    _reserve_standard_streams()
    _terminate_on_signals()
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="kjob", standalone_mode=False)
        code = code if isinstance(code, int) else 0
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
        code = _output_failed(exc) if code == 0 else code
    sys.exit(code)


def _say(show) -> None:
    """Write an error line; a stderr that cannot take it (closed, full) changes nothing."""
    try:
        show()
    except OSError:
        _quiet_stderr()


def _output_failed(exc: OSError) -> int:
    """An OSError that reached the top: stdout or stderr could not be written, or (KJOB_DEBUG) a bug."""
    if exc.errno == errno.EPIPE:  # the reader went away (`kjob ... | head -1`): 141, as for other tools
        _silence_stdout()
        return 141
    if _broken(sys.stdout):
        _silence_stdout()
        _say(lambda: click.echo(f"kjob: cannot write to stdout: {exc.strerror or exc}", err=True))
        return OUTPUT_FAILED
    if os.environ.get("KJOB_DEBUG"):
        raise exc
    return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    """A bug: one line (redacted, visible), and the traceback only on request."""
    from kjob.sanitize import safe

    text = safe(f"kjob: unexpected error: {type(exc).__name__}: {exc} (set KJOB_DEBUG=1 for a traceback)")
    _say(lambda: click.echo(text, err=True))
    return 1


OUTPUT_FAILED = 2  # a local write error, like a file that cannot be written


def _broken(stream) -> bool:
    """Whether a standard stream has failed a write (closed, full, an I/O error)."""
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    return isinstance(raw, _StandardStream) and raw.failed is not None


class _StandardStream(io.RawIOBase):
    """stdout or stderr as kjob writes them. stdout: a write that fails is remembered, so that
    the error which reaches the top can be told for what it is (a full disk under `> /dev/full`,
    a stream closed with `>&-`: output nobody reads is no silent success). stderr: what it
    cannot take is dropped, and the exit code still tells the outcome."""

    def __init__(self, fd: int, closed: bool) -> None:
        super().__init__()
        self.fd = fd
        self.is_closed = closed
        self.failed: OSError | None = None
        self.silenced = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return not self.is_closed and os.isatty(self.fd)

    def write(self, data) -> int:
        if self.silenced:
            return len(data)
        try:
            if self.is_closed:
                raise OSError(errno.EBADF, "it is closed")
            return os.write(self.fd, data)
        except OSError as exc:
            self.failed = exc
            if self.fd == 2:
                self.silenced = True
                return len(data)
            raise


def _reserve_standard_streams() -> None:
    """stdout and stderr written through _StandardStream; a closed stdin, stdout or stderr gets
    /dev/null as its descriptor, so that no file or socket kjob opens takes its number (stdin
    then stays None, which kjob reads as "closed")."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            closed = False
        except OSError:
            closed = True
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if fd == 0:
            continue
        old = getattr(sys, name)
        setattr(sys, name, io.TextIOWrapper(
            io.BufferedWriter(_StandardStream(fd, closed)), encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "strict", line_buffering=fd == 2 or bool(getattr(old, "line_buffering", False))))


def _terminate_on_signals() -> None:
    """SIGTERM and SIGHUP end kjob as Ctrl-C does, cleaning up on the way (a temporary file, the
    terminal's cursor), with exit code 128 + the signal; a signal the caller ignores stays ignored."""
    def handler(signum: int, frame) -> None:
        raise Terminated(signum)

    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) == signal.SIG_DFL:
            signal.signal(number, handler)


def _silence_stdout() -> None:
    """Stdout cannot be written (the reader went away, a full disk, closed): what is left for
    it goes nowhere, so that the flush at exit cannot fail again with a traceback."""
    _silence(sys.stdout)


def _quiet_stderr() -> None:
    _silence(sys.stderr)


def _silence(stream) -> None:
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    if isinstance(raw, _StandardStream):
        raw.silenced = True
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
