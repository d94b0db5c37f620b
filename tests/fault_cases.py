"""Every bad input and server fault kjob is tried with, and what it answers: the README's table.

The cases run against the emulator (tests/test_faults.py asserts each exit code and message
and that the README's table is this module's output). `python tests/fault_cases.py` prints
the table; `python tests/fault_cases.py --write README.md` puts it in the README.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable

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


def _alter(**changes) -> str:
    return json.dumps({**ALTER, **changes})


def _submit_done(emulator) -> None:
    from kjob.protocol import codec, payload

    data, _ = payload.encode_payload(payload.request_schema("/alter/table"), ALTER, "binary")
    record = {"endpoint": "/alter/table", "request_encoding": "binary", "data": data, "data_str": "", "options": {"job_tag": "done-job"}}
    emulator.ring.create(0, codec.decode_request("/create/job", codec.encode_request("/create/job", record, "binary"), "binary"))


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
    Case("an HTML page from a proxy", STATUS_DONE, 7, "HTTP 200 with an HTML page (a proxy?), not a Kinetica answer", fault="html", setup=_submit_done),
    Case("an empty answer", STATUS_DONE, 7, "unreadable answer", fault="empty", setup=_submit_done),
    Case("no answer at all (read timeout)", STATUS_DONE, 7, "no complete answer within 1 s", fault="stall", setup=_submit_done),
    Case("an answer arriving byte by byte", [*STATUS_DONE[:-1], "0.3"], 7, "no complete answer within 0.3 s", fault="trickle", setup=_submit_done),
    Case("the connection closed with no answer", STATUS_DONE, 7, "connection closed without an answer", fault="drop", setup=_submit_done),
    Case("HTTP 503, every time", STATUS_DONE, 7, "no cluster answered /get/job (tried http://127.0.0.1:PORT: HTTP 503)", fault="http-503", setup=_submit_done),
    Case("HTTP 503 twice, then an answer", STATUS_DONE, 0, "", fault="http-503*2", setup=_submit_done),
    Case("ERROR 'Kinetica is offline'", STATUS_DONE, 7, "ERROR: Kinetica is offline", fault="offline", setup=_submit_done),
    Case("an ordinary ERROR answer", STATUS_DONE, 8, "server refused /get/job on http://127.0.0.1:PORT: Emulated refusal", fault="refuse", setup=_submit_done),
    Case("credentials refused (HTTP 401)", STATUS_DONE, 6, "credentials refused by http://127.0.0.1:PORT (HTTP 401)", fault="unauthorized", setup=_submit_done),
    Case("no server listening", ["status", "1", "--url", "http://127.0.0.1:9"], 7, "nothing is listening at http://127.0.0.1:9 (connection refused); give your cluster's URL with --url or KJOB_URL"),
    Case("a job that does not exist", ["status", "424242", "--url", "{url}"], 5, "job 424242 not found on http://127.0.0.1:PORT (looked up by id): Job 424242 not found"),
    Case("a tag already in use", [*SUBMIT, "--tag", "done-job", "--data", _alter()], 8, "Job tag 'done-job' already exists", setup=_submit_done),
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
]


def normalise(text: str, url: str, folder: str) -> str:
    text = text.replace(folder, "DIR")
    return re.sub(r"http://127\.0\.0\.1:\d{4,5}", "http://127.0.0.1:PORT", text.replace(url, "http://127.0.0.1:PORT"))


def run_case(case: Case, emulator, folder: str):
    """Run one case through click's runner: (exit code, last stderr line, normalised)."""
    from conftest import run_cli

    for name, content in case.files.items():
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(content)
    if case.setup:
        case.setup(emulator)
    if case.fault:
        emulator.primary.faults.add(case.fault)
    def fill(text: str) -> str:
        return text.replace("{url}", emulator.url).replace("{dir}", folder)

    args = [fill(arg) for arg in case.args]
    env = {name: fill(value) for name, value in case.env.items()}
    result = run_cli(args, env=env)
    lines = result.stderr.strip().splitlines()
    return result.exit_code, normalise(lines[-1] if lines else "", emulator.url, folder)


def table(outcomes: list[tuple[Case, int, str]]) -> str:
    rows = ["| bad input or fault | kjob says (last line on stderr) | exit |", "|---|---|---|"]
    for case, code, said in outcomes:
        if code == 0:
            rows.append(f"| {case.what} | (nothing: retried with backoff and jitter, then the look succeeds) | {code} |")
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
        readme = open(path, encoding="utf-8").read()
        start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(readme[:start] + "\n" + text + "\n" + readme[end:])
    else:
        print(text)
