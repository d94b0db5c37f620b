"""What kjob's subcommands share: option sets, their value types, completions, and the profile.

Each option set reaches the command as ONE frozen object (`cluster: ClusterOptions`,
`waiting: WaitOptions`), built from the option declarations themselves, so no command pops
options out of `**kwargs` by a list of names.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from collections.abc import Callable
from typing import Any

import click

from kjob.config import DEFAULT_HTTP_TIMEOUT, DEFAULT_URL
from kjob.protocol.encodings import NAMES as ENCODINGS

PROGRESS_MODES = ("auto", "rich", "plain", "none")
DEFAULT_INTERVAL = 5.0
DEFAULT_LOG_EVERY = 30.0
NOT_FOUND_GRACE = 10.0  # seconds a job may stay unknown before it counts as not found


class CommaList(click.ParamType):
    """A repeatable option whose environment variable holds a comma-separated list."""

    name = "URL"
    envvar_list_splitter = ","


class Duration(click.ParamType):
    """Seconds as people write them: `90`, `0.5`, `90s`, `5m`, `1h30m`, `250ms`, `1d`."""

    name = "DURATION"
    PATTERN = re.compile(r"(?:([0-9]+(?:\.[0-9]*)?)d)?"
                         r"(?:([0-9]+(?:\.[0-9]*)?)h)?(?:([0-9]+(?:\.[0-9]*)?)m(?!s))?(?:([0-9]+(?:\.[0-9]*)?)s)?"
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
                days, hours, minutes, secs, millis = (float(part) if part else 0.0 for part in found.groups())
                seconds = days * 86400 + hours * 3600 + minutes * 60 + secs + millis / 1000
            else:
                self.fail(f"{value!r} is not a duration: write seconds (90, 0.5) or 90s, 5m, 1h30m", param, ctx)
        if not math.isfinite(seconds):  # 1e999, or more digits than a float holds
            self.fail(f"{value!r} is not a duration: too large", param, ctx)
        if not seconds >= self.minimum:  # also NaN
            self.fail(f"{value!r} is too short: at least {self.minimum:g} s", param, ctx)
        return seconds

    def fail(self, message, param=None, ctx=None):
        """A bad value from the environment names its variable, not only the option (click
        does it itself for an option that shows its variable)."""
        from_environment = ctx is not None and param is not None and (
            ctx.get_parameter_source(param.name) == click.core.ParameterSource.ENVIRONMENT)
        if from_environment and not getattr(param, "show_envvar", False):
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
            message = next((f"{name}: {message}" for name in names if os.environ.get(name)), message)
        super().fail(message, param, ctx)


def use_profile(ctx: click.Context, param: click.Parameter, name: str | None) -> str | None:
    """--profile (eager, so it runs before the other options take their values): the profile's
    options become the command's defaults, below the command line and the environment.

    A profile that cannot be loaded is kept as an error for when the command runs
    (cli.context.make_app), so that `--help` still shows the help."""
    if ctx.resilient_parsing:
        return name
    from kjob.config import load_profile
    from kjob.errors import BadInput

    try:
        profile = load_profile(name, os.environ)
    except BadInput as exc:
        ctx.meta["kjob.profile"] = exc
        return name
    ctx.default_map = {**profile.options, **(ctx.default_map or {})}
    ctx.meta["kjob.profile"] = profile
    return name


@dataclasses.dataclass(frozen=True)
class ClusterOptions:
    """The cluster options as given (after environment and profile): config.Settings is made from them."""

    urls: tuple[str, ...]
    user: str | None
    password_stdin: bool
    profile: str | None
    ca_bundle: str | None
    insecure: bool
    http_timeout: float
    wire: str
    discover: bool
    verbose: bool


# The options every command that talks to a cluster shares; also taken before the command, as
# kubectl and the aws CLI take theirs (`kjob --url X status 1`: see kjob.cli.hoist_cluster_options).
CLUSTER_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--url", "urls"), dict(multiple=True, type=CommaList(), envvar=["KJOB_URL", "KI_URL"], show_envvar=True,
                             help=f"Cluster URL, repeatable, primary first (default {DEFAULT_URL}).")),
    (("--user",), dict(envvar=["KJOB_USER", "KI_USER"], show_envvar=True, help="User for basic auth.")),
    (("--password-stdin",), dict(is_flag=True, help="Read the password from the first line of stdin.")),
    (("--profile",), dict(envvar="KJOB_PROFILE", show_envvar=True, is_eager=True, callback=use_profile,
                          help="Profile of the config file.")),
    (("--ca-bundle",), dict(type=click.Path(dir_okay=False), envvar=["KJOB_CA_BUNDLE", "REQUESTS_CA_BUNDLE"],
                            show_envvar=True, help="CA certificates to check TLS with.")),
    (("--insecure",), dict(is_flag=True, help="Do not check TLS certificates (warns).")),
    (("--http-timeout",), dict(type=Duration(minimum=0.1), default=DEFAULT_HTTP_TIMEOUT, envvar="KJOB_HTTP_TIMEOUT",
                               show_envvar=True, show_default=True, help="Seconds one HTTP call may take.")),
    (("--wire",), dict(type=click.Choice(ENCODINGS), default="binary", show_default=True,
                       help="Encoding of kjob's own calls to the cluster.")),
    (("--discover",), dict(is_flag=True, envvar="KJOB_DISCOVER", show_envvar=True,
                           help="Also use the HA ring's other clusters, as the first cluster reports them.")),
    (("-v", "--verbose"), dict(is_flag=True, help="Trace HTTP calls on stderr (secrets redacted).")),
]
CLUSTER_VALUE_OPTIONS = tuple(decls[0] for decls, attrs in CLUSTER_OPTIONS if not attrs.get("is_flag"))
CLUSTER_FLAGS = tuple(decl for decls, attrs in CLUSTER_OPTIONS if attrs.get("is_flag") for decl in decls)

WAIT_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--interval",), dict(type=Duration(minimum=0.1), default=DEFAULT_INTERVAL, show_default=True,
                           help="Longest pause between two looks at a job (polls start fast and back off to this).")),
    (("--progress",), dict(type=click.Choice(PROGRESS_MODES), default="auto", show_default=True,
                           help="Bars (rich), one line per change (plain) or nothing; auto: bars on a terminal.")),
    (("--log-every",), dict(type=Duration(), default=DEFAULT_LOG_EVERY, show_default=True,
                            help="Plain mode: a progress line per job at most this often (seconds).")),
    (("--not-found-grace",), dict(type=Duration(), default=NOT_FOUND_GRACE, show_default=True,
                                  help="Seconds a job may stay unknown (a tag not yet on a backup) before it counts as not found.")),
    (("--fail-fast",), dict(is_flag=True, help="Stop waiting when the first job ends badly.")),
    (("--cancel-on-interrupt",), dict(is_flag=True, help="On Ctrl-C, cancel the jobs instead of leaving them running.")),
]


def option_set(declared: list[tuple[tuple[str, ...], dict[str, Any]]], into: Callable[..., Any], name: str) -> Callable:
    """A decorator that adds the `declared` options and hands them to the command as one
    object, `into(**values)`, under the parameter `name`."""
    def decorate(command: Callable) -> Callable:
        options = [click.Option(decls, **attrs) for decls, attrs in declared]
        names = [option.name for option in options]

        @functools.wraps(command)
        def grouped(*args, **kwargs):
            kwargs[name] = into(**{key: kwargs.pop(key) for key in names})
            return command(*args, **kwargs)

        grouped.__click_params__ = [*getattr(command, "__click_params__", []), *reversed(options)]
        return grouped

    return decorate


cluster_options = option_set(CLUSTER_OPTIONS, ClusterOptions, "cluster")


def _wait_settings(**values: Any):
    from kjob.ops.wait import WaitOptions  # loaded when a command runs, not for `kjob --help`

    return WaitOptions(**values)


# The options of every command that can wait for jobs (wait, submit --wait, fetch --wait).
wait_options = option_set(WAIT_OPTIONS, _wait_settings, "waiting")


def refs_argument(command: Callable) -> Callable:
    """REF...: job ids, tags, tag:NAME or @last, completed from kjob's record of jobs."""
    return click.argument("refs", nargs=-1, required=True, metavar="REF...", shell_complete=complete_refs)(command)


TIMEOUT_HELP = "Give up after this long in all (exit 4): seconds, or 90s, 5m, 1h30m."


def timeout_option(text: str = TIMEOUT_HELP) -> Callable:
    return click.option("--timeout", type=Duration(), help=text)


def output_options(command: Callable) -> Callable:
    command = click.option("-q", "--quiet", is_flag=True, help="Print only what a script needs.")(command)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line) on stdout.")(command)


def complete_refs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Tab completion of a REF: every job kjob recorded that matches, newest first, and @last."""
    from click.shell_completion import CompletionItem

    from kjob.config import state_folder
    from kjob.history import History
    from kjob.model import ref_text

    try:
        entries = History(state_folder(os.environ)).entries()
    except click.ClickException:
        return []
    items = [CompletionItem("@last", help="the newest job kjob submitted")] if "@last".startswith(incomplete) else []
    for entry in reversed(entries):
        for text in (ref_text(entry["job_tag"]), str(entry["job_id"])):
            if text.startswith(incomplete):
                items.append(CompletionItem(text, help=f"{entry['endpoint']} {entry['submitted_at']}"))
                break
    return items


def complete_endpoints(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Tab completion of an endpoint: the registry's names (file names only, nothing parsed)."""
    from kjob.protocol.schemas import known_endpoints

    return [path for path in known_endpoints() if path.startswith(incomplete)]


def refs_command(timeout_help: str = TIMEOUT_HELP, extra: tuple = ()) -> Callable:
    """A command that acts on REF...: the REFs, --timeout, `extra` options, output and cluster options."""
    decorators = [click.command(), refs_argument, timeout_option(timeout_help), *extra,
                  output_options, cluster_options, click.pass_context]
    return lambda command: functools.reduce(lambda built, decorator: decorator(built), reversed(decorators), command)
