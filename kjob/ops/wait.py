"""kjob wait (and submit --wait, fetch --wait): following jobs to their end, concurrent polls
over one session, backing off to an interval.

No printing: what happens is told to a listener (the display the click layer chose), and the
outcome of every job is returned. A job is polled soon after it is first seen, then less and less often up to
`interval`, so a short job ends quickly and a long one costs little.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from kjob.config import seconds
from kjob.errors import (
    DeadlineCut,
    ExitStatus,
    Interrupted,
    JobNotFound,
    KjobError,
    NoClusterReachable,
    NotFinished,
    ProtocolError,
    ServerRefused,
)
from kjob.model import JobRef, JobState, error_for, exit_code_of, worst
from kjob.ops.context import App

FIRST_POLL = 0.2  # seconds before the second look at a job (for up to CROWD jobs)
CROWD = 20  # past this many jobs, the first pauses grow in proportion, so polls stay at about 100/s
POLL_GROWTH = 1.5  # each later look waits this much longer, up to the interval
UNREACHABLE_GRACE = 60.0  # seconds no cluster may answer before the wait gives up on a job
END_MARGIN = 0.1  # seconds after a job's expected end to look at it
MAX_WORKERS = 8  # concurrent polls, and so at most this many connections per cluster


@dataclass(frozen=True)
class WaitOptions:
    """How to wait, as the wait options gave it (the display itself is chosen by the click layer)."""

    interval: float
    progress: str
    log_every: float
    not_found_grace: float
    fail_fast: bool
    cancel_on_interrupt: bool


@dataclass
class Followed:
    """One job being followed: its latest look, or why there is none."""

    ref: JobRef
    started: float
    state: JobState | None = None
    error: KjobError | None = None
    ended: float | None = None
    next_poll: float = 0.0
    delay: float = FIRST_POLL
    missing_since: float | None = None
    unreachable_since: float | None = None
    unreachable: NoClusterReachable | None = None  # why, while it is unreachable
    first_progress: tuple[float, int] | None = None  # (when, progress) of the first look
    looked: bool = False  # a look has been made, whatever it found
    ended_before: bool = False  # the wait's first look found it ended: it had ended before the wait began

    @property
    def finished(self) -> bool:
        return self.ended is not None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        if self.state is None or not self.state.finished:
            return NotFinished.exit_code
        return exit_code_of(self.state)

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def problem(self) -> KjobError | None:
        """What went wrong for this job, if anything (an error, or a job that ended badly)."""
        return self.error or (error_for(self.state) if self.state else None)


class Listener(Protocol):
    def seen(self, job: Followed, previous: str | None) -> None: ...

    def ended(self, job: Followed) -> None: ...

    def trouble(self, job: Followed, text: str) -> None: ...


def wait(app: App, refs: list[JobRef], options: WaitOptions, display) -> int:
    """Follow jobs to their end (or the command's deadline), told to `display` (a
    kjob.output.progress.WaitDisplay); the exit code of the outcome."""
    client = app.client()
    client.on_failover = display.failover
    client.on_retry = display.retry  # above the bars, and once per outage rather than once per poll
    if client.trace is not None:
        client.trace = display.trace  # --verbose lines go above the bars too
    started = time.monotonic()
    jobs = [Followed(ref, started=started) for ref in dict.fromkeys(refs)]  # a job named twice is followed once
    display.start(jobs)
    try:
        follow(client, jobs, display, interval=options.interval, fail_fast=options.fail_fast,
               not_found_grace=options.not_found_grace, deadline=app.settings.deadline)
    except KeyboardInterrupt:
        display.stop(jobs, timed_out=False)
        running = [job for job in jobs if not job.finished]
        raise Interrupted(stop_following(app, running, options.cancel_on_interrupt)) from None
    except BaseException:
        display.abort()  # give the terminal back (cursor, line) before the error is shown
        raise
    stopped_early = options.fail_fast and any(job.finished and job.exit_code != ExitStatus.OK for job in jobs)
    display.stop(jobs, timed_out=any(not job.finished for job in jobs) and not stopped_early)
    return worst([job.exit_code for job in jobs])


def stop_following(app: App, running: list[Followed], cancel: bool) -> str:
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


def follow(
    client,
    jobs: list[Followed],
    listener: Listener,
    *,
    interval: float,
    deadline: float | None,
    not_found_grace: float,
    fail_fast: bool = False,
    unreachable_grace: float = UNREACHABLE_GRACE,
) -> list[Followed]:
    """Poll every job until each has ended, the deadline passes, or (fail_fast) one ends badly."""
    first = min(interval, FIRST_POLL * max(1.0, len(jobs) / CROWD))
    for job in jobs:
        job.delay = first
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(jobs)), thread_name_prefix="kjob-poll") as pool:
        while True:
            now = time.monotonic()
            due = [job for job in jobs if not job.finished and job.next_poll <= now]
            for job, outcome in zip(due, pool.map(lambda job: _look(client, job.ref), due), strict=True):
                _apply(job, outcome, listener, interval, not_found_grace, unreachable_grace, deadline)
            pending = [job for job in jobs if not job.finished]
            if not pending or (fail_fast and any(job.exit_code != ExitStatus.OK for job in jobs if job.finished)):
                return jobs
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                for job in pending:  # unreachable at the end: kjob cannot know it still runs
                    if job.unreachable is not None:
                        _unreachable_at_end(job, listener, now)
                return jobs
            wake = min(job.next_poll for job in pending)
            if deadline is not None:
                wake = min(wake, deadline)
            time.sleep(max(0.0, wake - now))


def _look(client, ref: JobRef) -> JobState | KjobError:
    try:
        return client.get_job(ref)
    except (JobNotFound, NoClusterReachable, ServerRefused, ProtocolError) as exc:  # ProtocolError: another job's answer
        return exc


def _apply(job: Followed, outcome: JobState | KjobError, listener: Listener, interval: float,
           not_found_grace: float, unreachable_grace: float, deadline: float | None = None) -> None:
    now = time.monotonic()
    first_look, job.looked = not job.looked, True
    job.next_poll = now + job.delay
    job.delay = min(interval, job.delay * POLL_GROWTH)
    if isinstance(outcome, JobState):
        previous = job.state.job_status if job.state else None
        moved = job.state is None or outcome.progress > job.state.progress
        job.state, job.missing_since, job.unreachable_since, job.unreachable = outcome, None, None, None
        job.ended_before = first_look and outcome.finished  # not when it ended while unreachable or not yet found
        if moved:  # a job whose progress stands still is not about to end: no early look
            job.next_poll = min(job.next_poll, _expected_end(job, outcome, now))
        job.ref = _learn(job.ref, outcome)
        listener.seen(job, previous)
        if outcome.finished:
            job.ended = now
            listener.ended(job)
        return
    if isinstance(outcome, JobNotFound):
        first = job.missing_since is None
        job.missing_since = job.missing_since or now
        if now - job.missing_since < not_found_grace:
            if first:
                listener.trouble(job, f"job {job.ref} not found yet; waiting up to {not_found_grace:g} s for it to appear"
                                      " (--not-found-grace)")
            return
    elif isinstance(outcome, DeadlineCut) and job.unreachable is None:
        return  # the command's deadline ended this look: timed out (exit 4), not unreachable
    elif isinstance(outcome, NoClusterReachable):
        first = job.unreachable_since is None
        job.unreachable_since, job.unreachable = job.unreachable_since or now, outcome
        if now - job.unreachable_since < unreachable_grace:
            if first:
                last = f"; last seen {job.state.job_status} {job.state.progress}%" if job.state else ""
                left = unreachable_grace if deadline is None else min(unreachable_grace, max(0.0, deadline - now))
                until = f"for {seconds(left)} s" if left >= 1 else "until the deadline"
                listener.trouble(job, f"job {job.ref} unreachable{last}: {outcome.cause}; still trying {until}")
            return
        outcome = _unreachable_error(job, outcome)
    job.error, job.ended = outcome, now
    listener.ended(job)


def _unreachable_error(job: Followed, outcome: NoClusterReachable) -> NoClusterReachable:
    """The job's outcome when it could not be reached: its last known state, and why."""
    if job.state is None:  # never reached: the first-contact error, with its hint
        return outcome
    return NoClusterReachable(f"last seen {job.state.job_status} {job.state.progress}%, could not be reached: {outcome.cause}")


def _unreachable_at_end(job: Followed, listener: Listener, now: float) -> None:
    job.error, job.ended = _unreachable_error(job, job.unreachable), now
    listener.ended(job)


def _expected_end(job: Followed, state: JobState, now: float) -> float:
    """When the job should end, from how fast its progress has risen (a look just after it)."""
    if job.first_progress is None:
        job.first_progress = (now, state.progress)
        return float("inf")
    since, first = job.first_progress
    if state.finished or state.progress <= first or state.progress >= 100:
        return float("inf")
    rate = (state.progress - first) / (now - since)
    return now + max(FIRST_POLL, (100 - state.progress) / rate + END_MARGIN)


def _learn(ref: JobRef, state: JobState) -> JobRef:
    """Keep what an answer taught: the job's tag, and which cluster its id belongs to."""
    if ref.job_id is not None and ref.origin is None and state.job_id == ref.job_id:
        ref = ref._replace(origin=state.cluster)
    return ref.with_tag(state.tag)
