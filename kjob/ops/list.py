"""kjob list: the jobs a cluster knows, through /admin/show/jobs."""

from __future__ import annotations

import json

from kjob.model import listed_job
from kjob.ops.context import App

SHOW_JOBS = "/admin/show/jobs"  # Kinetica lists the requests it is serving: the listing itself too


def tags_of_listed_jobs(text: str, count: int) -> list[str]:
    """Each listed job's tag from /admin/show/jobs' info map: how it holds one per job is not
    documented (a JSON array or comma-joined); anything else leaves the tags unknown."""
    try:
        tags = json.loads(text)
    except ValueError:
        tags = text.split(",")
    if not isinstance(tags, list) or len(tags) != count or not all(isinstance(tag, str) for tag in tags):
        return [""] * count
    return tags


def list_jobs(app: App, include_finished: bool, count_hidden: bool) -> tuple[list[dict], int]:
    """The jobs the cluster knows, newest first, in the server's own status words, and how many
    ended jobs were left out (with `count_hidden`, for a person: a second look, with them)."""
    answer, cluster = app.client().list_jobs(include_finished)
    tags = tags_of_listed_jobs(answer["info"].get("job_tag", ""), len(answer["job_id"]))
    found = sorted(
        ((received, job_id, status, endpoint, user, tag)
         for job_id, status, endpoint, received, user, tag in zip(
             answer["job_id"], answer["status"], answer["endpoint_name"], answer["time_received"], answer["auth_id"], tags,
             strict=False)  # the server's columns, as /show/jobs sends them: a short one ends the list, as before
         if endpoint != SHOW_JOBS),
        reverse=True)
    rows = [listed_job(job_id, status, endpoint, received, user, tag, cluster)
            for received, job_id, status, endpoint, user, tag in found]
    hidden = 0
    if count_hidden and not include_finished:
        everything, _ = app.client().list_jobs(True)
        shown = {row["job_id"] for row in rows}
        hidden = sum(1 for job_id, endpoint in zip(everything["job_id"], everything["endpoint_name"], strict=False)
                     if job_id not in shown and endpoint != SHOW_JOBS)
    return rows, hidden
