"""What every operation is given: the frozen settings, the renderer, kjob's record of jobs, and
the client (made on first use, as it loads requests).

Built by the click layer (kjob.cli.context.make_app); nothing here reads options or the
environment.
"""

from __future__ import annotations

import time

from kjob.config import Settings, redact_url
from kjob.history import History
from kjob.model import Created, JobRef, parse_ref, tag_label
from kjob.output.lines import Renderer


class App:
    """What a command needs: settings, a renderer, kjob's record of jobs, and the client."""

    def __init__(self, settings: Settings, render: Renderer, history: History) -> None:
        self.settings = settings
        self.render = render
        self.history = history
        self._client = None

    def client(self):
        if self._client is None:
            from kjob.http.api import Client

            self._client = Client(
                self.settings,
                on_failover=self.render.failover,
                on_retry=self.render.retry,
                trace=self.render.trace if self.render.verbose else None,
                tag_of=self.history.tag_of,
            )
        return self._client

    def refs(self, texts: tuple[str, ...] | list[str]) -> list[JobRef]:
        """Job references as typed, with `@last` read from kjob's record of submitted jobs; a job
        named twice by the same key (`tag:X` and `X`, the same id) is kept once. An id and its
        own tag cannot be matched before a look, so `1 tag:T` names it twice."""
        refs: dict[tuple[int | None, str | None], JobRef] = {}
        for text in texts:
            ref = self._ref(text)
            refs.setdefault((ref.job_id, ref.tag), ref)
        return list(refs.values())

    def _ref(self, text: str) -> JobRef:
        if text.strip() != "@last":
            return parse_ref(text)
        entry = self.history.last()
        if entry["cluster"] not in self.settings.urls:  # say so: a job on a cluster (or an emulator) not in use
            self.render.warning(
                f"@last is job {entry['job_id']} ({tag_label(entry['job_tag'])}), submitted to {redact_url(entry['cluster'])}, "
                f"not to a cluster in use ({', '.join(redact_url(url) for url in self.settings.urls)}); "
                "looking for its tag there")
        return JobRef(job_id=entry["job_id"], tag=entry["job_tag"], origin=entry["cluster"])

    def remember(self, created: Created, payload_sha256: str | None = None) -> None:
        """Add a submitted job to kjob's record; a record that cannot be written only warns."""
        remaining = self.remaining()  # a lock held elsewhere is waited for within the command's bounds
        wait = self.settings.http_timeout if remaining is None else min(self.settings.http_timeout, remaining)
        try:
            self.history.add(created.job_id, created.job_tag, created.endpoint, created.cluster,
                             payload_sha256=payload_sha256, wait=wait)
        except OSError as exc:
            self.render.warning(f"cannot record the job in {self.history.path}: {exc.strerror or exc}")

    def remaining(self) -> float | None:
        """Seconds left before the command's deadline (--timeout), or None."""
        deadline = self.settings.deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())
