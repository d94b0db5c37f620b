"""The ring: a call goes to the current cluster; on a failover condition it moves to the next
one, and after a full round of failures it waits (backoff with jitter) and goes round again,
up to `settings.retries` rounds. Before it leaves a cluster that failed, it asks that
cluster's /show/system/status, as the official client does (PROTOCOL.md, Failover)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from kjob.config import seconds
from kjob.errors import CredentialsRefused, DeadlineCut, JobNotFound, NoClusterReachable, ProtocolError, ServerRefused
from kjob.http.exchange import ClusterFailed, Exchange, Reports
from kjob.protocol import encodings

RECHECK_TIMEOUT = 2.0  # the look at the current cluster's /show/system/status before moving on
BACKOFF_BASE, BACKOFF_CAP = 0.25, 4.0
DEADLINE_SLACK = 0.05  # seconds: a call that timed out this close to --timeout's deadline was cut by it


class SkipCluster(Exception):
    """This cluster cannot be asked this (a job id that belongs to another cluster)."""


def _nothing_listening(reasons: dict[str, str]) -> bool:
    """Every cluster refused the connection: most likely a wrong URL or a server not started."""
    return bool(reasons) and all(reason == "connection refused" for reason in reasons.values())


def _pause(round_number: int) -> float:
    """The wait before the next round: exponential, capped, with jitter."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2**round_number) * random.uniform(0.5, 1.5)


class Ring:
    """The clusters of the settings (and, with --discover, the ring's others), the current first."""

    def __init__(self, exchange: Exchange, reports: Reports) -> None:
        self.exchange = exchange
        self.settings = exchange.settings
        self.reports = reports
        self.clusters = list(self.settings.urls)
        self.current = 0
        self._discovered = not self.settings.discover
        self._discovery = threading.Lock()

    def across(self, endpoint: str, attempt: Callable[[str], Any]) -> tuple[Any, str]:
        """Run `attempt(cluster)` on the current cluster, failing over and retrying as needed."""
        with self._discovery:  # once, whichever poll thread comes first
            if not self._discovered:
                self._discovered = True
                self.discover()
        rounds = max(1, self.settings.retries)
        deadline = self.settings.deadline
        reasons: dict[str, str] = {}
        failed_clusters: dict[str, str] = {}  # those that failed, not those skipped
        timed_out = cut_short = False  # the last failure was no answer in time; the deadline stopped the tries
        for round_number in range(rounds):
            start = self.current
            for offset in range(len(self.clusters)):
                if reasons and deadline is not None and time.monotonic() >= deadline:
                    cut_short = True
                    break  # the command's time is up: no new try, whatever clusters are left
                index = (start + offset) % len(self.clusters)
                cluster = self.clusters[index]
                try:
                    result = self._try(cluster, attempt, reasons, recheck=offset == 0)
                except SkipCluster as skipped:
                    reasons[cluster] = str(skipped)
                    continue
                except ClusterFailed as failed:
                    reasons[cluster] = failed_clusters[cluster] = failed.reason
                    timed_out = failed.timed_out
                    continue
                except JobNotFound as missing:
                    if not failed_clusters:
                        raise
                    # Not here, and a cluster that may know it failed: how the job stands is unknown.
                    tried = "; ".join(f"{failed} unreachable ({why})" for failed, why in failed_clusters.items())
                    raise NoClusterReachable(f"{tried}, and {missing.message} (not there, or not yet: a tag reaches a "
                                             "backup after a delay)") from None
                self._move_to(index, reasons)
                return result, cluster
            if round_number + 1 < rounds:
                pause = _pause(round_number)
                if deadline is not None and time.monotonic() + pause > deadline:
                    cut_short = True
                    break
                if self.reports.on_retry and not _nothing_listening(reasons):  # that case ends in one line with a hint
                    self.reports.on_retry(pause, dict(reasons))
                time.sleep(pause)
        if timed_out and deadline is not None and (cut_short or time.monotonic() >= deadline - DEADLINE_SLACK):
            raise self._timed_out(endpoint, failed_clusters)  # --timeout, not the cluster, ended the tries
        raise self._unreachable(endpoint, reasons)

    def _try(self, cluster: str, attempt: Callable[[str], Any], reasons: dict[str, str], recheck: bool) -> Any:
        """One attempt; on the current cluster, one more when it says it is running and not draining."""
        try:
            return attempt(cluster)
        except ClusterFailed as failed:
            if not recheck or len(self.clusters) == 1 or not self.still_usable(cluster):
                raise
            reasons[cluster] = failed.reason
            return attempt(cluster)

    def _move_to(self, index: int, reasons: dict[str, str]) -> None:
        """Make the cluster that answered the current one, and say so when it changed."""
        if index == self.current:
            return
        previous = self.clusters[self.current]
        self.current = index
        if self.reports.on_failover:
            self.reports.on_failover(self.clusters[index], reasons.get(previous, "unavailable"))

    def _timed_out(self, endpoint: str, failed_clusters: dict[str, str]) -> DeadlineCut:
        """The command's deadline ended the calls: timed out (exit 4), saying who did not answer."""
        after = "" if self.settings.timeout is None else f" after {seconds(self.settings.timeout)} s"
        return DeadlineCut(f"timed out{after} (--timeout): no answer from {', '.join(failed_clusters)} to {endpoint}")

    @staticmethod
    def _unreachable(endpoint: str, reasons: dict[str, str]) -> NoClusterReachable:
        if _nothing_listening(reasons):
            return NoClusterReachable(
                f"no cluster answered {endpoint}: nothing is listening at {', '.join(reasons)} (connection refused)",
                hint="give your cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator",
            )
        tried = "; ".join(f"{cluster}: {reason}" for cluster, reason in reasons.items())
        return NoClusterReachable(f"no cluster answered {endpoint} (tried {tried})")

    def still_usable(self, cluster: str) -> bool:
        """Whether a cluster that just failed a call says it is running and not draining
        (/show/system/status, as the official client asks before it moves on)."""
        try:
            status_map = self.exchange.post(cluster, "/show/system/status", {"options": {}}, timeout=RECHECK_TIMEOUT)["status_map"]
            system = encodings.parse_json(status_map.get("system", "{}"), "status_map.system")
            ha_status = encodings.parse_json(status_map.get("ha_status") or "{}", "status_map.ha_status")
        except (ClusterFailed, ServerRefused, CredentialsRefused, ProtocolError):
            return False
        running = isinstance(system, dict) and system.get("status") == "running"
        draining = isinstance(ha_status, dict) and ha_status.get("drained") == "draining"
        if self.reports.trace:
            self.reports.trace(f"{cluster}: {'running' if running else 'not running'}{', draining' if draining else ''}")
        return running and not draining

    def discover(self) -> None:
        """Add the ring's other clusters (conf.ha_ring_head_nodes_full) after the explicit ones.

        Asks the first cluster that answers; a ring that cannot be discovered is no error.
        """
        for cluster in list(self.clusters):
            try:
                properties = self.exchange.post(cluster, "/show/system/properties", {"options": {}})["property_map"]
            except (ClusterFailed, ServerRefused):
                continue
            if properties.get("conf.enable_ha", "").lower() != "true":
                return
            added = []
            for members in properties.get("conf.ha_ring_head_nodes_full", "").split(";"):
                head = members.split(",")[0].strip().rstrip("/")
                if head.startswith(("http://", "https://")) and head not in self.clusters:
                    self.clusters.append(head)
                    added.append(head)
            if added and self.reports.trace:
                self.reports.trace(f"discovered ring members: {', '.join(added)}")
            return
