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

STATUS_COLOURS = {"RUNNING": "cyan", "DONE": "green", "ERROR": "red", "CANCELLED": "yellow"}


def colour_allowed(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Renderer:
    """Output for one command run: --json, --quiet or human text."""

    def __init__(self, *, as_json: bool = False, quiet: bool = False, verbose: bool = False, secrets: list[str] | None = None) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.verbose = verbose
        self.secrets = [secret for secret in (secrets or []) if secret]
        self.out = sys.stdout
        self.err = sys.stderr
        self.out_colour = colour_allowed(self.out)
        self.err_colour = colour_allowed(self.err)

    # --- stderr ----------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        """Nothing kjob prints may carry a secret, whatever a server or an exception said."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def message(self, text: str, *, always: bool = False) -> None:
        """A human message on stderr (dropped by --quiet unless `always`)."""
        if self.quiet and not always:
            return
        click.echo(self._clean(text), file=self.err)

    def warning(self, text: str) -> None:
        label = click.style("warning:", fg="yellow") if self.err_colour else "warning:"
        click.echo(f"kjob: {label} {self._clean(text)}", file=self.err)

    def trace(self, line: str) -> None:
        if self.verbose:
            click.echo(self._clean(line), file=self.err)

    def failover(self, cluster: str, reason: str) -> None:
        self.message(f"kjob: {reason}; going on with {redact_url(cluster)}")

    def retry(self, pause: float, reasons: dict[str, str]) -> None:
        tried = "; ".join(f"{redact_url(cluster)}: {reason}" for cluster, reason in reasons.items())
        self.message(f"kjob: no cluster answered ({tried}); trying again in {pause:.1f} s")

    # --- stdout ----------------------------------------------------------------------------

    def data(self, text: str) -> None:
        click.echo(self._clean(text), file=self.out)

    def json_line(self, value: Any) -> None:
        self.data(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def _status_word(self, status: str) -> str:
        return click.style(status, fg=STATUS_COLOURS.get(status), bold=True) if self.out_colour else status

    def created(self, created) -> None:
        """What `submit` prints: the job, or (-q) one REF for status, wait and fetch."""
        if self.as_json:
            return self.json_line(created.as_json())
        if self.quiet:
            return self.data(created.job_tag)
        verb = "already submitted" if created.existed else "submitted"
        self.data(f"job {created.job_id} {verb}: {created.endpoint}, tag {created.job_tag}, on {redact_url(created.cluster)}")

    def state(self, state) -> None:
        """One look at a job (`status`)."""
        if self.as_json:
            return self.json_line(state.as_json())
        if self.quiet:
            return self.data(state.job_status)
        job_id = state.job_id if state.job_id is not None else "?"
        line = (
            f"job {job_id}  {self._status_word(state.job_status)}  {state.progress:>3}%  {state.endpoint}"
            f"  tag {state.tag or '-'}  on {redact_url(state.cluster)}"
        )
        if state.error_message:
            line += f"\n  error: {state.error_message}"
        self.data(line)
