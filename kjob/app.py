"""One command run: settings assembled from the parsed options, and the steps the commands share.

cli.py parses; this module turns options into frozen Settings, holds the renderer, the client
(made on first use) and kjob's record of jobs, and runs the multi-step parts (a wait with its
display and Ctrl-C, one look at a job). It is imported only once a command runs, so that
`kjob --help` never pays for it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from kjob import __version__
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
from kjob.errors import Interrupted, JobNotFound, KjobError, NotFinished, ProtocolError
from kjob.history import History
from kjob.jobs import JobRef, JobState, error_for, exit_code_of, parse_ref, worst
from kjob.render import Renderer


class App:
    """What a command needs: settings, a renderer, kjob's record of jobs, and the client."""

    def __init__(self, settings: Settings, render: Renderer, history: History) -> None:
        self.settings = settings
        self.render = render
        self.history = history
        self._client = None

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
        if entry["cluster"] not in self.settings.urls:  # say so: a job on a cluster (or an emulator) not in use
            self.render.warning(
                f"@last is job {entry['job_id']} (tag {entry['job_tag']}), submitted to {redact_url(entry['cluster'])}, "
                f"not to a cluster in use ({', '.join(redact_url(url) for url in self.settings.urls)}); "
                "looking for its tag there")
        return JobRef(job_id=entry["job_id"], tag=entry["job_tag"], origin=entry["cluster"])

    def remember(self, created) -> None:
        """Add a submitted job to kjob's record; a record that cannot be written only warns."""
        remaining = self.remaining()  # a lock held elsewhere is waited for within the command's bounds
        wait = self.settings.http_timeout if remaining is None else min(self.settings.http_timeout, remaining)
        try:
            self.history.add(created.job_id, created.job_tag, created.endpoint, created.cluster, wait=wait)
        except OSError as exc:
            self.render.warning(f"cannot record the job in {self.history.path}: {exc.strerror or exc}")

    def remaining(self) -> float | None:
        """Seconds left before the command's deadline (--timeout), or None."""
        deadline = self.settings.deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())


def make_app(ctx: click.Context, params: dict[str, Any], *, as_json: bool = False, quiet: bool = False,
             timeout: float | None = None) -> App:
    """Settings from the options (click already applied environment and profile), frozen."""
    from kjob.sanitize import forget_secrets

    forget_secrets()  # a run knows the secrets of its own settings (tests run many in one process)
    profile: Profile = ctx.meta.get("kjob.profile") or Profile()
    render = Renderer(as_json=as_json, quiet=quiet, verbose=params["verbose"])
    for warning in profile.warnings:
        render.warning(warning)
    clusters = [parse_cluster_url(url) for url in split_urls(params["urls"]) or [DEFAULT_URL]]
    if any(cluster.password for cluster in clusters) and ctx.get_parameter_source("urls") == click.core.ParameterSource.COMMANDLINE:
        render.warning("a password in --url shows in the process list (ps) and the shell's history: set KJOB_PASSWORD,"
                       " or use --password-stdin or a profile's password_file")
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
    if settings.insecure:
        render.warning("--insecure: TLS certificates are not checked")
    if params["verbose"]:
        auth = "bearer token" if token else (f"basic auth as {user}" if user else "none")
        render.trace(f"kjob {__version__}: clusters {', '.join(redact_url(u) for u in settings.urls)}; auth: {auth}"
                     + (f"; profile {profile.name}" if profile.name else ""))
    return App(settings, render, History(state_folder(os.environ)))


def look(app: App, ref: JobRef) -> int:
    """Show one look at a job and return its exit code (a job not found is reported, not raised)."""
    try:
        state: JobState = app.client().get_job(ref)
    except (JobNotFound, ProtocolError) as exc:
        app.render.message(f"kjob: {exc.message}", always=True)
        return exc.exit_code
    app.render.state(state)
    problem = error_for(state)
    if problem is not None and not app.render.as_json:
        app.render.message(f"kjob: {problem.message}")
    return exit_code_of(state)


def cancel(app: App, ref: JobRef) -> int:
    """Cancel one job, idempotently: a job that has already ended is reported so, exit 0."""
    client = app.client()
    try:
        before = client.get_job(ref)
    except JobNotFound as exc:
        app.render.message(f"kjob: {exc.message}", always=True)
        return exc.exit_code
    ref = ref.with_tag(before.tag)
    server_status = ""
    if not before.finished:
        server_status, _ = client.cancel_job(ref)
    after = settle_cancel(app, ref) if not before.finished else before
    app.render.cancelled(after, already_ended=before.finished, server_status=server_status)
    if after.job_status == "RUNNING":
        return NotFinished.exit_code
    return 0


CANCEL_GRACE, CANCEL_LOOK_EVERY = 5.0, 0.1


def settle_cancel(app: App, ref: JobRef) -> JobState:
    """The job after a cancel: Kinetica stops a job at its next checkpoint, so kjob looks again
    for a few seconds (never past --timeout) before it reports the job still running."""
    remaining = app.remaining()
    give_up = time.monotonic() + (CANCEL_GRACE if remaining is None else min(CANCEL_GRACE, remaining))
    while True:
        state = app.client().get_job(ref)
        if state.finished or time.monotonic() + CANCEL_LOOK_EVERY > give_up:
            return state
        time.sleep(CANCEL_LOOK_EVERY)


def tags_of_listed_jobs(text: str, count: int) -> list[str]:
    """Each listed job's tag from /admin/show/jobs' info map: how it holds one per job is not
    documented (a JSON array or comma-joined); anything else leaves the tags unknown."""
    import json

    try:
        tags = json.loads(text)
    except ValueError:
        tags = text.split(",")
    if not isinstance(tags, list) or len(tags) != count or not all(isinstance(tag, str) for tag in tags):
        return [""] * count
    return tags


def list_jobs(app: App, include_finished: bool) -> None:
    """The jobs the cluster knows (/admin/show/jobs), newest first, in the server's own status words.

    Without --all, a person is told how many ended jobs are left out (a second look, with them)."""
    answer, cluster = app.client().list_jobs(include_finished)
    tags = tags_of_listed_jobs(answer["info"].get("job_tag", ""), len(answer["job_id"]))
    found = sorted(
        ((received, job_id, status, endpoint, user, tag)
         for job_id, status, endpoint, received, user, tag in zip(
             answer["job_id"], answer["status"], answer["endpoint_name"], answer["time_received"], answer["auth_id"], tags)
         if endpoint != "/admin/show/jobs"),  # Kinetica lists the requests it is serving: this one too
        reverse=True)
    rows = [
        {"job_id": job_id, "job_status": status, "endpoint": endpoint, "job_tag": tag or None,
         "time_received": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(received / 1000)), "user": user, "cluster": cluster}
        for received, job_id, status, endpoint, user, tag in found
    ]
    hidden = 0
    if not include_finished and not (app.render.as_json or app.render.quiet):
        everything, _ = app.client().list_jobs(True)
        shown = {row["job_id"] for row in rows}
        # Kinetica lists the requests it is serving too: this second look is not an ended job.
        hidden = sum(1 for job_id, endpoint in zip(everything["job_id"], everything["endpoint_name"])
                     if job_id not in shown and endpoint != "/admin/show/jobs")
    app.render.job_list(rows, hidden)


def run_wait(app: App, refs: list[JobRef], options: dict[str, Any], timeout: float | None, *, outcomes: bool = True) -> int:
    """Follow jobs to their end with the display the options ask for; the exit code of the outcome.

    `outcomes`: each job's outcome line goes to stdout (not for fetch, whose stdout is the response)."""
    from kjob.follow import Followed, follow
    from kjob.render import WaitDisplay, progress_mode

    display = WaitDisplay(app.render, progress_mode(options["progress"], app.render.quiet, sys.stderr),
                          log_every=options["log_every"], summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
                          outcomes=outcomes)
    client = app.client()
    client.on_failover = display.failover
    client.on_retry = display.retry  # above the bars, and once per outage rather than once per poll
    if client.trace is not None:
        client.trace = display.trace  # --verbose lines go above the bars too
    started = time.monotonic()
    jobs = [Followed(ref, started=started) for ref in dict.fromkeys(refs)]  # a job named twice is followed once
    display.start(jobs)
    try:
        follow(client, jobs, display, interval=options["interval"], fail_fast=options["fail_fast"],
               not_found_grace=options["not_found_grace"], deadline=None if timeout is None else started + timeout)
    except KeyboardInterrupt:
        display.stop(jobs, timed_out=False)
        running = [job for job in jobs if not job.finished]
        raise Interrupted(stop_following(app, running, options["cancel_on_interrupt"])) from None
    except BaseException:
        display.abort()  # give the terminal back (cursor, line) before the error is shown
        raise
    stopped_early = options["fail_fast"] and any(job.finished and job.exit_code != 0 for job in jobs)
    display.stop(jobs, timed_out=any(not job.finished for job in jobs) and not stopped_early)
    return worst([job.exit_code for job in jobs])


def stop_following(app: App, running: list, cancel: bool) -> str:
    """What Ctrl-C leaves behind: the jobs go on, or (--cancel-on-interrupt) are cancelled."""
    if not running:
        return "interrupted"
    if not cancel:
        return "interrupted; the jobs go on on the server: " + ", ".join(str(job.ref) for job in running)
    results = []
    for job in running:
        try:
            status, _ = app.client().cancel_job(job.ref)
            results.append(f"{job.ref}: {status}" if status.upper() == "CANCELLED" else f"{job.ref}: cancel requested")
        except KjobError as exc:
            results.append(f"{job.ref}: not cancelled ({exc.message})")
    return "interrupted; cancelled " + "; ".join(results)


def finished_job(app: App, ref: JobRef, sink=None) -> JobState:
    """The job, DONE, its response given to `sink`; a job that ended badly raises its error,
    one still running NotFinished."""
    state = app.client().get_job(ref, sink)
    problem = error_for(state)
    if problem is not None:
        raise problem
    if not state.finished:
        raise NotFinished(f"job {ref} is still {state.job_status} ({state.progress}%): add --wait to wait for it")
    return state
