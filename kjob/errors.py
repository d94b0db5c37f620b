"""One exception family for everything a user should see as one line, with its exit code.

The exit codes are kjob's contract with scripts; they are the same for every subcommand and
are listed in `kjob --help` and the README (ExitStatus below is the one source of both, and of
the tables derived from it).
"""

from __future__ import annotations

from enum import IntEnum

import click


class ExitStatus(IntEnum):
    """Every exit code kjob returns, once, with the text `kjob --help` and the README show."""

    def __new__(cls, code: int, text: str, word: str = "") -> ExitStatus:
        member = int.__new__(cls, code)
        member._value_ = code
        member.text = text
        member.word = word  # how `wait` names a job it could not see for this reason
        return member

    OK = 0, "success; the job is DONE (for status: the look succeeded and the job is RUNNING or DONE)"
    JOB_FAILED = 1, "the job ended in ERROR"
    USAGE = 2, "usage error or bad local input (nothing was sent), or output that cannot be written"
    CANCELLED = 3, "the job was CANCELLED"
    NOT_FINISHED = 4, "timed out, or the job has not finished"
    NOT_FOUND = 5, "job not found", "NOT FOUND"
    CREDENTIALS_REFUSED = 6, "credentials refused (HTTP 401 or 403)", "UNAUTHORIZED"
    UNREACHABLE = 7, "no cluster reachable, or no usable answer from any", "UNREACHABLE"
    SERVER_REFUSED = 8, "the server refused the request (an ERROR answer), or submit's tag names another job", "REFUSED"
    UNKNOWN_OUTCOME = 9, "the job is no longer running, with a status kjob does not know (shown)"
    PARTIAL_RESULT = 10, "fetch: a partial result (the server cut it; `fetch --all` gets every row)"
    SUBMIT_UNCERTAIN = 11, "submit: whether the job was started is not known (look it up by the tag printed)"
    HANGUP = 129, "hung up (SIGHUP); a partial -o file is removed, the terminal restored"
    INTERRUPTED = 130, "interrupted (Ctrl-C): kjob cleans up, then ends by SIGINT, which a shell reports as 130"
    BROKEN_PIPE = 141, "the reader of stdout went away (kjob ... | head -1)"
    TERMINATED = 143, "terminated (SIGTERM); a partial -o file is removed, the terminal restored"


EXIT_CODES: dict[int, str] = {int(status): status.text for status in ExitStatus}
# When several jobs end differently, the first of these that occurs decides (most severe first).
SEVERITY: tuple[ExitStatus, ...] = (
    ExitStatus.INTERRUPTED, ExitStatus.UNREACHABLE, ExitStatus.CREDENTIALS_REFUSED, ExitStatus.SERVER_REFUSED,
    ExitStatus.NOT_FOUND, ExitStatus.UNKNOWN_OUTCOME, ExitStatus.JOB_FAILED, ExitStatus.CANCELLED,
    ExitStatus.NOT_FINISHED, ExitStatus.OK,
)
ERROR_WORDS: dict[int, str] = {int(status): status.word for status in ExitStatus if status.word}


class KjobError(click.ClickException):
    """Anything the user should see as one line, not a traceback."""

    exit_code = ExitStatus.JOB_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def show(self, file=None) -> None:
        from kjob.sanitize import safe

        click.echo(f"kjob: {safe(self.format_message())}", file=file, err=True)


class BadInput(KjobError):
    """Local input that kjob refuses before sending anything: a payload, a file, an option."""

    exit_code = ExitStatus.USAGE


class ProtocolError(KjobError):
    """Bytes that are not what the protocol says: truncated Avro, a wrong schema, bad JSON.

    Raised by the codec. A server's answer that cannot be read leaves kjob with no usable
    cluster (exit 7); the layer that reads local input re-raises it as BadInput.
    """

    exit_code = ExitStatus.UNREACHABLE


class ServerRefused(KjobError):
    """The server answered with an ERROR wrapper; its message is kept whole."""

    exit_code = ExitStatus.SERVER_REFUSED

    def __init__(self, message: str, *, endpoint: str = "", cluster: str = "") -> None:
        self.server_message = message
        self.endpoint = endpoint
        self.cluster = cluster
        where = f" {endpoint}" if endpoint else ""
        at = f" on {cluster}" if cluster else ""
        super().__init__(f"server refused{where}{at}: {message}")


class TagTaken(KjobError):
    """kjob's own refusal (no server said it): the tag names another job (of another endpoint, or
    with another payload kjob recorded). Exit 8, as the server's refusal of a taken tag, so that
    scripts see one code for both."""

    exit_code = ExitStatus.SERVER_REFUSED


class JobFailed(KjobError):
    """The job ended in ERROR."""

    exit_code = ExitStatus.JOB_FAILED


class JobCancelled(KjobError):
    """The job was cancelled."""

    exit_code = ExitStatus.CANCELLED


class UnknownOutcome(KjobError):
    """The job is no longer running and its status is a word kjob does not know: neither
    success nor failure can be read from it, and waiting longer would never end."""

    exit_code = ExitStatus.UNKNOWN_OUTCOME


class NotFinished(KjobError):
    """A deadline passed, or a job that must be finished is still running."""

    exit_code = ExitStatus.NOT_FINISHED


class JobNotFound(KjobError):
    """No cluster knows the job by its id or tag."""

    exit_code = ExitStatus.NOT_FOUND


class CredentialsRefused(KjobError):
    """HTTP 401 or 403: never retried, never failed over."""

    exit_code = ExitStatus.CREDENTIALS_REFUSED


class NoClusterReachable(KjobError):
    """Every configured cluster failed (connection, timeout, 5xx); says which and why.

    `cause` is the message without the hint (what to do), for a line about a job mid-wait."""

    exit_code = ExitStatus.UNREACHABLE

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.cause = message
        super().__init__(f"{message}; {hint}" if hint else message)


class DeadlineCut(NoClusterReachable):
    """The command's own deadline (--timeout) ended the call to a cluster that had not answered:
    timed out (exit 4), not unreachable (a refused connection or --http-timeout is exit 7)."""

    exit_code = ExitStatus.NOT_FINISHED


class PartialResult(KjobError):
    """The rows written are only part of the result: the server cut it at its maximum."""

    exit_code = ExitStatus.PARTIAL_RESULT


class SubmitUncertain(KjobError):
    """A submit whose first try may have arrived, and whose look-up of the tag got an answer
    kjob cannot classify: a second job must not be started, success must not be claimed."""

    exit_code = ExitStatus.SUBMIT_UNCERTAIN


class Interrupted(KjobError):
    """Ctrl-C, with what it left behind: the one kind of error that becomes exit 130."""

    exit_code = ExitStatus.INTERRUPTED


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the main thread is: what is under way cleans up as for
    Ctrl-C (a BaseException, so that no `except Exception` keeps it); exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.exit_code = ExitStatus(128 + signum)
        super().__init__(f"terminated by {signal.Signals(signum).name}")
