"""The click layer: parse options, call one layer down, render, exit. No protocol logic here.

Only click and kjob's light modules are imported at start-up; requests, rich, fastavro and
snappy load inside the code that needs them, so `kjob --help` and `kjob status` start fast.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

import click

from kjob import __version__
from kjob.config import DEFAULT_HTTP_TIMEOUT, DEFAULT_URL
from kjob.errors import EXIT_CODES, Interrupted
ENCODINGS = ("binary", "json", "snappy")

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
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n")
        for line in _epilog().splitlines():
            formatter.write(line + "\n")


class KjobCommand(click.Command):
    """A subcommand whose option defaults come from the selected config profile."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not any(arg in ("--help", "-h") for arg in args):
            from kjob.config import load_profile

            profile = load_profile(_peek_option(args, "--profile") or os.environ.get("KJOB_PROFILE"), os.environ)
            ctx.default_map = {**profile.options, **(ctx.default_map or {})}
            ctx.meta["kjob.profile"] = profile
        return super().parse_args(ctx, args)


def _peek_option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == "--":
            return None
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


class CommaList(click.ParamType):
    """A repeatable option whose environment variable holds a comma-separated list."""

    name = "URL"
    envvar_list_splitter = ","


CLUSTER_OPTIONS = ("urls", "user", "password_stdin", "profile", "ca_bundle", "insecure", "http_timeout", "wire",
                   "discover", "verbose")


def cluster_options(command: Callable) -> Callable:
    """The options every command that talks to a cluster shares."""
    options = [
        click.option("--url", "urls", multiple=True, type=CommaList(), envvar=["KJOB_URL", "KI_URL"], show_envvar=True,
                     help=f"Cluster URL, repeatable, primary first (default {DEFAULT_URL})."),
        click.option("--user", envvar=["KJOB_USER", "KI_USER"], show_envvar=True, help="User for basic auth."),
        click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin."),
        click.option("--profile", envvar="KJOB_PROFILE", show_envvar=True, help="Profile of the config file."),
        click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA certificates to check TLS with."),
        click.option("--insecure", is_flag=True, help="Do not check TLS certificates (warns)."),
        click.option("--http-timeout", type=click.FloatRange(min=0.1), default=DEFAULT_HTTP_TIMEOUT,
                     envvar="KJOB_HTTP_TIMEOUT", show_default=True, help="Seconds one HTTP call may take."),
        click.option("--wire", type=click.Choice(ENCODINGS), default="binary", show_default=True,
                     help="Encoding of kjob's own calls to the cluster."),
        click.option("--discover", is_flag=True, envvar="KJOB_DISCOVER", show_envvar=True,
                     help="Also use the HA ring's other clusters, as the first cluster reports them."),
        click.option("-v", "--verbose", is_flag=True, help="Trace HTTP calls on stderr (secrets redacted)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def output_options(command: Callable) -> Callable:
    command = click.option("-q", "--quiet", is_flag=True, help="Print only what a script needs.")(command)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line) on stdout.")(command)


DEFAULT_INTERVAL = 5.0
DEFAULT_LOG_EVERY = 30.0
NOT_FOUND_GRACE = 10.0  # seconds a job may stay unknown before it counts as not found


def wait_options(command: Callable) -> Callable:
    """The options of every command that can wait for jobs (wait, submit --wait, fetch --wait)."""
    options = [
        click.option("--interval", type=click.FloatRange(min=0.1), default=DEFAULT_INTERVAL, show_default=True,
                     help="Longest pause between two looks at a job (polls start fast and back off to this)."),
        click.option("--progress", "progress", type=click.Choice(["auto", "rich", "plain", "none"]), default="auto",
                     show_default=True, help="Bars (rich), one line per change (plain) or nothing; auto: bars on a terminal."),
        click.option("--log-every", type=click.FloatRange(min=0), default=DEFAULT_LOG_EVERY, show_default=True,
                     help="Plain mode: a progress line per job at most this often (seconds)."),
        click.option("--not-found-grace", type=click.FloatRange(min=0), default=NOT_FOUND_GRACE, show_default=True,
                     help="Seconds a job may stay unknown (a tag not yet on a backup) before it counts as not found."),
        click.option("--fail-fast", is_flag=True, help="Stop waiting when the first job ends badly."),
        click.option("--cancel-on-interrupt", is_flag=True, help="On Ctrl-C, cancel the jobs instead of leaving them running."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


WAIT_OPTIONS = ("interval", "progress", "log_every", "not_found_grace", "fail_fast", "cancel_on_interrupt")


def split_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs.pop(name) for name in CLUSTER_OPTIONS}


@click.group(cls=KjobGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="kjob", message="%(prog)s %(version)s")
def cli() -> None:
    """kjob: run Kinetica endpoints as background jobs and follow them.

    \b
      kjob submit /execute/sql --data '{"statement": "SELECT 1"}'
      kjob status REF
    """


@cli.command(cls=KjobCommand)
@click.argument("endpoint")
@click.option("--data", metavar="JSON", help="The payload, inline: the endpoint's request as JSON.")
@click.option("--file", "file", metavar="PATH", help="The payload from a file ('-' for stdin).")
@click.option("--avro", "avro_file", metavar="PATH", help="A payload already in Avro binary, sent as it is.")
@click.option("--schema", "schema_file", metavar="PATH", help="Avro schema of the request (endpoints kjob has none for).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="binary", show_default=True,
              help="How the payload travels in the job (request_encoding).")
@click.option("--tag", help="The job's tag (letters, digits, _ and -); default: a new unique tag.")
@click.option("--tag-from-payload", is_flag=True, help="Derive the tag from the endpoint and payload (and --tag-key).")
@click.option("--tag-key", default="", metavar="TEXT", help="Mixed into --tag-from-payload, e.g. the date.")
@click.option("--if-exists", type=click.Choice(["fail", "reuse"]), default="fail", show_default=True,
              help="When the tag already names a job: fail (exit 8) or report that job.")
@click.option("--wait", "then_wait", is_flag=True, help="Then wait for the job to end, as `kjob wait` does.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds in all (exit 4).")
@wait_options
@output_options
@cluster_options
@click.pass_context
def submit(ctx: click.Context, endpoint: str, data, file, avro_file, schema_file, encoding, tag, tag_from_payload,
           tag_key, if_exists, then_wait, timeout, as_json, quiet, **kwargs) -> None:
    """Start ENDPOINT as a job with a payload from --data, --file or stdin."""
    from kjob.app import make_app, run_wait
    from kjob.jobs import JobRef
    from kjob.submission import prepare

    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    job = prepare(endpoint, data=data, file=file, avro_file=avro_file, schema_file=schema_file, encoding=encoding,
                  tag=tag, tag_from_payload_flag=tag_from_payload, tag_key=tag_key)
    created = app.client().create_job(job.endpoint, job.request_encoding, job.data, job.data_str, job.tag,
                                      reuse=if_exists == "reuse")
    app.remember(created)
    app.render.created(created)
    if then_wait:
        ref = JobRef(job_id=created.job_id, tag=created.job_tag, origin=created.cluster, text=created.job_tag)
        ctx.exit(run_wait(app, [ref], waiting, app.remaining()))


@cli.command(cls=KjobCommand)
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds in all.")
@output_options
@cluster_options
@click.pass_context
def status(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Look once at each job (by id or tag): endpoint, status, progress."""
    from kjob.app import look, make_app
    from kjob.jobs import worst

    app = make_app(ctx, split_params(kwargs), as_json=as_json, quiet=quiet, timeout=timeout)
    job_refs = app.refs(refs)
    codes = [look(app, ref) for ref in job_refs]
    ctx.exit(worst(codes))


@cli.command(cls=KjobCommand)
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--timeout", type=click.FloatRange(min=0), help="One deadline for the whole wait; 0 looks once (exit 4).")
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


FORMATS = ("json", "jsonl", "csv", "table", "response")


@cli.command(cls=KjobCommand)
@click.argument("ref")
@click.option("--raw", is_flag=True, help="Write the response's bytes as the server sent them, undecoded.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (whole or not at all) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="/execute/sql rows as json (default), jsonl, csv or table; `response`: the whole decoded response.")
@click.option("--wait", "then_wait", is_flag=True, help="Wait for the job to end first.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds in all (exit 4).")
@wait_options
@cluster_options
@click.pass_context
def fetch(ctx: click.Context, ref: str, raw: bool, output: str | None, fmt: str | None, then_wait: bool, timeout,
          **kwargs) -> None:
    """Print a finished job's response, decoded to JSON (or --raw bytes)."""
    from kjob.app import make_app, run_wait
    from kjob.results import check_format, fetch as fetch_result

    check_format(raw, fmt)
    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), timeout=timeout)
    job_ref = app.refs([ref])[0]
    if then_wait:
        waiting["progress"] = "none" if waiting["progress"] == "auto" else waiting["progress"]
        code = run_wait(app, [job_ref], waiting, timeout)
        if code != 0:
            ctx.exit(code)
    fetch_result(app, job_ref, raw=raw, output=output, fmt=fmt)


@cli.command()
@click.option("-n", "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="How many (newest last); 0: all.")
@output_options
def history(limit: int, as_json: bool, quiet: bool) -> None:
    """List the jobs kjob submitted from here (id, tag, endpoint, cluster, time)."""
    from kjob.config import state_folder
    from kjob.history import History
    from kjob.render import Renderer

    render = Renderer(as_json=as_json, quiet=quiet)
    entries = History(state_folder(os.environ)).entries()
    render.history(entries[-limit:] if limit else entries)


def main(argv: list[str] | None = None) -> None:
    """The `kjob` console script: one exit code, one line per error, never a traceback."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="kjob", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("kjob: interrupted", err=True)
        sys.exit(Interrupted.exit_code)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as exc:  # a bug: one line, and the traceback only on request
        if os.environ.get("KJOB_DEBUG"):
            raise
        click.echo(f"kjob: unexpected error: {type(exc).__name__}: {exc} (set KJOB_DEBUG=1 for a traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _quiet_broken_pipe() -> None:
    """The reader went away (`kjob ... | head -1`): stop without a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)


