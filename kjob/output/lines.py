"""Each command's output, in the form the run asked for: --json, -q or words for a person.

The form is chosen once, when the command starts: `Renderer(as_json=..., quiet=...)` makes a
JsonLines, a QuietLines or a HumanLines, and each says every command's result its own way, so
no method asks which form it is in. What they share (stderr messages, warnings, --verbose
traces, a data line) is Renderer's. Every line passes kjob.sanitize on its way out.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from kjob.config import redact_url
from kjob.model import cancel_record, ref_text, tag_label
from kjob.output.rows import json_text
from kjob.output.terminal import STATUS_COLOURS, Terminal
from kjob.sanitize import redact, safe


def _widths(table: list[dict]) -> dict:
    return {key: max(len(row[key]) for row in table) for key in table[0]}


def _fit_to_terminal(table: list[dict], terminal: bool) -> list[dict]:
    """`kjob list`'s rows (the header first) that fit a narrow terminal rather than wrap
    mid-word: the RECEIVED date cut to its time, then no USER column, then the tag shortened
    from the middle. In a pipe or a file, the full rows."""
    if not terminal:
        return table
    import shutil

    from kjob.output.progress import shorten_middle

    columns = shutil.get_terminal_size().columns

    def line_width() -> int:
        return sum(_widths(table).values()) + 2 * (len(table[0]) - 1)

    if line_width() > columns:
        table = [table[0], *({**row, "time_received": row["time_received"].partition("T")[2] or row["time_received"]}
                             for row in table[1:])]
    if line_width() > columns:
        table = [{key: value for key, value in row.items() if key != "user"} for row in table]
    if line_width() > columns:
        room = columns - (line_width() - _widths(table)["job_tag"])
        table = [table[0], *({**row, "job_tag": shorten_middle(row["job_tag"], max(8, room))} for row in table[1:])]
    return table


def failover_text(cluster: str, reason: str) -> str:
    return f"kjob: {reason}; going on with {redact_url(cluster)}"


def tried_text(reasons: dict[str, str]) -> str:
    """The clusters tried and why each failed, for a retry's line."""
    return "; ".join(f"{redact_url(cluster)}: {reason}" for cluster, reason in reasons.items())


class Renderer:
    """Output for one command run: data on stdout, everything else on stderr.

    `Renderer(...)` returns the class of the run's form (JsonLines, QuietLines, HumanLines);
    `quiet` also drops stderr messages, whatever the form."""

    as_json = False

    def __new__(cls, *, as_json: bool = False, quiet: bool = False, verbose: bool = False) -> Renderer:
        if cls is Renderer:
            cls = JsonLines if as_json else QuietLines if quiet else HumanLines
        return super().__new__(cls)

    def __init__(self, *, as_json: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.out = sys.stdout
        self.err = sys.stderr
        self.out_terminal = Terminal.of(self.out)
        self.err_terminal = Terminal.of(self.err)

    # --- stderr ----------------------------------------------------------------------------

    def clean(self, text: str) -> str:
        """Nothing kjob prints may carry a secret or a raw control character, whatever a server
        or an exception said (kjob.sanitize): one line, so a text of several is written line by line."""
        return safe(text)

    def message(self, text: str, *, always: bool = False) -> None:
        """A human message on stderr (dropped by --quiet unless `always`)."""
        if self.quiet and not always:
            return
        click.echo(self.clean(text), file=self.err)

    def warning(self, text: str) -> None:
        label = click.style("warning:", fg="yellow") if self.err_terminal.colour else "warning:"
        click.echo(f"kjob: {label} {self.clean(text)}", file=self.err)

    def trace(self, line: str) -> None:
        """--verbose lines (kjob's own, several at once so that threads do not interleave them)."""
        if self.verbose:
            click.echo("\n".join(self.clean(part) for part in line.split("\n")), file=self.err)

    def failover(self, cluster: str, reason: str) -> None:
        self.message(failover_text(cluster, reason))

    def retry(self, pause: float, reasons: dict[str, str]) -> None:
        self.message(f"kjob: no cluster answered ({tried_text(reasons)}); trying again in {pause:.1f} s")

    # --- stdout ----------------------------------------------------------------------------

    def data(self, text: str) -> None:
        click.echo(self.clean(text), file=self.out)

    def json_line(self, value: Any) -> None:
        click.echo(safe(json_text(value)), file=self.out)

    def status_line(self, before: str, status: str, after: str = "") -> None:
        """A line of data around one status word, coloured on a terminal: each part is made safe
        first, so that kjob's colour is the only escape sequence the line holds."""
        word = safe(status)
        if self.out_terminal.colour:
            word = click.style(word, fg=STATUS_COLOURS.get(status.upper()), bold=True)
        click.echo(safe(before) + word + safe(after), file=self.out)

    def skeleton(self, value: dict) -> None:
        """`submit --skeleton`: a payload to fill in, one field a line (the same in every form)."""
        click.echo(redact(json_text(value, indent=2)), file=self.out)


class HumanLines(Renderer):
    """Words and aligned columns for a person; status words coloured on a terminal."""

    def created(self, created) -> None:
        """What `submit` prints: the job, where it runs, and its tag."""
        verb = "already submitted" if created.existed else "submitted"
        self.data(f"job {created.job_id} {verb}: {created.endpoint}, {tag_label(created.job_tag)}, on {redact_url(created.cluster)}")

    def history(self, entries: list[dict]) -> None:
        """kjob's record of submitted jobs, oldest first, in aligned columns."""
        if not entries:
            return
        id_width = max(len(str(entry["job_id"])) for entry in entries)
        endpoint_width = max(len(entry["endpoint"]) for entry in entries)
        cluster_width = max(len(redact_url(entry["cluster"])) for entry in entries)
        for entry in entries:
            self.data(f"{entry['submitted_at']}  {entry['job_id']:>{id_width}}  {entry['endpoint']:<{endpoint_width}}"
                      f"  {redact_url(entry['cluster']):<{cluster_width}}  {ref_text(entry['job_tag'])}")  # a REF to copy

    def endpoint_list(self, paths: list[str]) -> None:
        """`kjob endpoints`: one endpoint a line."""
        for path in paths:
            self.data(path)

    def endpoint_description(self, described: dict) -> None:
        """`kjob endpoints ENDPOINT`: its request fields (type, default or required), then its response fields."""
        self.data(described["endpoint"])
        for side in ("request", "response"):
            fields = described[side]["fields"]
            self.data(f"{side} {described[side]['name']}:")
            name_width = max((len(field["name"]) for field in fields), default=0)
            type_width = max((len(field["type"]) for field in fields), default=0)
            for field in fields:
                note = ""
                if side == "request":
                    note = "required" if field.get("required") else f"default {json.dumps(field['default'])}"
                self.data(f"  {field['name']:<{name_width}}  {field['type']:<{type_width}}  {note}".rstrip())

    def cancelled(self, state, *, already_ended: bool, server_status: str) -> None:
        """What `cancel` did to one job."""
        name = f"job {state.job_id if state.job_id is not None else '?'} ({tag_label(state.tag)})"
        if already_ended:
            return self.status_line(f"{name}: already ", state.job_status, ", nothing to cancel")
        if state.job_status == "CANCELLED":
            return self.status_line(f"{name}: ", "CANCELLED")
        said = "" if server_status.upper() == state.job_status.upper() else f" ({server_status or 'no status'})"
        return self.status_line(f"{name}: still ", state.job_status, f" after the cancel{said}")

    def job_list(self, rows: list[dict], hidden: int = 0) -> None:
        """`kjob list`: a header, then one job a line; `hidden` ended jobs left out."""
        left_out = f"{hidden} ended job{'s' if hidden != 1 else ''} not shown (--all shows them)" if hidden else ""
        if not rows:
            return self.message("kjob: no jobs" + (f" running; {left_out}" if left_out else ""))
        header = {"job_id": "ID", "job_status": "STATUS", "endpoint": "ENDPOINT", "time_received": "RECEIVED", "user": "USER",
                  "job_tag": "TAG"}
        table = [header, *({key: "-" if row[key] in (None, "") else str(row[key]) for key in header} for row in rows)]
        header, *cells = _fit_to_terminal(table, self.out_terminal.is_terminal)
        width = _widths([header, *cells])
        self.data(f"{'ID':>{width['job_id']}}  {'STATUS':<{width['job_status']}}"
                  + "".join(f"  {header[key]:<{width[key]}}" for key in ("endpoint", "time_received", "user") if key in header)
                  + "  TAG")
        for row in cells:
            padding = " " * (width["job_status"] - len(row["job_status"]))
            self.status_line(f"{row['job_id']:>{width['job_id']}}  ", row["job_status"],
                             padding + "".join(f"  {row[key]:<{width[key]}}" for key in ("endpoint", "time_received", "user")
                                               if key in row) + f"  {row['job_tag']}")
        if left_out:
            self.message(f"kjob: {left_out}")

    def state(self, state) -> None:
        """One look at a job (`status`), and its error message if it has one."""
        job_id = state.job_id if state.job_id is not None else "?"
        self.status_line(f"job {job_id}  ", state.job_status,
                         f"  {state.progress:>3}%  {state.endpoint}  {tag_label(state.tag)}  on {redact_url(state.cluster)}")
        if state.error_message:
            self.data(f"  error: {state.error_message}")


class QuietLines(HumanLines):
    """-q: only what a script needs: a REF to pass on, or a status word (endpoints as for a person)."""

    def created(self, created) -> None:
        self.data(ref_text(created.job_tag))

    def history(self, entries: list[dict]) -> None:
        for entry in entries:
            self.data(ref_text(entry["job_tag"]))

    def cancelled(self, state, *, already_ended: bool, server_status: str) -> None:
        self.data(state.job_status)

    def job_list(self, rows: list[dict], hidden: int = 0) -> None:
        for row in rows:
            self.data(ref_text(row["job_tag"]) if row["job_tag"] else str(row["job_id"]))

    def state(self, state) -> None:
        self.data(state.job_status)


class JsonLines(Renderer):
    """--json: one JSON object a line on stdout, the same shape whatever the terminal."""

    as_json = True

    def created(self, created) -> None:
        self.json_line(created.as_json())

    def history(self, entries: list[dict]) -> None:
        from kjob.history import FIELDS

        for entry in entries:
            self.json_line({field: entry[field] for field in FIELDS})  # the payload's digest is kjob's own

    def endpoint_list(self, paths: list[str]) -> None:
        for path in paths:
            self.json_line({"endpoint": path})

    def endpoint_description(self, described: dict) -> None:
        self.json_line(described)

    def cancelled(self, state, *, already_ended: bool, server_status: str) -> None:
        self.json_line(cancel_record(state, already_ended=already_ended, server_status=server_status))

    def job_list(self, rows: list[dict], hidden: int = 0) -> None:
        for row in rows:
            self.json_line(row)

    def state(self, state) -> None:
        self.json_line(state.as_json())
