"""The click layer: parse options, call one layer down, render, exit. No protocol logic here.

Only click and kjob's light modules are imported at start-up; requests, rich, fastavro and
snappy load inside the code that needs them, so `kjob --help` and `kjob status` start fast.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import click

from kjob import __version__
from kjob.config import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_URL,
    Profile,
    Settings,
    load_profile,
    parse_cluster_url,
    redact_url,
    resolve_credentials,
    split_urls,
    state_folder,
)
from kjob.history import History
from kjob.errors import EXIT_CODES, Interrupted, JobNotFound, KjobError, NotFinished
from kjob.jobs import JobRef, JobState, error_for, exit_code_of, parse_ref, worst
from kjob.render import Renderer

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


@dataclass
class App:
    """What a command needs: settings, a renderer, and (made on first use) the client."""

    settings: Settings
    render: Renderer
    history: History
    _client: Any = field(default=None, repr=False)

    def client(self):
        if self._client is None:
            from kjob.client import Client

            self._client = Client(
                self.settings,
                on_failover=self.render.failover,
                on_retry=self.render.retry,
                trace=self.render.trace if self.render.verbose else None,
                tag_of=self.history.tag_of,
            )
        return self._client

    def refs(self, texts: tuple[str, ...] | list[str]) -> list[JobRef]:
        """Job references as typed, with `@last` read from kjob's record of submitted jobs."""
        return [self._ref(text) for text in texts]

    def _ref(self, text: str) -> JobRef:
        if text.strip() != "@last":
            return parse_ref(text)
        entry = self.history.last()
        return JobRef(job_id=entry["job_id"], tag=entry["job_tag"], origin=entry["cluster"], text=entry["job_tag"])

    def remember(self, created) -> None:
        """Add a submitted job to kjob's record; a record that cannot be written only warns."""
        try:
            self.history.add(created.job_id, created.job_tag, created.endpoint, created.cluster)
        except OSError as exc:
            self.render.warning(f"cannot record the job in {self.history.path}: {exc.strerror or exc}")


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


def run_wait(app: App, refs: list, options: dict[str, Any], timeout: float | None) -> int:
    """Follow jobs to their end with the display the options ask for; the exit code of the outcome."""
    from kjob.follow import Followed, follow
    from kjob.render import WaitDisplay, progress_mode

    display = WaitDisplay(app.render, progress_mode(options["progress"], app.render.quiet, sys.stderr),
                          log_every=options["log_every"], summary_path=os.environ.get("GITHUB_STEP_SUMMARY"))
    client = app.client()
    client.on_failover = display.failover
    started = time.monotonic()
    jobs = [Followed(ref, started=started) for ref in refs]
    display.start(jobs)
    try:
        follow(client, jobs, display, interval=options["interval"], fail_fast=options["fail_fast"],
               not_found_grace=options["not_found_grace"], deadline=None if timeout is None else started + timeout)
    except KeyboardInterrupt:
        display.stop(jobs, timed_out=False)
        raise Interrupted(stop_following(app, [job for job in jobs if not job.finished], options["cancel_on_interrupt"])) from None
    timed_out = any(not job.finished for job in jobs) and not (
        options["fail_fast"] and any(job.finished and job.exit_code != 0 for job in jobs))
    display.stop(jobs, timed_out=timed_out)
    return worst([job.exit_code for job in jobs])


def stop_following(app: App, running: list, cancel: bool) -> str:
    """What Ctrl-C leaves behind: the jobs go on, or (--cancel-on-interrupt) are cancelled."""
    names = ", ".join(str(job.ref) for job in running)
    if not running:
        return "interrupted"
    if not cancel:
        return f"interrupted; the jobs go on on the server: {names}"
    results = []
    for job in running:
        try:
            status, _ = app.client().cancel_job(job.ref)
            results.append(f"{job.ref}: {status or 'cancel sent'}")
        except KjobError as exc:
            results.append(f"{job.ref}: not cancelled ({exc.message})")
    return "interrupted; cancelled " + "; ".join(results)


def make_app(ctx: click.Context, params: dict[str, Any], *, as_json: bool = False, quiet: bool = False,
             timeout: float | None = None) -> App:
    """Settings from the options (click already applied environment and profile), frozen."""
    profile: Profile = ctx.meta.get("kjob.profile") or Profile()
    render = Renderer(as_json=as_json, quiet=quiet, verbose=params["verbose"])
    for warning in profile.warnings:
        render.warning(warning)
    clusters = [parse_cluster_url(url) for url in split_urls(params["urls"]) or [DEFAULT_URL]]
    user, password, token = resolve_credentials(
        params["user"], params["password_stdin"], clusters, profile, os.environ,
        prompt=lambda text: click.prompt(text, hide_input=True, err=True),
    )
    settings = Settings(
        urls=tuple(cluster.url for cluster in clusters),
        user=user,
        password=password,
        token=token,
        ca_bundle=params["ca_bundle"],
        insecure=params["insecure"],
        http_timeout=params["http_timeout"],
        wire=params["wire"],
        deadline=None if timeout is None else time.monotonic() + timeout,
        discover=params["discover"],
    )
    render.secrets = settings.secrets()
    if settings.insecure:
        render.warning("--insecure: TLS certificates are not checked")
    if params["verbose"]:
        auth = "bearer token" if token else (f"basic auth as {user}" if user else "none")
        render.trace(f"kjob {__version__}: clusters {', '.join(redact_url(u) for u in settings.urls)}; auth: {auth}"
                     + (f"; profile {profile.name}" if profile.name else ""))
    return App(settings, render, History(state_folder(os.environ)))


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
        remaining = None if app.settings.deadline is None else max(0.0, app.settings.deadline - time.monotonic())
        ref = JobRef(job_id=created.job_id, tag=created.job_tag, origin=created.cluster, text=created.job_tag)
        ctx.exit(run_wait(app, [ref], waiting, remaining))


@cli.command(cls=KjobCommand)
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds in all.")
@output_options
@cluster_options
@click.pass_context
def status(ctx: click.Context, refs: tuple[str, ...], timeout, as_json, quiet, **kwargs) -> None:
    """Look once at each job (by id or tag): endpoint, status, progress."""
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
    from kjob.results import write_result

    waiting = {name: kwargs.pop(name) for name in WAIT_OPTIONS}
    app = make_app(ctx, split_params(kwargs), timeout=timeout)
    job_ref = app.refs([ref])[0]
    if then_wait:
        waiting["progress"] = "none" if waiting["progress"] == "auto" else waiting["progress"]
        code = run_wait(app, [job_ref], waiting, timeout)
        if code != 0:
            ctx.exit(code)
    state = app.client().get_job(job_ref)
    problem = error_for(state)
    if problem is not None:
        raise problem
    if not state.finished:
        raise NotFinished(f"job {job_ref} is still {state.job_status} ({state.progress}%): add --wait to wait for it")
    write_result(app.render, state, raw=raw, output=output, fmt=fmt)


@cli.command()
@click.option("-n", "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="How many (newest last); 0: all.")
@output_options
def history(limit: int, as_json: bool, quiet: bool) -> None:
    """List the jobs kjob submitted from here (id, tag, endpoint, cluster, time)."""
    render = Renderer(as_json=as_json, quiet=quiet)
    entries = History(state_folder(os.environ)).entries()
    render.history(entries[-limit:] if limit else entries)


def look(app: App, ref) -> int:
    """Show one look at a job and return its exit code (a job not found is reported, not raised)."""
    try:
        state: JobState = app.client().get_job(ref)
    except JobNotFound as exc:
        app.render.message(f"kjob: {exc.message}", always=True)
        return exc.exit_code
    app.render.state(state)
    problem = error_for(state)
    if problem is not None and not app.render.as_json:
        app.render.message(f"kjob: {problem.message}")
    return exit_code_of(state)


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


