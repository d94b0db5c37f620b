"""kjob cancel: stop jobs through /admin/alter/jobs, idempotently."""

from __future__ import annotations

import time

from kjob.errors import ExitStatus, Interrupted, JobNotFound
from kjob.model import JobRef, JobState, worst
from kjob.ops.context import App

CANCEL_GRACE, CANCEL_LOOK_EVERY = 5.0, 0.1


def cancel(app: App, refs: list[JobRef]) -> int:
    """Cancel each job; the exit code of the worst."""
    return worst([cancel_one(app, ref) for ref in refs])


def cancel_one(app: App, ref: JobRef) -> int:
    """Cancel one job, idempotently: a job that has already ended is reported so, exit 0."""
    client = app.client()
    try:
        before = client.get_job(ref)
    except JobNotFound as exc:
        app.render.message(f"kjob: {exc.message}", always=True)
        return exc.exit_code
    ref = ref.with_tag(before.tag)
    server_status, after = "", before
    if not before.finished:
        try:
            server_status, _ = client.cancel_job(ref)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while the cancel of {ref} was being sent (check with: kjob status {ref})") from None
        try:
            after = settle_cancel(app, ref)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; the cancel of {ref} was sent, and the job may still be stopping "
                              f"(check with: kjob status {ref})") from None
    app.render.cancelled(after, already_ended=before.finished, server_status=server_status)
    if after.job_status == "RUNNING":
        return ExitStatus.NOT_FINISHED
    return ExitStatus.OK


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
