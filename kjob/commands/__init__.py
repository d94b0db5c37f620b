"""What kjob's subcommands share: option sets, profile defaults, and the command class.

Each subcommand lives in a module of its own, loaded only when it runs or shows its help.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from typing import Any

import click

from kjob.config import DEFAULT_HTTP_TIMEOUT, DEFAULT_URL

ENCODINGS = ("binary", "json", "snappy")


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


class Duration(click.ParamType):
    """Seconds as people write them: `90`, `0.5`, `90s`, `5m`, `1h30m`, `250ms`."""

    name = "DURATION"
    PATTERN = re.compile(r"(?:([0-9]+(?:\.[0-9]*)?)h)?(?:([0-9]+(?:\.[0-9]*)?)m(?!s))?(?:([0-9]+(?:\.[0-9]*)?)s)?"
                         r"(?:([0-9]+(?:\.[0-9]*)?)ms)?")

    def __init__(self, minimum: float = 0.0) -> None:
        self.minimum = minimum

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            text = str(value).strip().lower()
            found = self.PATTERN.fullmatch(text) if text else None
            if re.fullmatch(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+", text):
                seconds = float(text)
            elif found and any(found.groups()):
                hours, minutes, secs, millis = (float(part) if part else 0.0 for part in found.groups())
                seconds = hours * 3600 + minutes * 60 + secs + millis / 1000
            else:
                self.fail(f"{value!r} is not a duration: write seconds (90, 0.5) or 90s, 5m, 1h30m", param, ctx)
        if not math.isfinite(seconds):  # 1e999, or more digits than a float holds
            self.fail(f"{value!r} is not a duration: too large", param, ctx)
        if not seconds >= self.minimum:  # also NaN
            self.fail(f"{value!r} is too short: at least {self.minimum:g} s", param, ctx)
        return seconds

    def fail(self, message, param=None, ctx=None):
        """A bad value from the environment names its variable, not only the option."""
        if param is not None and ctx is not None and ctx.get_parameter_source(param.name) == click.core.ParameterSource.ENVIRONMENT:
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
            message = next((f"{name}: {message}" for name in names if os.environ.get(name)), message)
        super().fail(message, param, ctx)


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
        click.option("--ca-bundle", type=click.Path(dir_okay=False), envvar=["KJOB_CA_BUNDLE", "REQUESTS_CA_BUNDLE"],
                     show_envvar=True, help="CA certificates to check TLS with."),
        click.option("--insecure", is_flag=True, help="Do not check TLS certificates (warns)."),
        click.option("--http-timeout", type=Duration(minimum=0.1), default=DEFAULT_HTTP_TIMEOUT,
                     envvar="KJOB_HTTP_TIMEOUT", show_default=True, help="Seconds one HTTP call may take."),
        click.option("--wire", type=click.Choice(ENCODINGS), default="binary", show_default=True,
                     help="Encoding of kjob's own calls to the cluster."),
        click.option("--discover", is_flag=True, envvar="KJOB_DISCOVER", show_envvar=True,
                     help="Also use the HA ring's other clusters, as the first cluster reports them."),
        click.option("-v", "--verbose", is_flag=True, help="Trace HTTP calls on stderr (secrets redacted)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def refs_argument(command: Callable) -> Callable:
    """REF...: job ids, tags, tag:NAME or @last, completed from kjob's record of jobs."""
    return click.argument("refs", nargs=-1, required=True, metavar="REF...", shell_complete=complete_refs)(command)


def timeout_option(text: str = "Give up after this long in all (exit 4): seconds, or 90s, 5m, 1h30m.") -> Callable:
    return click.option("--timeout", type=Duration(), help=text)


def output_options(command: Callable) -> Callable:
    command = click.option("-q", "--quiet", is_flag=True, help="Print only what a script needs.")(command)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line) on stdout.")(command)


DEFAULT_INTERVAL = 5.0
DEFAULT_LOG_EVERY = 30.0
NOT_FOUND_GRACE = 10.0  # seconds a job may stay unknown before it counts as not found


def wait_options(command: Callable) -> Callable:
    """The options of every command that can wait for jobs (wait, submit --wait, fetch --wait)."""
    options = [
        click.option("--interval", type=Duration(minimum=0.1), default=DEFAULT_INTERVAL, show_default=True,
                     help="Longest pause between two looks at a job (polls start fast and back off to this)."),
        click.option("--progress", "progress", type=click.Choice(["auto", "rich", "plain", "none"]), default="auto",
                     show_default=True, help="Bars (rich), one line per change (plain) or nothing; auto: bars on a terminal."),
        click.option("--log-every", type=Duration(), default=DEFAULT_LOG_EVERY, show_default=True,
                     help="Plain mode: a progress line per job at most this often (seconds)."),
        click.option("--not-found-grace", type=Duration(), default=NOT_FOUND_GRACE, show_default=True,
                     help="Seconds a job may stay unknown (a tag not yet on a backup) before it counts as not found."),
        click.option("--fail-fast", is_flag=True, help="Stop waiting when the first job ends badly."),
        click.option("--cancel-on-interrupt", is_flag=True, help="On Ctrl-C, cancel the jobs instead of leaving them running."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


WAIT_OPTIONS = ("interval", "progress", "log_every", "not_found_grace", "fail_fast", "cancel_on_interrupt")


def split_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs.pop(name) for name in CLUSTER_OPTIONS}


def complete_refs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Tab completion of a REF: the jobs kjob submitted from here, newest first, and @last."""
    from click.shell_completion import CompletionItem

    from kjob.config import state_folder
    from kjob.history import History
    from kjob.jobs import ref_text

    try:
        entries = History(state_folder(os.environ)).entries()
    except click.ClickException:
        return []
    items = [CompletionItem("@last", help="the newest job kjob submitted")] if "@last".startswith(incomplete) else []
    for entry in reversed(entries[-50:]):
        for text in (ref_text(entry["job_tag"]), str(entry["job_id"])):
            if text.startswith(incomplete):
                items.append(CompletionItem(text, help=f"{entry['endpoint']} {entry['submitted_at']}"))
                break
    return items


def complete_endpoints(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Tab completion of an endpoint: the registry's names (file names only, nothing parsed)."""
    from kjob.protocol.schemas import known_endpoints

    return [path for path in known_endpoints() if path.startswith(incomplete)]


def refs_command(timeout_help: str = "Give up after this long in all (exit 4): seconds, or 90s, 5m, 1h30m.",
                 extra: tuple = ()) -> Callable:
    """A command that acts on REF...: the REFs, --timeout, `extra` options, output and cluster options."""
    decorators = [click.command(cls=KjobCommand), refs_argument, timeout_option(timeout_help), *extra,
                  output_options, cluster_options, click.pass_context]
    return lambda command: functools.reduce(lambda built, decorator: decorator(built), reversed(decorators), command)
