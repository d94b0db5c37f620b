"""From parsed options to what an operation is given: the frozen Settings, the renderer, kjob's
record of jobs (an App), and the wait display. The environment and the terminal are read here,
once, never below.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import click

from kjob import __version__
from kjob.cli.options import ClusterOptions
from kjob.config import (
    DEFAULT_URL,
    Profile,
    Settings,
    parse_cluster_url,
    redact_url,
    resolve_credentials,
    split_urls,
    state_folder,
)
from kjob.errors import BadInput
from kjob.history import History
from kjob.ops.context import App
from kjob.output.lines import Renderer

if TYPE_CHECKING:  # `kjob status` does not load the wait machinery (threads, the follower)
    from kjob.ops.wait import WaitOptions


def make_app(ctx: click.Context, cluster: ClusterOptions, *, as_json: bool = False, quiet: bool = False,
             timeout: float | None = None) -> App:
    """What an operation is given, from the options (click already applied environment and profile)."""
    from kjob.sanitize import forget_secrets

    forget_secrets()  # a run knows the secrets of its own settings (tests run many in one process)
    profile: Profile | BadInput = ctx.meta.get("kjob.profile") or Profile()
    if isinstance(profile, BadInput):
        raise profile
    render = Renderer(as_json=as_json, quiet=quiet, verbose=cluster.verbose)
    for warning in profile.warnings:
        render.warning(warning)
    from_command_line = ctx.get_parameter_source("urls") == click.core.ParameterSource.COMMANDLINE
    settings = make_settings(cluster, profile, render, timeout, urls_typed=from_command_line)
    return App(settings, render, History(state_folder(os.environ)))


def make_settings(cluster: ClusterOptions, profile: Profile, render: Renderer, timeout: float | None, *,
                  urls_typed: bool) -> Settings:
    """The frozen Settings: clusters, credentials, and --timeout as the command's one deadline."""
    clusters = [parse_cluster_url(url) for url in split_urls(cluster.urls) or [DEFAULT_URL]]
    if urls_typed and any(each.password for each in clusters):
        render.warning("a password in --url shows in the process list (ps) and the shell's history: set KJOB_PASSWORD,"
                       " or use --password-stdin or a profile's password_file")
    user, password, token = resolve_credentials(
        cluster.user, cluster.password_stdin, clusters, profile, os.environ,
        prompt=lambda text: click.prompt(text, hide_input=True, err=True),
    )
    settings = Settings(
        urls=tuple(each.url for each in clusters), user=user, password=password, token=token,
        ca_bundle=cluster.ca_bundle, insecure=cluster.insecure, http_timeout=cluster.http_timeout, wire=cluster.wire,
        deadline=None if timeout is None else time.monotonic() + timeout, timeout=timeout, discover=cluster.discover,
    )
    if settings.insecure:
        render.warning("--insecure: TLS certificates are not checked")
    if cluster.verbose:
        auth = "bearer token" if token else (f"basic auth as {user}" if user else "none")
        render.trace(f"kjob {__version__}: clusters {', '.join(redact_url(u) for u in settings.urls)}; auth: {auth}"
                     + (f"; profile {profile.name}" if profile.name else ""))
    return settings


def wait_display(app: App, waiting: WaitOptions, *, outcomes: bool = True):
    """The display of a wait, chosen once from --progress, -q and the terminal; `outcomes`: each
    job's outcome line goes to stdout (not for fetch, whose stdout is the response)."""
    from kjob.output.progress import WaitDisplay, progress_mode

    return WaitDisplay(app.render, progress_mode(waiting.progress, app.render.quiet, app.render.err_terminal),
                       log_every=waiting.log_every, summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
                       outcomes=outcomes)
