"""What `kjob wait` shows while jobs run, chosen once: rich bars, plain lines, or nothing.

Told by the follower (kjob.ops.wait) what happens, a display draws bars or writes lines on
stderr. Outcomes are data: one line per job on stdout (or --json records), for every job,
ended or not. While bars are live, stdout's lines wait until they are gone (stdout may reach
the same screen, directly or through `| tee`); on a terminal the summary table stands for the
outcome lines. rich is imported only when bars are drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from kjob.errors import ExitStatus
from kjob.model import wait_record
from kjob.output.lines import Renderer, failover_text, tried_text
from kjob.output.outcomes import end_line, outcome_text, problem_text, ref_label, table_status, waited
from kjob.output.summary import write_step_summary
from kjob.output.terminal import STATUS_COLOURS, Terminal
from kjob.sanitize import safe

MAX_BARS = 20  # job bars on screen at once; the overall bar stands for the rest
STATE_WIDTH = 11  # UNREACHABLE, CANCELLED, NOT FOUND...
ENDPOINT_WIDTH = 16
WIDE = 100  # columns from which the bars and the summary show the endpoint
MAX_REF_WIDTH = 40
MIN_BAR = 10


def progress_mode(requested: str, quiet: bool, stderr: Terminal) -> type[WaitDisplay]:
    """The display for --progress: bars only on a terminal that can draw them (auto), none with -q."""
    if quiet:
        return NoProgress
    if requested == "auto":
        requested = "rich" if stderr.can_draw else "plain"
    return DISPLAYS[requested]


def shorten_middle(text: str, width: int) -> str:
    """Text cut to `width` from the middle: a generated tag keeps its unique end."""
    if len(text) <= width:
        return text
    if width < 2:
        return text[:width]
    head = max(1, (width - 1) // 3)
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


class WaitDisplay:
    """The follower's listener: what every display does; each kind changes what it draws.

    `WaitDisplay(renderer, kind, ...)` makes the `kind` that progress_mode chose."""

    def __new__(cls, renderer: Renderer, kind: type[WaitDisplay], **options: Any) -> WaitDisplay:
        return super().__new__(kind if cls is WaitDisplay else cls)

    def __init__(self, renderer: Renderer, kind: type[WaitDisplay], *, log_every: float, summary_path: str | None,
                 outcomes: bool = True) -> None:
        self.renderer = renderer
        self.log_every = log_every
        self.summary_path = summary_path
        self.clusters_seen: set[str] = set()
        self._last_retry = ""
        self._deferred: list[Callable[[], None]] | None = None  # stdout's lines, held back while bars are live
        self._outcome_lines = outcomes and not (renderer.as_json or renderer.quiet)

    # the follower's listener -------------------------------------------------------------

    def seen(self, job, previous: str | None) -> None:
        """A look at a running job."""

    def ended(self, job) -> None:
        if self.renderer.as_json:
            self._write(partial(self.renderer.json_line, wait_record(job)))
        if self._outcome_lines:
            self._write(partial(self.renderer.data, end_line(job)))
        self._show_end(job)

    def _write(self, write: Callable[[], None]) -> None:
        """Write to stdout now, or once the bars are gone."""
        if self._deferred is None:
            write()
        else:
            self._deferred.append(write)

    def _show_end(self, job) -> None:
        """What kept kjob from a job's outcome, or a bad outcome stdout does not carry, on stderr."""
        if not self._outcome_lines and job.exit_code != ExitStatus.OK and job.problem() is not None:  # said once: not beside stdout's line
            self.renderer.message(f"kjob: {job.problem().message}", always=True)

    def trouble(self, job, text: str) -> None:
        self._note(f"kjob: {text}")

    def failover(self, cluster: str, reason: str) -> None:
        """Say once per cluster that the wait goes on elsewhere (bars are kept)."""
        if cluster not in self.clusters_seen:
            self.clusters_seen.add(cluster)
            self._note(failover_text(cluster, reason))

    def retry(self, pause: float, reasons: dict[str, str]) -> None:
        """No cluster answered: said once per set of reasons, not once per poll of every job."""
        tried = tried_text(reasons)
        if tried != self._last_retry:
            self._last_retry = tried
            self._note(f"kjob: no cluster answered ({tried}); trying again")

    def trace(self, line: str) -> None:
        """A --verbose line."""
        self.renderer.trace(line)

    def _note(self, text: str) -> None:
        """A line for the person watching, on stderr like any message."""
        self.renderer.message(text)

    # start and end -----------------------------------------------------------------------

    def start(self, jobs) -> None:
        """Before the first look at the jobs."""

    def abort(self) -> None:
        """Stop where the display is, without a summary (an error ends the wait)."""
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        for write in self._deferred or []:
            write()
        self._deferred = None

    def stop(self, jobs, timed_out: bool) -> None:
        """End the display: its summary, the jobs as they ended, those still running, and the step summary."""
        self._summary(jobs)
        self._flush_deferred()
        running = [job for job in jobs if not job.finished]
        for job in running:  # a record for every job, whatever ended the wait (a script must not lose one)
            if self.renderer.as_json:
                self.renderer.json_line(wait_record(job))
            if self._outcome_lines:
                self.renderer.data(end_line(job))
        if running and timed_out:
            seen = ", ".join(f"{ref_label(job)} ({job.state.progress}%)" for job in running if job.state)
            # kjob cannot say these run: the server said it did not know them (yet), or said nothing
            missing = ", ".join(ref_label(job) for job in running if not job.state and job.missing_since is not None)
            unseen = ", ".join(ref_label(job) for job in running if not job.state and job.missing_since is None)
            parts = ([f"still running on the server: {seen}"] * bool(seen) + [f"not found yet: {missing}"] * bool(missing)
                     + [f"no answer about {unseen}"] * bool(unseen))
            self.renderer.message(f"kjob: timed out; {'; '.join(parts)}", always=True)
        if self.summary_path:
            write_step_summary(self.summary_path, jobs)

    def _summary(self, jobs) -> None:
        """What the display says of all the jobs at the end, before the jobs still running."""


class NoProgress(WaitDisplay):
    """--progress none, or -q: no progress; the outcomes, and what kept kjob from them."""


class PlainLines(WaitDisplay):
    """A line on stderr per job when its status changes, or every --log-every; for logs and pipes."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.last_logged: dict[int, float] = {}

    def seen(self, job, previous: str | None) -> None:
        state = job.state
        if state.finished:  # the end gets its own line (ended)
            return
        now = job.elapsed
        if state.job_status != previous or now - self.last_logged.get(id(job), float("-inf")) >= self.log_every:
            self.last_logged[id(job)] = now
            self.renderer.message(f"kjob: job {ref_label(job)} {state.endpoint}: {state.job_status} {state.progress}%")

    def _show_end(self, job) -> None:
        if self._outcome_lines:
            return super()._show_end(job)
        self.renderer.message(f"kjob: {end_line(job)}")  # the outcome is not on stdout: say it here

    def _summary(self, jobs) -> None:
        """Several jobs: how many ended how, in one line."""
        if len(jobs) < 2:
            return
        counts: dict[str, int] = {}
        for job in jobs:
            key = outcome_text(job) if job.finished else "still running"
            counts[key] = counts.get(key, 0) + 1
        self.renderer.message("kjob: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


class Bars(WaitDisplay):
    """rich's live bars on stderr, one per job (and one for all), then a summary table."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._progress = None
        self._tasks: dict[int, Any] = {}
        self._overall = None
        # Lines for stdout wait until the bars are gone: stdout may reach the same screen through a
        # pipe (`| tee log`), where a line written among the bars garbles them.
        self._deferred = []
        if self.renderer.out_terminal.is_terminal:  # the summary table says it on the screen
            self._outcome_lines = False

    def seen(self, job, previous: str | None) -> None:
        self._draw(job)

    def _show_end(self, job) -> None:
        self._draw(job)

    def trouble(self, job, text: str) -> None:
        super().trouble(job, text)
        self._draw(job)

    def trace(self, line: str) -> None:
        """A --verbose line, above the bars while they are live."""
        if self._progress is None:
            return super().trace(line)
        for part in line.split("\n"):  # several lines at once (kjob's own), each made safe
            self._progress.console.print(self.renderer.clean(part), markup=False, highlight=False, soft_wrap=True)

    def _note(self, text: str) -> None:
        """Above the bars while they are live."""
        if self._progress is None:
            return super()._note(text)
        self._progress.console.print(self.renderer.clean(text), style="yellow", markup=False)

    def start(self, jobs) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True, highlight=False)  # rich honours NO_COLOR itself
        width = console.width
        # Columns: REF, [endpoint], state, bar, percentage, elapsed, time left, one space apart.
        # The endpoint goes first on a narrow screen, then the REF shrinks from the middle;
        # the bar and the percentage always stay.
        endpoint_width = ENDPOINT_WIDTH if width >= WIDE else 0
        fixed = STATE_WIDTH + 4 + 7 + 7 + 6 + (endpoint_width + 1 if endpoint_width else 0)
        # A job named by id alone is shown with its tag once known (`12 (nightly)`): room for it.
        labels = [MAX_REF_WIDTH if job.ref.job_id is not None and not job.ref.tag else len(str(job.ref)) for job in jobs]
        ref_width = max(8, min(max([*labels, len(f"all {len(jobs)} jobs")]), MAX_REF_WIDTH, width - fixed - MIN_BAR - 1,
                               _summary_job_room(width)))
        self._ref_width = ref_width  # the summary shortens a tag as its bar did
        bar_width = max(MIN_BAR, min(40, width - fixed - ref_width - 1))
        # Many jobs: bars for as many running jobs as the screen holds, the rest behind the
        # overall bar, and fewer redraws (each redraw renders every visible row).
        self._rows = max(3, min(MAX_BARS, console.size.height - 8))
        crowded = len(jobs) > self._rows
        self._progress = Progress(*_columns(self, ref_width, endpoint_width, bar_width), console=console, transient=False,
                                  refresh_per_second=1 if crowded else 8)
        for index, job in enumerate(jobs):  # before start(): on a live display each add_task redraws
            self._tasks[id(job)] = self._progress.add_task(
                "", total=100, ref=str(job.ref), endpoint="", state="waiting", colour="dim", ended=False, waited="",
                visible=index < self._rows,
            )
        self._hidden = list(jobs[self._rows :])
        self._ended: set[int] = set()
        self._jobs = list(jobs)
        if len(jobs) > 1:
            self._overall = self._progress.add_task("", total=100 * len(jobs), ref=f"all {len(jobs)} jobs", endpoint="",
                                                    state="", colour="dim", ended=False, waited="")
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
        status = outcome_text(job)
        colour = STATUS_COLOURS.get(status, "red")
        completed = 100 if status == "DONE" else (state.progress if state else 0)
        # Text columns, never markup: the REF, the endpoint and the status word are the server's
        self._progress.update(task, completed=completed, ref=safe(ref_label(job)),
                              endpoint=safe(state.endpoint) if state else "", state=safe(status), colour=colour,
                              ended=job.finished)
        if job.finished and id(job) not in self._ended:  # once: a bar that ended keeps its time, the summary's
            self._progress.stop_task(task)
            self._progress.update(task, waited=waited(job))
            self._ended.add(id(job))
            self._hidden = [hidden for hidden in self._hidden if not hidden.finished]
            if self._hidden and job.exit_code == ExitStatus.OK:  # make room for a running job still hidden
                self._progress.update(task, visible=False)
                self._progress.update(self._tasks[id(self._hidden.pop(0))], visible=True)
        if self._overall is not None:
            share = 100 if job.finished else completed  # an ended job, however it ended, is all done
            self._overall_done += share - self._shares.get(id(job), 0)
            self._shares[id(job)] = share
            all_ended = len(self._ended) == len(self._tasks)
            self._progress.update(self._overall, completed=self._overall_done, state=f"{len(self._ended)} ended",
                                  ended=all_ended, waited=f"{max(each.elapsed for each in self._jobs):.1f} s" if all_ended else "")

    def abort(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        super().abort()

    def _summary(self, jobs) -> None:
        """Stop the bars where they are, then a table of the outcomes."""
        from rich.table import Column, Table
        from rich.text import Text

        if self._progress is not None:
            for job in jobs:
                self._draw(job)
            if self._overall is not None:
                self._progress.stop_task(self._overall)
            self._progress.stop()
        console = self._progress.console
        narrow = console.width < WIDE
        job_width = max(8, min(max(len(ref_label(job)) for job in jobs), self._ref_width))
        table = Table(Column("job", no_wrap=True, width=job_width), title=None, show_edge=False, header_style="bold")
        if not narrow:
            table.add_column("endpoint", no_wrap=True)
        for column in ("status", "waited", "message"):
            table.add_column(column, no_wrap=column != "message")
        for job in jobs:
            status = table_status(job)
            colour = STATUS_COLOURS.get(status, "red")
            # every cell Text, never markup: it holds the server's words
            row = [Text(shorten_middle(safe(ref_label(job)), job_width))]
            if not narrow:
                row.append(Text(safe(job.state.endpoint) if job.state else ""))
            row += [Text(safe(status), style=colour), waited(job), Text(safe(problem_text(job)))]
            table.add_row(*row)
        console.print(table)


def _summary_job_room(width: int) -> int:
    """The summary's job column: what its other columns (job, [endpoint], status, waited, message) leave."""
    return width - (STATE_WIDTH + 8 + (ENDPOINT_WIDTH + 3 if width >= WIDE else 0) + 12 + 9)


def _columns(display: Bars, ref_width: int, endpoint_width: int, bar_width: int) -> list:
    """The bars' columns: REF, [endpoint], state, bar, percentage, elapsed, time left.

    Text columns, never markup: the REF, the endpoint and the status word are the server's."""
    from rich.progress import BarColumn, ProgressColumn, TaskProgressColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

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

    class Elapsed(TimeElapsedColumn):
        """An ended job's time is the summary's number (`5.1 s`, `already`), from the job's own clock."""

        def render(self, task):
            if task.fields.get("waited"):
                return Text(task.fields["waited"], style="progress.elapsed")
            return super().render(task)

    columns = [Label("ref", ref_width, "bold")]
    if endpoint_width:
        columns.append(Label("endpoint", endpoint_width, "dim"))
    return [*columns, State(), BarColumn(bar_width=bar_width), TaskProgressColumn(), Elapsed(), Remaining()]


DISPLAYS: dict[str, type[WaitDisplay]] = {"rich": Bars, "plain": PlainLines, "none": NoProgress}
