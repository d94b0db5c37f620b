"""Every bad input and server fault kjob is tried with, and what it answers: the README's table.

The cases run against the emulator, or against a hostile server of the suite's own
(tests/hostile_server.py) for what no well-behaved server sends (tests/test_faults.py asserts
each exit code and message and that the README's table is this module's output). `python tests/fault_cases.py` prints
the table; `python tests/fault_cases.py --write README.md` puts it in the README.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

ALTER = {"table_name": "t", "action": "refresh", "value": "", "options": {"emulator_duration": "0"}}
BEGIN, END = "<!-- fault-table:begin -->", "<!-- fault-table:end -->"


@dataclass
class Case:
    what: str  # the bad input or fault, as the README shows it
    args: list[str]  # kjob's arguments; {url} is the emulator, {dir} a scratch folder
    exit_code: int
    says: str  # a fragment of the last stderr line
    fault: str | None = None  # armed on the emulator before the run
    files: dict[str, bytes] = field(default_factory=dict)  # written into {dir} first
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable | None = None  # called with the emulator
    hostile: Callable | None = None  # makes the Hostile server at {hostile} ({hostport}: its host:port)
    prepare: Callable | None = None  # called with the scratch folder
    on_stdout: bool = False  # what it says is the last line on stdout (the row shows it so)


def _alter(**changes) -> str:
    return json.dumps({**ALTER, **changes})


def _submit_done(emulator) -> None:
    from kjob.protocol import codec, payload

    data, _ = payload.encode_payload(payload.request_schema("/alter/table"), ALTER, "binary")
    record = {"endpoint": "/alter/table", "request_encoding": "binary", "data": data, "data_str": "", "options": {"job_tag": "done-job"}}
    emulator.ring.create(0, codec.decode_request("/create/job", codec.encode_request("/create/job", record, "binary"), "binary"))


def _refuse_next_look_up(emulator) -> None:
    emulator.primary.faults.add("refuse@/get/job*1")


def _hostile(build: Callable, **options) -> Callable:
    """A Hostile server answering what `build()` makes, made when the case runs (not when listed)."""
    def make():
        from hostile_server import Hostile

        return Hostile(build(), **options)

    return make


def _h(name: str, *args, **kwargs) -> Callable:
    """Builds the bytes hostile_server.NAME(*args, **kwargs) makes."""
    def build():
        import hostile_server

        return getattr(hostile_server, name)(*args, **kwargs)

    return build


def _reply(name: str) -> Callable:
    """Builds hostile_server.NAME itself: a reply made for each request."""
    def build():
        import hostile_server

        return getattr(hostile_server, name)

    return build


def _http(body, *args, **kwargs) -> Callable:
    """Builds an HTTP answer around `body` (bytes, or a builder of them)."""
    def build():
        import hostile_server

        return hostile_server.http(body() if callable(body) else body, *args, **kwargs)

    return build


def _mkfifo(folder: str) -> None:
    os.mkfifo(os.path.join(folder, "fifo"))


LONG_NUMBER = "1" * 5000
RECORD_LINE = '{"job_id": %s, "job_tag": "t1", "endpoint": "/alter/table", "cluster": "http://127.0.0.1:9", "submitted_at": "2026-01-01T00:00:00Z"}\n'
STATUS_HOSTILE = ["status", "t1", "--url", "{hostile}", "--http-timeout", "0.3"]
ESCAPES = "\x1b]0;owned\x07\x1b[2J"
SUBMIT = ["submit", "/alter/table", "--url", "{url}"]
STATUS_DONE = ["status", "done-job", "--url", "{url}", "--http-timeout", "1"]

CASES = [
    # --- bad local input: exit 2, nothing sent ---------------------------------------------
    Case("payload that is not JSON", [*SUBMIT, "--data", '{"table_name": "t",'], 2, "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 20"),
    Case("payload field of the wrong type", [*SUBMIT, "--data", _alter(table_name=7)], 2, "table_name: expected a string, got int"),
    Case("payload missing a required field", [*SUBMIT, "--data", '{"action": "refresh", "value": ""}'], 2, "table_name: required field is missing"),
    Case("payload with an unknown field", [*SUBMIT, "--data", _alter(colour="red")], 2, "unknown field 'colour'"),
    Case("payload with a misspelt field", [*SUBMIT, "--data", json.dumps({"tabel_name": "t", "action": "refresh", "value": ""})], 2,
         "unknown field 'tabel_name' (did you mean 'table_name'?)"),
    Case("payload missing several required fields", [*SUBMIT, "--data", "{}"], 2, "table_name, action, value: required fields are missing"),
    Case("an option that is not a scalar", [*SUBMIT, "--data", _alter(options={"batch_size": [1000]})], 2, "options.batch_size: expected a string, got list"),
    Case("a number too big for a long", ["submit", "/execute/sql", "--url", "{url}", "--data", json.dumps({"statement": "x", "offset": 2**63})], 2, "out of range for long"),
    Case("a number too big for an int", ["submit", "/x/y", "--url", "{url}", "--schema", "{dir}/int.json", "--data", '{"n": 2147483648}'], 2, "out of range for int",
         files={"int.json": b'{"type": "record", "name": "r", "fields": [{"name": "n", "type": "int"}]}'}),
    Case("payload file that is not UTF-8", [*SUBMIT, "--file", "{dir}/latin1.json"], 2, "is not UTF-8 text (byte 0xe9 at offset 16)",
         files={"latin1.json": b'{"table_name": "\xe9t\xe9", "action": "a", "value": ""}'}),
    Case("an empty payload file", [*SUBMIT, "--file", "{dir}/empty.json"], 2, "is empty: expected a JSON object", files={"empty.json": b""}),
    Case("a payload path that is a directory", [*SUBMIT, "--file", "{dir}"], 2, "is a directory, not a file"),
    Case("a payload file that does not exist", [*SUBMIT, "--file", "{dir}/missing.json"], 2, "cannot read DIR/missing.json: No such file or directory"),
    Case("a payload file that cannot be read", [*SUBMIT, "--file", "/proc/self/mem"], 2, "cannot read /proc/self/mem: Input/output error"),
    Case("both --data and --file", [*SUBMIT, "--data", "{}", "--file", "x.json"], 2, "give the payload once: --data or --file, not both"),
    Case("a misspelt endpoint", ["submit", "/alter/tabel", "--url", "{url}", "--data", "{}"], 2, "no request schema for /alter/tabel (did you mean /alter/table?)"),
    Case("an endpoint kjob has no schema for", ["submit", "/show/widgets", "--url", "{url}", "--data", "{}"], 2, "kjob has no request schema for /show/widgets"),
    Case("a tag with bad characters", [*SUBMIT, "--tag", "nightly load!", "--data", _alter()], 2, "may hold only letters, digits, '_' and '-'"),
    Case("a job id too big for a long", ["status", "9223372036854775808", "--url", "{url}"], 2, "is too big for a job id"),
    Case("a job reference with bad characters", ["status", "tag:a b", "--url", "{url}"], 2, "job tag 'a b' may hold only letters, digits"),
    Case("a URL without a scheme", ["status", "1", "--url", "db1:9191"], 2, "has no scheme: write http://db1:9191"),
    Case("a URL with a bad port", ["status", "1", "--url", "http://db1:99999"], 2, "has a bad port"),
    Case("an unknown profile", ["status", "1", "--profile", "nope"], 2, "unknown profile 'nope' in DIR/kjob.toml (profiles: dev)",
         files={"kjob.toml": b'[profiles.dev]\nurl = "http://db1:9191"\n'}, env={"KJOB_CONFIG": "{dir}/kjob.toml"}),
    Case("a malformed config file", ["status", "1"], 2, "config file DIR/bad.toml is not valid TOML: Invalid value (at line 2, column 8)",
         files={"bad.toml": b'[profiles.dev]\nuser = \n'}, env={"KJOB_CONFIG": "{dir}/bad.toml"}),
    Case("--raw with --format", ["fetch", "1", "--raw", "--format", "csv", "--url", "{url}"], 2, "--raw writes the response's bytes; --format does not apply"),
    Case("an output file in a missing folder", ["fetch", "done-job", "--url", "{url}", "-o", "{dir}/no/such/out.json"], 2, "cannot write DIR/no/such/out.json: No such file or directory", setup=_submit_done),
    # --- broken servers ---------------------------------------------------------------------
    Case("an answer that is not Avro", STATUS_DONE, 7, "unreadable answer", fault="garbage", setup=_submit_done),
    Case("a truncated answer", STATUS_DONE, 7, "unreadable answer: malformed or truncated Avro gpudb_response", fault="truncate", setup=_submit_done),
    Case("a connection cut halfway through the answer", STATUS_DONE, 7, "the answer was cut off", fault="cut", setup=_submit_done),
    Case("an answer of the wrong content type", STATUS_DONE, 7, "answered application/json, expected application/octet-stream", fault="wrong-type", setup=_submit_done),
    Case("an HTML page from a proxy", STATUS_DONE, 7, "answered /get/job with HTTP 200 and an HTML page (a proxy?), not a Kinetica answer", fault="html", setup=_submit_done),
    Case("an empty answer", STATUS_DONE, 7, "unreadable answer", fault="empty", setup=_submit_done),
    Case("no answer at all (read timeout)", STATUS_DONE, 7, "no complete answer within 1 s", fault="stall", setup=_submit_done),
    Case("an answer arriving byte by byte", [*STATUS_DONE[:-1], "0.3"], 7, "no complete answer within 0.3 s", fault="trickle", setup=_submit_done),
    Case("the connection closed with no answer", STATUS_DONE, 7, "connection closed without an answer", fault="drop", setup=_submit_done),
    Case("HTTP 503, every time", STATUS_DONE, 7, "no cluster answered /get/job (tried http://127.0.0.1:PORT: HTTP 503)", fault="http-503", setup=_submit_done),
    Case("HTTP 503 twice, then an answer", STATUS_DONE, 0, "", fault="http-503*2", setup=_submit_done),
    Case("ERROR 'Kinetica is offline'", STATUS_DONE, 7, "ERROR: Kinetica is offline", fault="offline", setup=_submit_done),
    Case("an ordinary ERROR answer", STATUS_DONE, 8, "server refused /get/job on http://127.0.0.1:PORT: Emulated refusal", fault="refuse", setup=_submit_done),
    Case("credentials refused (HTTP 401)", STATUS_DONE, 6, "credentials refused by http://127.0.0.1:PORT (HTTP 401)", fault="unauthorized", setup=_submit_done),
    Case("access forbidden (HTTP 403)", STATUS_DONE, 6, "credentials refused by http://127.0.0.1:PORT (HTTP 403)", fault="forbidden", setup=_submit_done),
    Case("a draining cluster", STATUS_DONE, 7, "ERROR: Unavailable: Draining HA queue", fault="draining", setup=_submit_done),
    Case("a retried submit whose look-up of the tag gets an answer kjob cannot read", [*SUBMIT, "--tag", "maybe-job", "--data", _alter()], 11,
         "it did not submit again (check with: kjob status maybe-job)", fault="drop-after@/create/job*1", setup=_refuse_next_look_up),
    Case("no server listening", ["status", "1", "--url", "http://127.0.0.1:9"], 7, "nothing is listening at http://127.0.0.1:9 (connection refused); give your cluster's URL with --url or KJOB_URL"),
    Case("a job that does not exist", ["status", "424242", "--url", "{url}"], 5, "job 424242 not found on http://127.0.0.1:PORT (looked up by id): Job 424242 not found"),
    Case("a tag already in use", [*SUBMIT, "--tag", "done-job", "--data", _alter()], 8, "Job tag 'done-job' already exists", setup=_submit_done),
    # --- hostile servers: time, memory, redirects -------------------------------------------
    Case("headers arriving a byte at a time", STATUS_HOSTILE, 7, "no complete answer within 0.3 s",
         hostile=_hostile(_http(_h("get_job")), drip=0.05)),
    Case("an answer dripping a byte at a time (`--wire json`)", [*STATUS_HOSTILE, "--wire", "json"], 7, "no complete answer within 0.3 s",
         hostile=_hostile(_http(_h("get_job", "json"), content_type="application/json"), drip=0.05)),
    Case("an Avro map streaming entries without end", STATUS_HOSTILE, 7, "no complete answer within 0.3 s",
         hostile=_hostile(_reply("endless_map"), drip=0.002)),
    Case("an Avro map claiming 2^62 entries", STATUS_HOSTILE, 7, "a block of 4611686018427387904 items",
         hostile=_hostile(_http(_h("claiming", "status_map", 1 << 62)))),
    Case("a string claiming 2^62 bytes", STATUS_HOSTILE, 7, "a length of 4611686018427387904 bytes",
         hostile=_hostile(_http(_h("claiming", "endpoint", 1 << 62)))),
    Case("a job_response claiming 2^62 bytes", ["fetch", "t1", "--url", "{hostile}"], 7, "a length of 4611686018427387904 bytes",
         hostile=_hostile(_http(_h("claiming", "job_response", 1 << 62)))),
    Case("a gzip answer that inflates a thousandfold", STATUS_HOSTILE, 7, "an answer in Content-Encoding gzip, which kjob did not ask for",
         hostile=_hostile(_http(_h("gzip_bomb", 1 << 24), headers={"Content-Encoding": "gzip"}))),
    Case("a redirect (HTTP 302) to another host", STATUS_HOSTILE, 7, "HTTP 302, a redirect to http://203.0.113.9:9191/get/job: kjob follows none",
         hostile=_hostile(_http(b"", "302 Found", headers={"Location": "http://203.0.113.9:9191/get/job"}))),
    Case("a redirect (HTTP 307) of a submit", ["submit", "/alter/table", "--tag", "redirected", "--url", "{hostile}", "--data", _alter()], 7,
         "HTTP 307, a redirect to http://127.0.0.1:1/create/job",
         hostile=_hostile(_http(b"", "307 Temporary Redirect", headers={"Location": "http://127.0.0.1:1/create/job"}))),
    # --- hostile servers: secrets and server text -----------------------------------------------
    Case("a server echoing the Authorization header (basic auth)", STATUS_HOSTILE, 8, "bad credentials Basic *** (alice:***)",
         hostile=_hostile(_reply("echo_authorization")), env={"KJOB_USER": "alice", "KJOB_PASSWORD": "s3cret/pw 9"}),
    Case("a server echoing the bearer token (`kjob list`)", ["list", "--url", "{hostile}"], 8, "bad credentials Bearer *** (***)",
         hostile=_hostile(_reply("echo_authorization")), env={"KJOB_TOKEN": "tok-123-secret"}),
    Case("a token with a trailing CR/LF, echoed by the server", STATUS_HOSTILE, 8, "bad credentials Bearer *** (***)",
         hostile=_hostile(_reply("echo_authorization")), env={"KJOB_TOKEN": "tok-123-secret\r\n"}),
    Case("a token with a space or a control character", ["status", "t1", "--url", "{url}"], 2, "the token from KJOB_TOKEN holds a space",
         env={"KJOB_TOKEN": "tok 123"}),
    Case("a password holding '/' in a URL", ["status", "1", "--url", "http://alice:pa/ss@127.0.0.1:9"], 2,
         "cluster URL 'http://alice:***@127.0.0.1:9': a '/' in its password must be written %2F"),
    Case("a password in --url (it shows in `ps`)", ["status", "t1", "--url", "http://alice:s3cret@{hostport}"], 0,
         "a password in --url shows in the process list (ps)", hostile=_hostile(_http(_h("get_job")))),
    Case("an error message with escape sequences and a newline", STATUS_HOSTILE, 8, "\\x1b]0;owned\\x07\\x1b[2J\\nkjob: job 1 DONE",
         hostile=_hostile(_http(_h("error", ESCAPES + "\nkjob: job 1 DONE")))),
    Case("escape sequences in a status word, an endpoint and a tag", STATUS_HOSTILE, 9, "\\x1b[2J",
         hostile=_hostile(_http(_h("get_job", job_status="DONE\x1b[2J", endpoint="/alter/table\r\x1b[1A",
                                   info={"job_tag": "t1", "job_id": "1"}))), on_stdout=True),
    Case("escape sequences in a `kjob list` row", ["list", "--url", "{hostile}"], 0, "\\x1b[31m",
         hostile=_hostile(_http(_h("job_list", endpoint_name="/alter/table\x1b[31m", auth_id=ESCAPES))), on_stdout=True),
    Case("SQL cells that look like markup (`fetch --format table`)", ["fetch", "t1", "--format", "table", "--url", "{hostile}"], 0,
         "/usr/[/local] │ [red]x[/red]", hostile=_hostile(_http(_h("sql_job", ["path", "note"], [["/usr/[/local]", "[red]x[/red]"]]))),
         on_stdout=True),
    Case("a result schema of nulls claiming 2^40 rows (`fetch`)", ["fetch", "t1", "--url", "{hostile}"], 7,
         "an array whose items take no bytes", hostile=_hostile(_http(_h("free_items_job", 1 << 40)))),
    # --- local files and values of the wrong type -------------------------------------------
    Case("job-record lines of the wrong type, or a 5000-digit id", ["status", "@last", "--url", "{url}"], 2, "@last names the newest job kjob submitted, but its record is empty",
         files={"state/kjob/jobs.jsonl": (RECORD_LINE % '"7"' + RECORD_LINE % LONG_NUMBER + "[1]\n").encode()}, env={"XDG_STATE_HOME": "{dir}/state"}),
    Case("a config value of the wrong type", ["status", "1", "--profile", "dev"], 2, "profile 'dev': http_timeout must be a finite number of seconds, not a string",
         files={"kjob.toml": b'[profiles.dev]\nhttp_timeout = "soon"\n'}, env={"KJOB_CONFIG": "{dir}/kjob.toml"}),
    Case("a 5000-digit integer in the config file", ["status", "1", "--profile", "dev"], 2, "holds a value kjob cannot read: Exceeds the limit (4300 digits)",
         files={"kjob.toml": f"[profiles.dev]\nhttp_timeout = {LONG_NUMBER}\n".encode()}, env={"KJOB_CONFIG": "{dir}/kjob.toml"}),
    Case("a 5000-digit integer in a payload", [*SUBMIT, "--data", '{"table_name": "t", "action": "refresh", "value": ' + LONG_NUMBER + "}"], 2, "value has 5000 digits"),
    Case("NaN or Infinity in a payload", ["submit", "/execute/sql", "--url", "{url}", "--data", '{"statement": "x", "offset": NaN}'], 2,
         "NaN is not a JSON number (JSON has no NaN or Infinity)"),
    Case("-o naming a FIFO that nothing reads", ["fetch", "done-job", "--url", "{url}", "-o", "{dir}/fifo"], 2,
         "cannot write DIR/fifo: it is a FIFO that nothing reads", setup=_submit_done, prepare=_mkfifo),
]

# Cases a process must be run for (signals, pipes, file size limits): asserted in test_faults.py.
PROCESS_CASES = [
    ("`fetch -o` on a full disk (a file size limit)", 2, "cannot write ...: File too large (nothing was changed); the old file is kept"),
    ("`fetch -o` with the connection cut halfway", 7, "the answer was cut off; the old file is kept, no temporary file is left"),
    ("Ctrl-C during `fetch -o`", 130, "interrupted; the old file is kept, no temporary file is left"),
    ("Ctrl-C during `wait`", 130, "interrupted; the jobs go on on the server: REF"),
    ("`kjob status ... | head -c1` (the reader goes away)", 141, "nothing: no traceback"),
    ("`kjob wait --json ... | head -1`", 141, "nothing: no traceback"),
    ("stdin a terminal with no payload piped", 2, "no payload: give --data JSON, --file PATH, or pipe it to stdin"),
    # tests/test_hostile.py
    ("a byte every 0.5 s, `status --timeout 1.5 --http-timeout 1`", 4, "timed out after 1.5 s (--timeout): no answer from URL to /get/job, no later than the deadline"),
    ("the job record's lock held by another process (`submit`)", 0, "warning: cannot record the job ...: another process has held its lock; the job is submitted once, within --timeout"),
    ("SIGTERM during `fetch -o`", 143, "terminated by SIGTERM; the old file is kept, no temporary file is left"),
    ("SIGHUP during `fetch -o`", 129, "terminated by SIGHUP; the old file is kept, no temporary file is left"),
    ("SIGTERM during `wait` on a terminal", 143, "terminated by SIGTERM; the cursor is shown again"),
    ("stdout closed (`>&-`)", 2, "cannot write to stdout: it is closed"),
    ("stdout full (`> /dev/full`), also `fetch --raw`", 2, "cannot write to stdout: No space left on device; downloaded once"),
    ("`fetch --raw -o` on a full disk", 2, "cannot write ...: File too large (nothing was changed), at once; downloaded once"),
    ("stderr closed (`2>&-`) or full", 5, "nothing (nowhere to say it); the exit code is the outcome's (here: not found)"),
    ("stdin closed (`<&-`) and no payload", 2, "no payload: stdin is closed; give --data JSON or --file PATH"),
    ("`-o` naming a symlink, a FIFO or a device", 0, "written through: the symlink's target (the link stays), the FIFO's reader, the device"),
    ("`--timeout nan` (or inf)", 2, "Invalid value for '--timeout': 'nan' is not a number of seconds"),
    ("an ERROR job whose message holds the password and escapes, in `$GITHUB_STEP_SUMMARY`", 1, "the summary shows `***`, `\\x1b[2J` and `&lt;img`"),
]


def normalise(text: str, url: str, folder: str) -> str:
    text = re.sub(r"kjob-\d{8}T\d{6}Z-[0-9a-f]{12}", "TAG", text.replace(folder, "DIR"))  # a generated tag
    return re.sub(r"http://127\.0\.0\.1:\d{4,5}", "http://127.0.0.1:PORT", text.replace(url, "http://127.0.0.1:PORT"))


def run_case(case: Case, emulator, folder: str):
    """Run one case through click's runner: (exit code, last stderr line, normalised)."""
    from contextlib import nullcontext

    from conftest import run_cli

    for name, content in case.files.items():
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(content)
    if case.prepare:
        case.prepare(folder)
    if case.setup:
        case.setup(emulator)
    if case.fault:
        emulator.primary.faults.add(case.fault)
    with case.hostile() if case.hostile else nullcontext() as server:
        def fill(text: str) -> str:
            text = text.replace("{url}", emulator.url).replace("{dir}", folder)
            if server is not None:
                text = text.replace("{hostile}", server.url).replace("{hostport}", server.url.split("://", 1)[1])
            return text

        args = [fill(arg) for arg in case.args]
        env = {name: fill(value) for name, value in case.env.items()}
        result = run_cli(args, env=env)
    lines = (result.stdout if case.on_stdout else result.stderr).strip().splitlines()
    said = normalise(lines[-1] if lines else "", emulator.url, folder)
    return result.exit_code, f"stdout: {said}" if case.on_stdout else said


def table(outcomes: list[tuple[Case, int, str]]) -> str:
    rows = ["| bad input or fault | kjob says (last line on stderr) | exit |", "|---|---|---|"]
    for case, code, said in outcomes:
        if code == 0 and not case.says:  # success: the row says what happened instead
            rows.append(f"| {case.what} | (nothing: retried with backoff and jitter, then the look succeeds) | {code} |")
            continue
        if said.startswith("stdout: "):
            rows.append(f"| {case.what} | stdout: `{said[8:].replace('|', '&#124;')}` | {code} |")
            continue
        rows.append(f"| {case.what} | `{said.replace('|', '&#124;')}` | {code} |")
    for what, code, said in PROCESS_CASES:
        rows.append(f"| {what} | {said} | {code} |")
    return "\n".join(rows)


def compute() -> tuple[str, list[tuple[Case, int, str, float]]]:
    """Run every case on an emulator of its own: (the table, [(case, exit code, last line, seconds)])."""
    import time

    from kjob.emulator import Emulator

    os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp())
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp())
    outcomes = []
    for case in CASES:
        with Emulator(port=0, job_duration=0.05) as emulator, tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            code, said = run_case(case, emulator, folder)
            outcomes.append((case, code, said, time.monotonic() - started))
    return table([outcome[:3] for outcome in outcomes]), outcomes


def readme_section(readme: str) -> str:
    return readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)].strip()


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    text, _ = compute()
    if sys.argv[1:2] == ["--write"]:
        path = sys.argv[2]
        with open(path, encoding="utf-8") as handle:
            readme = handle.read()
        start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(readme[:start] + "\n" + text + "\n" + readme[end:])
    else:
        print(text)
