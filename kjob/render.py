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
from kjob.jobs import ref_text
from kjob.sanitize import json_visible, redact, safe, visible

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


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON that a terminal shows as it is (kjob.sanitize.json_visible): one compact line, or
    indented (its line breaks are kjob's own, every string's control characters escaped)."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json_visible(json.dumps(value, ensure_ascii=False, indent=indent, separators=separators))


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
            word = click.style(word, fg=STATUS_COLOURS.get(status.upper()), bold=True)
        click.echo(safe(before) + word + safe(after), file=self.out)

    def created(self, created) -> None:
        """What `submit` prints: the job, or (-q) one REF for status, wait and fetch."""
        if self.as_json:
            return self.json_line(created.as_json())
        if self.quiet:
            return self.data(ref_text(created.job_tag))
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
                self.data(ref_text(entry["job_tag"]))
            else:
                self.data(f"{entry['submitted_at']}  {entry['job_id']:>{id_width}}  {entry['endpoint']:<{endpoint_width}}"
                          f"  {redact_url(entry['cluster']):<{cluster_width}}  {ref_text(entry['job_tag'])}")  # a REF to copy

    def skeleton(self, value: dict) -> None:
        """`submit --skeleton`: a payload to fill in, one field a line."""
        click.echo(redact(json_text(value, indent=2)), file=self.out)

    def endpoint_list(self, paths: list[str]) -> None:
        """`kjob endpoints`: one endpoint a line (or a JSON object a line)."""
        for path in paths:
            self.json_line({"endpoint": path}) if self.as_json else self.data(path)

    def endpoint_description(self, described: dict) -> None:
        """`kjob endpoints ENDPOINT`: its request fields (type, default or required), then its response fields."""
        if self.as_json:
            return self.json_line(described)
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
        said = "" if server_status.upper() == state.job_status.upper() else f" ({server_status or 'no status'})"
        return self.status_line(f"{name}: still ", state.job_status, f" after the cancel{said}")

    def job_list(self, rows: list[dict], hidden: int = 0) -> None:
        """`kjob list`: a header, then one job a line (or a JSON object); `hidden` ended jobs left out."""
        if self.as_json:
            for row in rows:
                self.json_line(row)
            return
        if self.quiet:
            for row in rows:
                self.data(ref_text(row["job_tag"]) if row["job_tag"] else str(row["job_id"]))
            return
        left_out = f"{hidden} ended job{'s' if hidden != 1 else ''} not shown (--all shows them)" if hidden else ""
        if not rows:
            return self.message("kjob: no jobs" + (f" running; {left_out}" if left_out else ""))
        header = {"job_id": "ID", "job_status": "STATUS", "endpoint": "ENDPOINT", "time_received": "RECEIVED", "user": "USER"}
        width = {key: max(len(str(row[key] or "-")) for row in [header, *rows]) for key in header}
        self.data(f"{'ID':>{width['job_id']}}  {'STATUS':<{width['job_status']}}  {'ENDPOINT':<{width['endpoint']}}"
                  f"  {'RECEIVED':<{width['time_received']}}  {'USER':<{width['user']}}  TAG")
        for row in rows:
            padding = " " * (width["job_status"] - len(row["job_status"]))
            self.status_line(f"{row['job_id']:>{width['job_id']}}  ", row["job_status"],
                             f"{padding}  {row['endpoint']:<{width['endpoint']}}  {row['time_received']}"
                             f"  {row['user'] or '-':<{width['user']}}  {row['job_tag'] or '-'}")
        if left_out:
            self.message(f"kjob: {left_out}")

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
        return f"{ref} ({ref_text(tag)})"  # an all-digit tag as a REF: `41 (tag:3)`
    return ref


def shorten_middle(text: str, width: int) -> str:
    """Text cut to `width` from the middle: a generated tag keeps its unique end."""
    if len(text) <= width:
        return text
    if width < 2:
        return text[:width]
    head = max(1, (width - 1) // 3)
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


ERROR_WORDS = {5: "NOT FOUND", 6: "UNAUTHORIZED", 7: "UNREACHABLE", 8: "REFUSED"}


def _outcome_text(job) -> str:
    """The word for how a job stands: its status, or what kept kjob from seeing it."""
    if job.error is not None and job.state is None:
        return ERROR_WORDS.get(job.error.exit_code, "FAILED")
    if job.unreachable_since is not None:  # unreachable now, or at the end (its last status is not its outcome)
        return "UNREACHABLE"
    return job.state.job_status if job.state else "waiting"  # not seen yet (the not-found grace)


def _waited(job) -> str:
    """How long kjob waited for a job; `already` for one that had ended before the wait began."""
    return "already" if job.state is not None and not job.seen_running and job.finished else f"{job.elapsed:.1f} s"


class WaitDisplay:
    """What `kjob wait` shows: told by the follower what happens, it draws bars or writes lines.

    Outcomes are data: one line per job on stdout (or --json records), progress on stderr.
    On a terminal with bars, stdout shares the screen: JSON records wait until the bars are
    gone, and the summary table stands for the outcome lines.
    """

    def __init__(self, renderer: Renderer, mode: str, *, log_every: float, summary_path: str | None,
                 outcomes: bool = True) -> None:
        self.renderer = renderer
        self.mode = mode
        self.log_every = log_every
        self.summary_path = summary_path
        self.last_logged: dict[int, float] = {}
        self.clusters_seen: set[str] = set()
        self._progress = None
        self._tasks: dict[int, Any] = {}
        self._overall = None
        self._last_retry = ""
        shared_screen = mode == "rich" and _is_terminal(renderer.out)
        self._deferred: list[dict] | None = [] if shared_screen else None  # --json records held back
        self._outcome_lines = outcomes and not (renderer.as_json or renderer.quiet or shared_screen)

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
            if self._deferred is not None:
                self._deferred.append(wait_record(job))
            else:
                self.renderer.json_line(wait_record(job))
        if self._outcome_lines:
            self.renderer.data(_end_line(job))
        if self.mode == "rich":
            self._draw(job)
        elif self.mode == "plain" and not self._outcome_lines:  # the outcome is not on stdout: say it here
            self.renderer.message(f"kjob: {_end_line(job)}")
        elif not self._outcome_lines and job.exit_code != 0 and job.problem() is not None:  # said once: not beside stdout's line
            self.renderer.message(f"kjob: {job.problem().message}", always=True)  # what kept kjob from the outcome

    def trouble(self, job, text: str) -> None:
        self._note(f"kjob: {text}")
        if self.mode == "rich":
            self._draw(job)

    def failover(self, cluster: str, reason: str) -> None:
        """Say once per cluster that the wait goes on elsewhere (bars are kept)."""
        if cluster not in self.clusters_seen:
            self.clusters_seen.add(cluster)
            self._note(failover_text(cluster, reason))

    def retry(self, pause: float, reasons: dict[str, str]) -> None:
        """No cluster answered: said once per set of reasons, not once per poll of every job."""
        tried = "; ".join(f"{redact_url(cluster)}: {reason}" for cluster, reason in reasons.items())
        if tried != self._last_retry:
            self._last_retry = tried
            self._note(f"kjob: no cluster answered ({tried}); trying again")

    def trace(self, line: str) -> None:
        """A --verbose line, above the bars when they are live."""
        if self.mode == "rich" and self._progress is not None:
            for part in line.split("\n"):  # several lines at once (kjob's own), each made safe
                self._progress.console.print(self.renderer.clean(part), markup=False, highlight=False, soft_wrap=True)
        else:
            self.renderer.trace(line)

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
            ProgressColumn,
            TaskProgressColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column
        from rich.text import Text

        display = self

        class Label(ProgressColumn):
            """A text field of the task, cut from the middle to the column's width."""

            def __init__(self, field: str, width: int, style: str) -> None:
                super().__init__(table_column=Column(width=width, no_wrap=True))
                self.field, self.width, self.style = field, width, style

            def render(self, task):
                return Text(shorten_middle(task.fields[self.field], self.width), style=self.style)

        class State(ProgressColumn):
            def __init__(self) -> None:
                super().__init__(table_column=Column(width=STATE_WIDTH, no_wrap=True))

            def render(self, task):
                word = task.fields["state"]
                return Text(word, style=task.fields["colour"])

        class Remaining(TimeRemainingColumn):
            """No estimate for a job that has ended or cannot be seen; for all jobs, the longest job's.

            Not cached (rich keeps a render 0.5 s), so that the overall estimate and the jobs' agree."""

            max_refresh = None

            def render(self, task):
                if task.fields.get("ended") or task.fields.get("state") == "UNREACHABLE":
                    return Text("")
                if task.id == display._overall:
                    return super().render(display._longest_remaining(task))
                return super().render(task)

        console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        width = console.width
        # Columns: REF, [endpoint], state, bar, percentage, elapsed, time left, one space apart.
        # The endpoint goes first on a narrow screen, then the REF shrinks from the middle;
        # the bar and the percentage always stay.
        endpoint_width = ENDPOINT_WIDTH if width >= WIDE else 0
        fixed = STATE_WIDTH + 4 + 7 + 7 + 6 + (endpoint_width + 1 if endpoint_width else 0)
        # A job named by id is shown with its tag once known (`12 (nightly)`): room for it.
        labels = [len(str(job.ref)) if job.ref.job_id is None else MAX_REF_WIDTH for job in jobs]
        ref_width = max(8, min(max([*labels, len(f"all {len(jobs)} jobs")]), MAX_REF_WIDTH, width - fixed - MIN_BAR - 1))
        bar_width = max(MIN_BAR, min(40, width - fixed - ref_width - 1))
        # Many jobs: bars for as many running jobs as the screen holds, the rest behind the
        # overall bar, and fewer redraws (each redraw renders every visible row).
        self._rows = max(3, min(MAX_BARS, console.size.height - 8))
        crowded = len(jobs) > self._rows
        columns = [Label("ref", ref_width, "bold")]
        if endpoint_width:
            columns.append(Label("endpoint", endpoint_width, "dim"))
        columns += [State(), BarColumn(bar_width=bar_width), TaskProgressColumn(), TimeElapsedColumn(), Remaining()]
        self._progress = Progress(*columns, console=console, transient=False, refresh_per_second=1 if crowded else 8)
        for index, job in enumerate(jobs):  # before start(): on a live display each add_task redraws
            self._tasks[id(job)] = self._progress.add_task(
                "", total=100, ref=str(job.ref), endpoint="", state="waiting", colour="dim", ended=False,
                visible=index < self._rows,
            )
        self._hidden = list(jobs[self._rows :])
        self._ended: set[int] = set()
        if len(jobs) > 1:
            self._overall = self._progress.add_task("", total=100 * len(jobs), ref=f"all {len(jobs)} jobs", endpoint="",
                                                    state="", colour="dim", ended=False)
            self._shares: dict[int, int] = {}  # each job's part of the overall bar
            self._overall_done = 0
        self._progress.start()

    def _longest_remaining(self, overall):
        """A stand-in task for the overall bar's time left: the longest of the running jobs'."""
        from types import SimpleNamespace

        running = [task for task in self._progress.tasks if task.id != self._overall and not task.fields.get("ended")]
        estimates = [task.time_remaining for task in running]
        known = [estimate for estimate in estimates if estimate is not None]
        remaining = None if not known or len(known) < len(estimates) else max(known)
        return SimpleNamespace(finished=overall.finished, total=overall.total, time_remaining=remaining,
                               elapsed=overall.elapsed, fields=overall.fields)

    def _draw(self, job) -> None:
        if self._progress is None:
            return
        task = self._tasks[id(job)]
        state = job.state
        status = _outcome_text(job)
        colour = STATUS_COLOURS.get(status, "red")
        completed = 100 if status == "DONE" else (state.progress if state else 0)
        # Text columns, never markup: the REF, the endpoint and the status word are the server's
        self._progress.update(task, completed=completed, ref=safe(_ref_label(job)),
                              endpoint=safe(state.endpoint) if state else "", state=safe(status), colour=colour,
                              ended=job.finished)
        if job.finished and id(job) not in self._ended:  # once: a bar that ended keeps its time
            self._progress.stop_task(task)
            self._ended.add(id(job))
            self._hidden = [hidden for hidden in self._hidden if not hidden.finished]
            if self._hidden and job.exit_code == 0:  # make room for a running job still hidden
                self._progress.update(task, visible=False)
                self._progress.update(self._tasks[id(self._hidden.pop(0))], visible=True)
        if self._overall is not None:
            share = 100 if job.finished else completed  # an ended job, however it ended, is all done
            self._overall_done += share - self._shares.get(id(job), 0)
            self._shares[id(job)] = share
            self._progress.update(self._overall, completed=self._overall_done, state=f"{len(self._ended)} ended",
                                  ended=len(self._ended) == len(self._tasks))

    def abort(self) -> None:
        """Stop the bars where they are, without a summary (an error ends the wait)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        for record in self._deferred or []:
            self.renderer.json_line(record)
        self._deferred = None

    def stop(self, jobs, timed_out: bool) -> None:
        """End the display: stop the bars, then a summary (table, line or nothing)."""
        if self._progress is not None:
            for job in jobs:
                self._draw(job)
            if self._overall is not None:
                self._progress.stop_task(self._overall)
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
        if self._outcome_lines:
            for job in running:
                self.renderer.data(_end_line(job))
        self._flush_deferred()
        if running and timed_out:
            names = ", ".join(f"{_ref_label(job)} ({job.state.progress}%)" if job.state else _ref_label(job) for job in running)
            self.renderer.message(f"kjob: timed out; still running on the server: {names}", always=True)
        if self.summary_path:
            write_step_summary(self.summary_path, jobs)

    def _summary_table(self, jobs) -> None:
        from rich.table import Column, Table
        from rich.text import Text

        console = self._progress.console
        narrow = console.width < WIDE
        # job, [endpoint], status, waited, message: the job column gets what the others leave.
        others = STATE_WIDTH + 8 + (ENDPOINT_WIDTH + 3 if not narrow else 0) + 12 + 9
        job_width = max(8, min(max(len(_ref_label(job)) for job in jobs), console.width - others))
        table = Table(Column("job", no_wrap=True, width=job_width), title=None, show_edge=False, header_style="bold")
        if not narrow:
            table.add_column("endpoint", no_wrap=True)
        for column in ("status", "waited", "message"):
            table.add_column(column, no_wrap=column != "message")
        for job in jobs:
            status = _outcome_text(job) if job.finished or job.state or job.unreachable_since is not None else "RUNNING"
            colour = STATUS_COLOURS.get(status, "red")
            # every cell Text, never markup: it holds the server's words
            row = [Text(shorten_middle(safe(_ref_label(job)), job_width))]
            if not narrow:
                row.append(Text(safe(job.state.endpoint) if job.state else ""))
            row += [Text(safe(status), style=colour), _waited(job), Text(safe(_problem_text(job)))]
            table.add_row(*row)
        console.print(table)


STATE_WIDTH = 11  # UNREACHABLE, CANCELLED, NOT FOUND...
ENDPOINT_WIDTH = 16
WIDE = 100  # columns from which the bars and the summary show the endpoint
MAX_REF_WIDTH = 40
MIN_BAR = 10


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _problem_text(job) -> str:
    """Why a job ended badly, in a few words: the job's own error message, or kjob's."""
    if job.error is not None:
        return job.error.message
    if job.state is not None and job.state.job_status == "ERROR":
        return job.state.error_message or "(no message)"
    if job.state is not None and job.finished and not job.state.known_status:
        return "a status kjob does not know (not DONE, ERROR or CANCELLED)"
    return ""


def _end_line(job) -> str:
    """A job's outcome, one line of data: `job REF ENDPOINT: DONE (waited 2.0 s)`, `already DONE`..."""
    state = job.state
    if job.error is not None:  # what kept kjob from the outcome, under the job's name
        if job.unreachable_since is None and job.error.message.startswith((f"job {job.ref} ", f"job {job.ref}:")):
            return job.error.message  # it names the job already (not found, another job's answer)
        word = "UNREACHABLE" if job.unreachable_since is not None else ERROR_WORDS.get(job.error.exit_code, "FAILED")
        return f"job {_ref_label(job)}{' ' + state.endpoint if state else ''}: {word}: {job.error.message}"
    if state is None:
        return f"job {_ref_label(job)}: not seen (waited {job.elapsed:.1f} s)"
    if not job.finished:
        text = f"job {_ref_label(job)} {state.endpoint}: still {state.job_status} {state.progress}% (waited {job.elapsed:.1f} s)"
    elif _waited(job) == "already":
        text = f"job {_ref_label(job)} {state.endpoint}: already {state.job_status}"
    else:
        text = f"job {_ref_label(job)} {state.endpoint}: {state.job_status} (waited {job.elapsed:.1f} s)"
    detail = _problem_text(job)
    return f"{text}: {detail}" if detail else text


def wait_record(job) -> dict[str, Any]:
    """The --json line of `kjob wait` for one job: status's shape plus ref, exit_code and elapsed."""
    record: dict[str, Any] = job.state.as_json() if job.state else {"job_id": job.ref.job_id, "job_tag": job.ref.tag}
    record = {"ref": str(job.ref), **record, "exit_code": job.exit_code, "waited_seconds": round(job.elapsed, 3),
              "reachable": job.unreachable_since is None}  # false: the status fields are the last ones seen
    if job.error is not None:
        record["error"] = job.error.message
    return record


def _markdown_cell(text: str) -> str:
    """A table cell of the step summary: redacted, visible, and unable to end the cell or start HTML."""
    return safe(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def write_step_summary(path: str, jobs) -> None:
    """Append a Markdown table of the jobs' outcomes (GitHub Actions' $GITHUB_STEP_SUMMARY)."""
    lines = ["### kjob wait", "", "| job | endpoint | status | waited | message |", "|---|---|---|---|---|"]
    for job in jobs:
        status = _outcome_text(job) if job.finished or job.state or job.unreachable_since is not None else "RUNNING"
        cells = [_ref_label(job), job.state.endpoint if job.state else "", status, _waited(job), _problem_text(job)]
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
    if fmt in RowStream.FORMATS:
        rows_out = RowStream(stream, fmt, headers, pretty=pretty)
        rows_out.write(rows)
        return rows_out.close()
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


class RowStream:
    """SQL rows written page by page (json as one array, jsonl, csv), never held all at once."""

    FORMATS = ("json", "jsonl", "csv")

    def __init__(self, stream: IO[str], fmt: str, headers: list[str], *, pretty: bool) -> None:
        self.stream, self.fmt, self.headers, self.pretty = stream, fmt, headers, pretty
        self.count = 0
        self._csv = None
        if fmt == "csv":
            import csv

            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow([self._cell(name) for name in headers])

    def _cell(self, value: Any) -> Any:
        """A CSV cell: on a terminal, its control characters made visible; in a file, as it is."""
        return visible(value) if self.pretty and isinstance(value, str) else value

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([self._cell(row[name]) for name in self.headers])
            elif self.fmt == "jsonl":
                self.stream.write(json_text(row) + "\n")
            else:
                self.stream.write(("[" if self.count == 0 else ",") + ("\n  " if self.pretty else ""))
                write_json(self.stream, row, 2 if self.pretty else None, 1)
            self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("[]\n" if self.count == 0 else ("\n]\n" if self.pretty else "]\n"))
