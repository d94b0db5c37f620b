"""A followed job in words: its label, how it stands, how long it was waited for, what went wrong.

The bars, the outcome lines, the --json records, the summary table and the step summary of
`kjob wait` all say a job the same way, from here.
"""

from __future__ import annotations

from kjob.errors import ERROR_WORDS, ExitStatus
from kjob.model import ref_text


def ref_label(job) -> str:
    """The REF as typed, with the tag learnt for a job named by id: `12 (nightly)`."""
    ref = str(job.ref)
    tag = job.state.tag if job.state else None
    if job.ref.job_id is not None and tag and ref_text(tag) != ref:
        return f"{ref} ({ref_text(tag)})"  # an all-digit tag as a REF: `41 (tag:3)`
    return ref


def outcome_text(job) -> str:
    """The word for how a job stands: its status, or what kept kjob from seeing it."""
    if job.error is not None and job.state is None:
        return ERROR_WORDS.get(job.error.exit_code, "FAILED")
    if job.unreachable_since is not None:  # unreachable now, or at the end (its last status is not its outcome)
        return "UNREACHABLE"
    return job.state.job_status if job.state else "waiting"  # not seen yet (the not-found grace)


def table_status(job) -> str:
    """The status column of a summary (on screen or the step summary): the server's word for a
    job seen, what kept kjob from it, or `not seen` when the wait ended before the job appeared."""
    return outcome_text(job) if job.state or job.error is not None or job.unreachable_since is not None else "not seen"


def waited(job) -> str:
    """How long kjob waited for a job; `already` for one that had ended before the wait began."""
    return "already" if job.ended_before else f"{job.elapsed:.1f} s"


def problem_text(job) -> str:
    """Why a job ended badly, in a few words: the job's own error message, or kjob's."""
    if job.error is not None:
        return job.error.message
    if job.state is not None and job.state.job_status == "ERROR":
        return job.state.error_message or "(no message)"
    if job.state is not None and job.finished and not job.state.known_status:
        return "a status kjob does not know (not DONE, ERROR or CANCELLED)"
    return ""


def end_line(job) -> str:
    """A job's outcome, one line of data: `job REF ENDPOINT: DONE (waited 2.0 s)`, `already DONE`..."""
    state = job.state
    if job.error is not None:  # what kept kjob from the outcome, under the job's name
        if job.unreachable_since is None and job.error.message.startswith((f"job {job.ref} ", f"job {job.ref}:")):
            return job.error.message  # it names the job already (not found, another job's answer)
        word = ExitStatus.UNREACHABLE.word if job.unreachable_since is not None else ERROR_WORDS.get(job.error.exit_code, "FAILED")
        return f"job {ref_label(job)}{' ' + state.endpoint if state else ''}: {word}: {job.error.message}"
    if state is None:
        return f"job {ref_label(job)}: not seen (waited {job.elapsed:.1f} s)"
    if not job.finished:
        text = f"job {ref_label(job)} {state.endpoint}: still {state.job_status} {state.progress}% (waited {job.elapsed:.1f} s)"
    elif waited(job) == "already":
        text = f"job {ref_label(job)} {state.endpoint}: already {state.job_status}"
    else:
        text = f"job {ref_label(job)} {state.endpoint}: {state.job_status} (waited {job.elapsed:.1f} s)"
    detail = problem_text(job)
    return f"{text}: {detail}" if detail else text
