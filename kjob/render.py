"""Every byte kjob writes to a terminal, a pipe or a log: data on stdout, the rest on stderr.

--json output has a stable shape whatever the terminal; the terminal decides decoration only.
rich is imported only by the parts that draw bars and tables.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

import click

from kjob.config import redact_url
from kjob.sanitize import json_visible, safe, visible

MAX_BARS = 20  # job bars on screen at once; the overall bar stands for the rest
STATUS_COLOURS = {"RUNNING": "cyan", "DONE": "green", "ERROR": "red", "CANCELLED": "yellow"}


def colour_allowed(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def json_text(value: Any) -> str:
    """One compact line of JSON that a terminal shows as it is (kjob.sanitize.json_visible)."""
    return json_visible(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def failover_text(cluster: str, reason: str) -> str:
    return f"kjob: {reason}; going on with {redact_url(cluster)}"


class Renderer:
    """Output for one command run: --json, --quiet or human text."""

    def __init__(self, *, as_json: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.verbose = verbose
        self.out = sys.stdout
        self.err = sys.stderr
        self.out_colour = colour_allowed(self.out)
        self.err_colour = colour_allowed(self.err)

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
        label = click.style("warning:", fg="yellow") if self.err_colour else "warning:"
        click.echo(f"kjob: {label} {self.clean(text)}", file=self.err)

    def trace(self, line: str) -> None:
        """--verbose lines (kjob's own, several at once so that threads do not interleave them)."""
        if self.verbose:
            click.echo("\n".join(self.clean(part) for part in line.split("\n")), file=self.err)

    def failover(self, cluster: str, reason: str) -> None:
        self.message(failover_text(cluster, reason))

    def retry(self, pause: float, reasons: dict[str, str]) -> None:
        tried = "; ".join(f"{redact_url(cluster)}: {reason}" for cluster, reason in reasons.items())
        self.message(f"kjob: no cluster answered ({tried}); trying again in {pause:.1f} s")

    # --- stdout ----------------------------------------------------------------------------

    def data(self, text: str) -> None:
        click.echo(self.clean(text), file=self.out)

    def json_line(self, value: Any) -> None:
        click.echo(safe(json_text(value)), file=self.out)

    def status_line(self, before: str, status: str, after: str = "") -> None:
        """A line of data around one status word, coloured on a terminal: each part is made safe
        first, so that kjob's colour is the only escape sequence the line holds."""
        word = safe(status)
        if self.out_colour:
            word = click.style(word, fg=STATUS_COLOURS.get(status), bold=True)
        click.echo(safe(before) + word + safe(after), file=self.out)

    def created(self, created) -> None:
        """What `submit` prints: the job, or (-q) one REF for status, wait and fetch."""
        if self.as_json:
            return self.json_line(created.as_json())
        if self.quiet:
            return self.data(created.job_tag)
        verb = "already submitted" if created.existed else "submitted"
        self.data(f"job {created.job_id} {verb}: {created.endpoint}, tag {created.job_tag}, on {redact_url(created.cluster)}")

    def history(self, entries: list[dict]) -> None:
        """kjob's record of submitted jobs, oldest first: one line (or JSON object) each."""
        if not self.as_json and not self.quiet and entries:
            id_width = max(len(str(entry["job_id"])) for entry in entries)
            endpoint_width = max(len(entry["endpoint"]) for entry in entries)
            cluster_width = max(len(redact_url(entry["cluster"])) for entry in entries)
        for entry in entries:
            if self.as_json:
                self.json_line(entry)
            elif self.quiet:
                self.data(entry["job_tag"])
            else:
                self.data(f"{entry['submitted_at']}  {entry['job_id']:>{id_width}}  {entry['endpoint']:<{endpoint_width}}"
                          f"  {redact_url(entry['cluster']):<{cluster_width}}  {entry['job_tag']}")

    def cancelled(self, state, *, already_ended: bool, server_status: str) -> None:
        """What `cancel` did to one job."""
        if self.as_json:
            record = {**state.as_json(), "cancelled": state.job_status == "CANCELLED" and not already_ended,
                      "already_ended": already_ended, "server_status": server_status}
            return self.json_line(record)
        if self.quiet:
            return self.data(state.job_status)
        name = f"job {state.job_id if state.job_id is not None else '?'} (tag {state.tag or '-'})"
        if already_ended:
            return self.status_line(f"{name}: already ", state.job_status, ", nothing to cancel")
        if state.job_status == "CANCELLED":
            return self.status_line(f"{name}: ", "CANCELLED")
        return self.status_line(f"{name}: still ", state.job_status, f" after the cancel ({server_status or 'no status'})")

    def job_list(self, rows: list[dict]) -> None:
        """`kjob list`: one job a line (or a JSON object)."""
        if self.as_json:
            for row in rows:
                self.json_line(row)
            return
        if self.quiet:
            for row in rows:
                self.data(str(row["job_tag"] or row["job_id"]))
            return
        if not rows:
            return self.message("kjob: no jobs")
        id_width, status_width, endpoint_width = (max(len(str(row[key])) for row in rows) for key in ("job_id", "job_status", "endpoint"))
        for row in rows:
            padding = " " * (status_width - len(row["job_status"]))
            self.status_line(f"{row['job_id']:>{id_width}}  ", row["job_status"],
                             f"{padding}  {row['endpoint']:<{endpoint_width}}  {row['time_received']}"
                             f"  {row['user'] or '-'}  {row['job_tag'] or '-'}")

    def state(self, state) -> None:
        """One look at a job (`status`)."""
        if self.as_json:
            return self.json_line(state.as_json())
        if self.quiet:
            return self.data(state.job_status)
        job_id = state.job_id if state.job_id is not None else "?"
        self.status_line(f"job {job_id}  ", state.job_status,
                         f"  {state.progress:>3}%  {state.endpoint}  tag {state.tag or '-'}  on {redact_url(state.cluster)}")
        if state.error_message:
            self.data(f"  error: {state.error_message}")


# --- kjob wait: the display while jobs run, and the summary after ----------------------------


def progress_mode(requested: str, quiet: bool, stream: IO[str]) -> str:
    """rich, plain or none: bars only on a terminal that can draw them (auto), never with -q."""
    if quiet:
        return "none"
    if requested != "auto":
        return requested
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return "rich" if terminal and os.environ.get("TERM") != "dumb" else "plain"


def _ref_label(job) -> str:
    ref = str(job.ref)
    tag = job.state.tag if job.state else None
    if job.ref.job_id is not None and tag and tag != ref:
        return f"{ref} ({tag})"
    return ref


ERROR_WORDS = {5: "NOT FOUND", 6: "UNAUTHORIZED", 7: "UNREACHABLE", 8: "REFUSED"}


def _outcome_text(job) -> str:
    """The word for how a job stands: its status, or what kept kjob from seeing it."""
    if job.error is not None and job.state is None:
        return ERROR_WORDS.get(job.error.exit_code, "FAILED")
    return job.state.job_status if job.state else "UNKNOWN"


class WaitDisplay:
    """What `kjob wait` shows: told by the follower what happens, it draws bars or writes lines."""

    def __init__(self, renderer: Renderer, mode: str, *, log_every: float, summary_path: str | None) -> None:
        self.renderer = renderer
        self.mode = mode
        self.log_every = log_every
        self.summary_path = summary_path
        self.last_logged: dict[int, float] = {}
        self.clusters_seen: set[str] = set()
        self._progress = None
        self._tasks: dict[int, Any] = {}
        self._overall = None

    # the follower's listener -------------------------------------------------------------

    def seen(self, job, previous: str | None) -> None:
        """A look at a running job: redraw its bar, or (plain) a line on a change or every --log-every."""
        state = job.state
        if self.mode == "rich":
            self._draw(job)
        elif self.mode == "plain" and not state.finished:  # the end gets its own line (ended)
            now = job.elapsed
            if state.job_status != previous or now - self.last_logged.get(id(job), float("-inf")) >= self.log_every:
                self.last_logged[id(job)] = now
                self.renderer.message(f"kjob: job {_ref_label(job)} {state.endpoint}: {state.job_status} {state.progress}%")

    def ended(self, job) -> None:
        if self.renderer.as_json:
            self.renderer.json_line(wait_record(job))
        if self.mode == "rich":
            self._draw(job)
        elif self.mode == "plain":
            self.renderer.message(f"kjob: {_end_line(job)}")
        elif job.exit_code != 0 and job.problem() is not None:
            self.renderer.message(f"kjob: {job.problem().message}", always=True)

    def trouble(self, job, text: str) -> None:
        self._note(f"kjob: {text}")

    def failover(self, cluster: str, reason: str) -> None:
        """Say once per cluster that the wait goes on elsewhere (bars are kept)."""
        if cluster not in self.clusters_seen:
            self.clusters_seen.add(cluster)
            self._note(failover_text(cluster, reason))

    def _note(self, text: str) -> None:
        """A line for the person watching: above the bars, or on stderr like any message."""
        if self.mode == "rich" and self._progress is not None:
            self._progress.console.print(self.renderer.clean(text), style="yellow", markup=False)
        else:
            self.renderer.message(text)

    # the live bars ---------------------------------------------------------------------------

    def start(self, jobs) -> None:
        if self.mode != "rich":
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Remaining(TimeRemainingColumn):
            """No estimate for a job that has ended, however far its bar got."""

            def render(self, task):
                return Text("") if task.fields.get("ended") else super().render(task)

        console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        # Many jobs: bars for as many running jobs as the screen holds, the rest behind the
        # overall bar, and fewer redraws (each redraw renders every visible row).
        self._rows = max(3, min(MAX_BARS, console.size.height - 8))
        crowded = len(jobs) > self._rows
        self._progress = Progress(
            TextColumn("{task.fields[ref]}", style="bold", markup=False),
            TextColumn("{task.fields[endpoint]}", style="dim", markup=False),
            TextColumn("{task.fields[state]}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            Remaining(),
            console=console,
            transient=False,
            refresh_per_second=1 if crowded else 8,
        )
        for index, job in enumerate(jobs):  # before start(): on a live display each add_task redraws
            self._tasks[id(job)] = self._progress.add_task(
                "", total=100, ref=str(job.ref), endpoint="", state="[dim]waiting[/]", ended=False, visible=index < self._rows
            )
        self._hidden = list(jobs[self._rows :])
        self._ended: set[int] = set()
        if len(jobs) > 1:
            self._overall = self._progress.add_task("", total=100 * len(jobs), ref=f"all {len(jobs)} jobs", endpoint="", state="", ended=False)
            self._shares: dict[int, int] = {}  # each job's part of the overall bar
            self._overall_done = 0
        self._progress.start()

    def _draw(self, job) -> None:
        if self._progress is None:
            return
        task = self._tasks[id(job)]
        state = job.state
        status = _outcome_text(job)
        colour = STATUS_COLOURS.get(status, "red")
        completed = 100 if status == "DONE" else (state.progress if state else 0)
        from rich.markup import escape

        # ref and endpoint columns are plain text; the state column is markup, the server's word escaped
        self._progress.update(task, completed=completed, ref=safe(_ref_label(job)), endpoint=safe(state.endpoint) if state else "",
                              state=f"[{colour}]{escape(safe(status))}[/]", ended=job.finished)
        if job.finished:
            self._progress.stop_task(task)
            self._ended.add(id(job))
            self._hidden = [hidden for hidden in self._hidden if not hidden.finished]
            if self._hidden and job.exit_code == 0:  # make room for a running job still hidden
                self._progress.update(task, visible=False)
                self._progress.update(self._tasks[id(self._hidden.pop(0))], visible=True)
        if self._overall is not None:
            self._overall_done += completed - self._shares.get(id(job), 0)
            self._shares[id(job)] = completed
            self._progress.update(self._overall, completed=self._overall_done, state=f"[dim]{len(self._ended)} ended[/]")

    def abort(self) -> None:
        """Stop the bars where they are, without a summary (an error ends the wait)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def stop(self, jobs, timed_out: bool) -> None:
        """End the display: stop the bars, then a summary (table, line or nothing)."""
        if self._progress is not None:
            for job in jobs:
                self._draw(job)
            self._progress.stop()
        if self.mode == "rich":
            self._summary_table(jobs)
        elif self.mode == "plain" and len(jobs) > 1:
            counts: dict[str, int] = {}
            for job in jobs:
                key = _outcome_text(job) if job.finished else "still running"
                counts[key] = counts.get(key, 0) + 1
            self.renderer.message("kjob: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
        running = [job for job in jobs if not job.finished]
        if running and timed_out:
            names = ", ".join(f"{_ref_label(job)} ({job.state.progress}%)" if job.state else _ref_label(job) for job in running)
            self.renderer.message(f"kjob: timed out; still running on the server: {names}", always=True)
        if self.summary_path:
            write_step_summary(self.summary_path, jobs)

    def _summary_table(self, jobs) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=None, show_edge=False, header_style="bold")
        for column in ("job", "endpoint", "status", "time", "message"):
            table.add_column(column)
        for job in jobs:  # every cell Text, never markup: it holds the server's words
            status = _outcome_text(job) if job.finished else "RUNNING"
            colour = STATUS_COLOURS.get(status, "red")
            table.add_row(Text(safe(_ref_label(job))), Text(safe(job.state.endpoint) if job.state else ""),
                          Text(safe(status), style=colour), f"{job.elapsed:.1f} s", Text(safe(_problem_text(job))))
        self._progress.console.print(table)


def _problem_text(job) -> str:
    """Why a job ended badly, in a few words: the job's own error message, or kjob's."""
    if job.error is not None:
        return job.error.message
    if job.state is not None and job.state.job_status == "ERROR":
        return job.state.error_message or "(no message)"
    return ""


def _end_line(job) -> str:
    if job.error is not None:
        return job.error.message
    text = f"job {_ref_label(job)} {job.state.endpoint}: {job.state.job_status} after {job.elapsed:.1f} s"
    detail = _problem_text(job)
    return f"{text}: {detail}" if detail else text


def wait_record(job) -> dict[str, Any]:
    """The --json line of `kjob wait` for one job: status's shape plus ref, exit_code and elapsed."""
    record: dict[str, Any] = job.state.as_json() if job.state else {"job_id": job.ref.job_id, "job_tag": job.ref.tag}
    record = {"ref": str(job.ref), **record, "exit_code": job.exit_code, "waited_seconds": round(job.elapsed, 3)}
    if job.error is not None:
        record["error"] = job.error.message
    return record


def _markdown_cell(text: str) -> str:
    """A table cell of the step summary: redacted, visible, and unable to end the cell or start HTML."""
    return safe(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def write_step_summary(path: str, jobs) -> None:
    """Append a Markdown table of the jobs' outcomes (GitHub Actions' $GITHUB_STEP_SUMMARY)."""
    lines = ["### kjob wait", "", "| job | endpoint | status | time | message |", "|---|---|---|---|---|"]
    for job in jobs:
        status = _outcome_text(job) if job.finished else "RUNNING"
        cells = [_ref_label(job), job.state.endpoint if job.state else "", status, f"{job.elapsed:.1f} s", _problem_text(job)]
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\n")
    except OSError:
        pass


# --- kjob fetch: a finished job's response -------------------------------------------------


BIG_STRING = 1 << 20  # strings longer than this are written in slices, never escaped whole


def write_response(stream: IO[str], value: Any, *, pretty: bool) -> None:
    """A decoded response as JSON: indented for a person, one line for a program.

    Written piece by piece, so that a huge string (a padded or binary response) is never held
    twice more as its JSON text and again as UTF-8.
    """
    write_json(stream, value, 2 if pretty else None, 0)
    stream.write("\n")


def write_json(stream: IO[str], value: Any, indent: int | None, level: int) -> None:
    """The same text as json.dumps(value, indent=indent) (compact separators without indent)."""
    if isinstance(value, str) and len(value) > BIG_STRING:
        stream.write('"')
        for start in range(0, len(value), BIG_STRING):
            stream.write(json_visible(json.dumps(value[start : start + BIG_STRING], ensure_ascii=False)[1:-1]))
        stream.write('"')
        return
    if not isinstance(value, (dict, list)) or not value or _flat(value):
        separators = (",", ": ") if indent is not None else (",", ":")
        text = json_visible(json.dumps(value, ensure_ascii=False, indent=indent, separators=separators))
        stream.write(text if indent is None or "\n" not in text else text.replace("\n", "\n" + " " * (indent * level)))
        return
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    inner = "\n" + " " * (indent * (level + 1)) if indent is not None else ""
    stream.write(opening)
    for index, (key, item) in enumerate(items):
        stream.write(("," if index else "") + inner)
        if key is not None:
            stream.write(json_text(key) + (": " if indent is not None else ":"))
        write_json(stream, item, indent, level + 1)
    stream.write(("\n" + " " * (indent * level) if indent is not None else "") + closing)


def _flat(value: dict | list) -> bool:
    """A container with no big string anywhere inside: json.dumps writes it in one go."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > BIG_STRING:
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def write_rows(stream: IO[str], fmt: str, headers: list[str], rows: list[dict[str, Any]], *, pretty: bool, colour: bool) -> None:
    """SQL rows as json (an array), jsonl (an object a line), csv (with a header row) or a table."""
    if fmt == "json":
        return write_response(stream, rows, pretty=pretty)
    if fmt == "jsonl":
        for row in rows:
            stream.write(json_text(row) + "\n")
        return None
    if fmt == "csv":
        import csv

        writer = csv.writer(stream, lineterminator="\n")
        shown = (lambda cell: visible(cell) if isinstance(cell, str) else cell) if pretty else (lambda cell: cell)
        writer.writerow([shown(name) for name in headers])  # on a terminal, control characters made visible
        writer.writerows([shown(row[name]) for name in headers] for row in rows)
        return None
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Cells are Text, never markup: a value such as "/usr/[/local]" or "[red]x" is shown as it is.
    table = Table(show_edge=False, header_style="bold" if colour else "")
    for name in headers:
        table.add_column(Text(visible(name)))
    for row in rows:
        table.add_row(*(Text("NULL" if row[name] is None else visible(str(row[name]))) for name in headers))
    Console(file=stream, no_color=not colour, highlight=False, width=None if colour else 200, force_terminal=colour).print(table)
    return None
