"""`python -m kjob.emulator`: serve an emulated Kinetica ring on loopback until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import threading

from kjob.emulator.faults import MODES
from kjob.emulator.jobs import PROGRESS_SHAPES, SHOW_JOBS_TAGS
from kjob.emulator.server import SNAPPY_ANSWER_TYPES, Credentials, Emulator
from kjob.emulator.sql import MAX_GET_RECORDS_SIZE

ENVIRONMENT = """environment:
  KJOB_EMULATOR_USER, KJOB_EMULATOR_PASSWORD   require basic auth with this user and password
  KJOB_EMULATOR_TOKEN                          require (or also accept) this bearer token
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kjob.emulator",
        description="Serve an emulated Kinetica async-job API (with an HA backup cluster if asked).",
        epilog=ENVIRONMENT + "\nfault modes:\n" + "\n".join(f"  {mode:<14} {text}" for mode, text in MODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9191, help="primary cluster's port (0 picks a free one; default 9191)")
    parser.add_argument("--backup-port", type=int, help="also run a backup cluster of the HA ring on this port")
    parser.add_argument("--job-duration", type=float, default=1.0, help="seconds a job runs unless its payload says (default 1)")
    parser.add_argument("--replication-delay", type=float, default=0.0, help="seconds before a new job is visible on the backup")
    parser.add_argument("--fault", action="append", default=[], metavar="MODE[@ENDPOINT][*COUNT]", help="arm a fault on the primary")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; with --tls-key)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--url-file", help="write the clusters' URLs (one a line) to this file once listening")
    parser.add_argument("--db", default=":memory:", metavar="PATH",
                        help="the ring's SQL database, an SQLite file (default: in memory); the demo tables are added")
    parser.add_argument("--seed", action="append", default=[], metavar="FILE",
                        help="run the SQL statements of FILE (one per line, ';' at the end optional) on the database at start")
    parser.add_argument("--max-get-records-size", type=int, default=MAX_GET_RECORDS_SIZE, metavar="N",
                        help=f"most records one SQL answer holds; more go to a paging table (default {MAX_GET_RECORDS_SIZE})")
    parser.add_argument("--retention", type=float, default=3600.0, metavar="S",
                        help="seconds a job is kept after it ends (default 3600)")
    parser.add_argument("--progress", choices=PROGRESS_SHAPES, default="linear",
                        help="how a job's progress moves unless its payload says (default linear)")
    parser.add_argument("--cancel-checkpoint", type=float, default=0.2, metavar="S",
                        help="a cancel lands at the job's next checkpoint, every S seconds of its run (default 0.2)")
    parser.add_argument("--show-jobs-tags", choices=SHOW_JOBS_TAGS, default="json",
                        help="how /admin/show/jobs puts the jobs' tags in its info map (default json: an array)")
    parser.add_argument("--snappy-answer-type", choices=SNAPPY_ANSWER_TYPES, default="octet-stream",
                        help="Content-Type of the (uncompressed) answer to a snappy request (default octet-stream)")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return parser.parse_args(argv)


def credentials_from_environment() -> Credentials:
    user, password, token = (os.environ.get(f"KJOB_EMULATOR_{name}") for name in ("USER", "PASSWORD", "TOKEN"))
    return Credentials(users={user: password or ""} if user else {}, tokens={token} if token else set())


def read_statements(path: str) -> list[str]:
    """The SQL statements of a seed file: split at ';' ends of line, blank lines and `--` comments skipped."""
    with open(path, encoding="utf-8") as handle:
        text = "\n".join(line for line in handle.read().splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in text.split(";\n") if statement.strip().rstrip(";").strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("kjob emulator: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        seed = [statement for path in args.seed for statement in read_statements(path)]
    except OSError as exc:
        print(f"kjob emulator: cannot read --seed {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(
            args.host,
            args.port,
            args.backup_port,
            job_duration=args.job_duration,
            replication_delay=args.replication_delay,
            credentials=credentials_from_environment(),
            faults=tuple(args.fault),
            verbose=args.verbose,
            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            db=args.db,
            seed=seed,
            max_get_records_size=args.max_get_records_size,
            retention=args.retention,
            progress=args.progress,
            cancel_checkpoint=args.cancel_checkpoint,
            show_jobs_tags=args.show_jobs_tags,
            snappy_answer_type=args.snappy_answer_type,
        )
    except OSError as exc:
        print(f"kjob emulator: cannot listen on {args.host}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ssl.SSLError as exc:
        print(f"kjob emulator: cannot use the TLS certificate and key: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"kjob emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator.start()
    where = f"primary {emulator.url}" + (f", backup {emulator.backup.url}" if emulator.backup else "")
    print(f"kjob emulator listening: {where} (Ctrl-C to stop)", flush=True)
    if args.url_file:
        tmp = f"{args.url_file}.tmp"
        with open(tmp, "w") as handle:
            handle.write("\n".join(emulator.urls) + "\n")
        os.replace(tmp, args.url_file)
    threading.Thread(target=_when_every_cluster_stopped, args=(emulator, stop), daemon=True).start()
    stop.wait()
    emulator.stop()
    return 0


def _when_every_cluster_stopped(emulator: Emulator, stop: threading.Event) -> None:
    """POST /emulator/stop to every cluster of the ring ends the process (0): nothing is left to serve."""
    for cluster in emulator.clusters:
        cluster.stopped.wait()
    if not stop.is_set():  # not stopped by a signal (which stops every cluster too)
        print("kjob emulator: every cluster has stopped", flush=True)
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
