"""The GitHub step summary of `kjob wait`: a Markdown table of the jobs' outcomes."""

from __future__ import annotations

from kjob.output.outcomes import problem_text, ref_label, table_status, waited
from kjob.sanitize import safe


def _markdown_cell(text: str) -> str:
    """A table cell of the step summary: redacted, visible, and unable to end the cell or start HTML."""
    return safe(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def write_step_summary(path: str, jobs) -> None:
    """Append a Markdown table of the jobs' outcomes (GitHub Actions' $GITHUB_STEP_SUMMARY).

    A summary that cannot be written is left out: the wait's outcome does not hang on it."""
    lines = ["### kjob wait", "", "| job | endpoint | status | waited | message |", "|---|---|---|---|---|"]
    for job in jobs:
        cells = [ref_label(job), job.state.endpoint if job.state else "", table_status(job), waited(job), problem_text(job)]
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\n")
    except OSError:
        pass
