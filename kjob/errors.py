"""One exception family for everything a user should see as one line, with its exit code.

The exit codes are kjob's contract with scripts; they are the same for every subcommand and
are listed in `kjob --help` and the README (EXIT_CODES below is the one source of both).
"""

from __future__ import annotations

import click

EXIT_CODES: dict[int, str] = {
    0: "success; the job is DONE (status: the look succeeded)",
    1: "the job ended in ERROR",
    2: "usage error or bad local input (nothing was sent), or output that cannot be written",
    3: "the job was CANCELLED",
    4: "timed out, or the job has not finished",
    5: "job not found",
    6: "credentials refused (HTTP 401 or 403)",
    7: "no cluster reachable, or no usable answer from any",
    8: "the server refused the request (an ERROR answer)",
    9: "the job is no longer running, with a status kjob does not know (shown)",
    10: "fetch: a partial result (the server cut it; `fetch --all` gets every row)",
    11: "submit: whether the job was started is not known (look it up by the tag printed)",
    129: "hung up (SIGHUP); a partial -o file is removed, the terminal restored",
    130: "interrupted (Ctrl-C)",
    141: "the reader of stdout went away (kjob ... | head -1)",
    143: "terminated (SIGTERM); a partial -o file is removed, the terminal restored",
}


class KjobError(click.ClickException):
    """Anything the user should see as one line, not a traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def show(self, file=None) -> None:
        from kjob.sanitize import safe

        click.echo(f"kjob: {safe(self.format_message())}", file=file, err=True)


class BadInput(KjobError):
    """Local input that kjob refuses before sending anything: a payload, a file, an option."""

    exit_code = 2


class ProtocolError(KjobError):
    """Bytes that are not what the protocol says: truncated Avro, a wrong schema, bad JSON.

    Raised by the codec. A server's answer that cannot be read leaves kjob with no usable
    cluster (exit 7); the layer that reads local input re-raises it as BadInput.
    """

    exit_code = 7


class ServerRefused(KjobError):
    """The server answered with an ERROR wrapper; its message is kept whole."""

    exit_code = 8

    def __init__(self, message: str, *, endpoint: str = "", cluster: str = "") -> None:
        self.server_message = message
        self.endpoint = endpoint
        self.cluster = cluster
        where = f" {endpoint}" if endpoint else ""
        at = f" on {cluster}" if cluster else ""
        super().__init__(f"server refused{where}{at}: {message}")


class JobFailed(KjobError):
    """The job ended in ERROR."""

    exit_code = 1


class JobCancelled(KjobError):
    """The job was cancelled."""

    exit_code = 3


class UnknownOutcome(KjobError):
    """The job is no longer running and its status is a word kjob does not know: neither
    success nor failure can be read from it, and waiting longer would never end."""

    exit_code = 9


class NotFinished(KjobError):
    """A deadline passed, or a job that must be finished is still running."""

    exit_code = 4


class JobNotFound(KjobError):
    """No cluster knows the job by its id or tag."""

    exit_code = 5


class CredentialsRefused(KjobError):
    """HTTP 401 or 403: never retried, never failed over."""

    exit_code = 6


class NoClusterReachable(KjobError):
    """Every configured cluster failed (connection, timeout, 5xx); says which and why.

    `cause` is the message without the hint (what to do), for a line about a job mid-wait."""

    exit_code = 7

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.cause = message
        super().__init__(f"{message}; {hint}" if hint else message)


class PartialResult(KjobError):
    """The rows written are only part of the result: the server cut it at its maximum."""

    exit_code = 10


class SubmitUncertain(KjobError):
    """A submit whose first try may have arrived, and whose look-up of the tag got an answer
    kjob cannot classify: a second job must not be started, success must not be claimed."""

    exit_code = 11


class Interrupted(KjobError):
    """Ctrl-C: the one place where an interrupt becomes exit 130."""

    exit_code = 130


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the main thread is: what is under way cleans up as for
    Ctrl-C (a BaseException, so that no `except Exception` keeps it); exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        import signal

        self.exit_code = 128 + signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")
