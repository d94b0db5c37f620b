"""kjob status: one look at each job."""

from __future__ import annotations

from kjob.errors import JobNotFound, ProtocolError
from kjob.model import JobRef, error_for, exit_code_of, worst
from kjob.ops.context import App


def status(app: App, refs: list[JobRef]) -> int:
    """Show one look at each job; the exit code of the worst."""
    return worst([look(app, ref) for ref in refs])


def look(app: App, ref: JobRef) -> int:
    """Show one look at a job and return its exit code (a job not found is reported, not raised)."""
    try:
        state = app.client().get_job(ref)
    except (JobNotFound, ProtocolError) as exc:
        app.render.message(f"kjob: {exc.message}", always=True)
        return exc.exit_code
    app.render.state(state)
    problem = error_for(state)
    if problem is not None and not app.render.as_json:
        app.render.message(f"kjob: {problem.message}")
    return exit_code_of(state)
