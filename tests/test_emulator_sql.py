"""The emulator's real SQL and Kinetica's paging of large results, seen through kjob and gpudb.

Statements run on the ring's SQLite database: what CREATE TABLE and INSERT store, SELECT
returns; a statement the engine refuses is an ERROR job with the engine's message. A result
beyond `limit` or the server's max_get_records_size says has_more_records and names a paging
table that /get/records/bycolumn reads; `kjob fetch` says a partial result (exit 10) and
`fetch --all` streams every row.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import gpudb
import pytest
from conftest import run_cli, run_kjob, sql, start

from kjob.emulator import Emulator

TWELVE = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12) SELECT i, i * i AS sq FROM n"


def many(count: int) -> str:
    return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) SELECT i, 'row ' || i AS label FROM n"


def sql_job(url: str, statement: str, *extra: str, **options: str) -> str:
    """Submit a statement as an /execute/sql job and wait for its end: its tag."""
    return start(url, "/execute/sql", sql(0, statement, **options), *extra)


@pytest.fixture
def paged():
    """A cluster whose answers hold at most 5 records."""
    with Emulator(port=0, job_duration=0, max_get_records_size=5) as emu:
        yield emu


def test_create_insert_select_return_what_was_stored(emulator):
    sql_job(emulator.url, "CREATE TABLE readings (station TEXT NOT NULL, celsius REAL)")
    inserted = sql_job(emulator.url, "INSERT INTO readings VALUES ('north', 3.5), ('south', NULL), ('east', -1.25)")
    response = json.loads(run_cli(["fetch", inserted, "--url", emulator.url, "--format", "response"]).stdout)
    assert response["count_affected"] == 3
    selected = sql_job(emulator.url, "SELECT station, celsius FROM ki_home.readings ORDER BY station")
    result = run_cli(["fetch", selected, "--url", emulator.url, "--format", "csv"])
    assert (result.exit_code, result.stdout) == (0, "station,celsius\neast,-1.25\nnorth,3.5\nsouth,\n")


def test_a_statement_the_engine_refuses_is_an_error_job_with_its_message(emulator):
    data = json.dumps({"statement": "SELECT * FROM no_such_table", "options": {"emulator_duration": "0"}})
    result = run_cli(["submit", "/execute/sql", "--wait", "--url", emulator.url, "--data", data])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].endswith(": SQL error: no such table: no_such_table")


def test_the_demo_tables_are_seeded(emulator):
    tag = sql_job(emulator.url, "SELECT c.city, SUM(s.amount) AS total FROM sales s JOIN cities c ON c.id = s.city_id"
                                " GROUP BY c.city ORDER BY c.city")
    result = run_cli(["fetch", tag, "--url", emulator.url, "--format", "jsonl"])
    assert result.stdout.splitlines() == ['{"city":"Amsterdam","total":162.75}', '{"city":"Boston","total":80.0}',
                                          '{"city":"Florence","total":310.0}']


def test_a_database_file_keeps_its_tables_across_emulators(tmp_path):
    db = str(tmp_path / "ring.sqlite")
    with Emulator(port=0, job_duration=0, db=db) as first:
        sql_job(first.url, "CREATE TABLE kept (n INTEGER)")
        sql_job(first.url, "INSERT INTO kept VALUES (42)")
    with Emulator(port=0, job_duration=0, db=db, seed=["INSERT INTO kept VALUES (43)"]) as second:
        tag = sql_job(second.url, "SELECT n FROM kept ORDER BY n")
        assert run_cli(["fetch", tag, "--url", second.url, "--format", "csv"]).stdout == "n\n42\n43\n"


def test_the_emulator_process_takes_db_and_seed(tmp_path):
    seed = tmp_path / "seed.sql"
    seed.write_text("-- the team's fixture\nCREATE TABLE teams (name TEXT);\nINSERT INTO teams VALUES ('red'), ('blue');\n")
    process = subprocess.Popen([sys.executable, "-m", "kjob.emulator", "--port", "0", "--db", str(tmp_path / "db"),
                                "--seed", str(seed), "--job-duration", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = re.search(r"primary (http://\S+)", process.stdout.readline().decode()).group(1)
        tag = sql_job(url, "SELECT name FROM teams ORDER BY name")
        assert run_kjob(["fetch", tag, "--url", url, "--format", "csv"]).stdout == b"name\nblue\nred\n"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_a_cut_result_is_said_and_exits_10(paged):
    tag = sql_job(paged.url, TWELVE)
    result = run_cli(["fetch", tag, "--url", paged.url, "--format", "jsonl"])
    assert result.exit_code == 10
    assert [json.loads(line)["i"] for line in result.stdout.splitlines()] == [1, 2, 3, 4, 5]
    assert result.stderr.startswith("kjob: partial result: 5 of 12 rows (the server's max_get_records_size or the "
                                    "statement's limit); `fetch --all` reads the rest from paging table ki_home.paging_")
    response = json.loads(run_cli(["fetch", tag, "--url", paged.url, "--format", "response"]).stdout)
    assert (response["has_more_records"], response["total_number_of_records"]) == (True, 12)


@pytest.mark.parametrize("wire", ["binary", "json", "snappy"])
@pytest.mark.parametrize("fmt, expected", [
    ("csv", "i,sq\n" + "".join(f"{i},{i * i}\n" for i in range(1, 13))),
    ("json", json.dumps([{"i": i, "sq": i * i} for i in range(1, 13)], separators=(",", ":")) + "\n"),
])
def test_fetch_all_follows_the_paging_table(paged, wire, fmt, expected):
    tag = sql_job(paged.url, TWELVE)
    result = run_cli(["fetch", tag, "--all", "--url", paged.url, "--format", fmt, "--wire", wire])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == expected


def test_fetch_all_of_a_whole_result_is_a_plain_fetch(emulator):
    tag = sql_job(emulator.url, "SELECT id FROM cities")
    assert run_cli(["fetch", tag, "--all", "--url", emulator.url, "--format", "csv"]).stdout == "id\n1\n2\n3\n4\n5\n6\n"


def test_fetch_all_refuses_formats_it_cannot_stream(paged):
    result = run_cli(["fetch", "some-tag", "--all", "--url", paged.url, "--format", "table"])
    assert (result.exit_code, result.stderr) == (2, "kjob: --all streams every row of a result: use --format json, jsonl or csv (not table)\n")
    result = run_cli(["fetch", "some-tag", "--all", "--raw", "--url", paged.url])
    assert (result.exit_code, result.stderr) == (2, "kjob: --all streams every row of a result as text; --raw writes the response's bytes\n")


def test_fetch_all_writes_the_paging_tables_rows_once_from_its_first_whatever_the_statements_offset(emulator):
    data = json.dumps({"statement": "SELECT * FROM cities ORDER BY id", "limit": 2, "offset": 3, "options": {"emulator_duration": "0"}})
    tag = run_cli(["submit", "/execute/sql", "-q", "--url", emulator.url, "--data", data]).stdout.strip()
    result = run_cli(["fetch", tag, "--all", "--url", emulator.url, "--format", "csv"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert [line.split(",")[0] for line in result.stdout.splitlines()] == ["id", "1", "2", "3", "4", "5", "6"]


def test_the_statements_limit_and_offset_page_too(emulator):
    data = json.dumps({"statement": "SELECT id FROM cities ORDER BY id", "offset": 2, "limit": 3, "options": {"emulator_duration": "0"}})
    tag = start(emulator.url, "/execute/sql", data)
    result = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv", "--wait"])
    assert (result.exit_code, result.stdout) == (10, "id\n3\n4\n5\n")
    assert re.fullmatch(r"kjob: partial result: 3 of 6 rows \(the server's max_get_records_size or the statement's limit\); "
                        r"`fetch --all` reads the rest from paging table ki_home\.paging_[0-9a-f]{16}\n", result.stderr)


def test_fetch_all_memory_stays_flat(tmp_path):
    """200 000 rows in pages of 5 000: kjob's peak memory grows far less than the rows' size."""
    with Emulator(port=0, job_duration=0, max_get_records_size=5000) as emu:
        small, large = sql_job(emu.url, many(10_000)), sql_job(emu.url, many(200_000))
        peaks = []
        for tag in (small, large):
            out = tmp_path / f"{tag}.jsonl"
            code = ("import resource, sys; from kjob.cli import main; sys.argv = ['kjob'] + sys.argv[1:]\n"
                    "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
            done = subprocess.run([sys.executable, "-c", code, "fetch", tag, "--all", "--url", emu.url, "--format", "jsonl",
                                   "-o", str(out)], capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            peaks.append(int(done.stdout.split()[-1]))
            assert sum(1 for _ in out.open()) == (10_000 if tag == small else 200_000)
        rows_size_kib = (tmp_path / f"{large}.jsonl").stat().st_size // 1024
        assert peaks[1] - peaks[0] < rows_size_kib // 2, (peaks, rows_size_kib)  # ru_maxrss is in KiB on Linux


@pytest.mark.parametrize("client_encoding", ["BINARY", "JSON", "SNAPPY"])
def test_official_client_pages_a_result_through_the_paging_table(paged, client_encoding):
    options = gpudb.GPUdb.Options()
    options.encoding = client_encoding
    db = gpudb.GPUdb(host=paged.url, options=options)
    first = db.execute_sql_and_decode(TWELVE)
    assert first.is_ok(), first.get_error_msg()
    assert (first.total_number_of_records, first.has_more_records) == (12, True)
    assert list(first.records["i"]) == [1, 2, 3, 4, 5]  # column-major, as execute_sql_and_decode gives it
    page = db.get_records_by_column(first.paging_table, ["i", "sq"], offset=5, limit=5, encoding="binary")
    assert page.is_ok(), page.get_error_msg()
    decoded = db.get_records_by_column_and_decode(first.paging_table, ["i", "sq"], offset=10, limit=5)
    assert decoded.is_ok(), decoded.get_error_msg()
    assert (decoded.total_number_of_records, decoded.has_more_records) == (12, False)
    assert list(decoded.records["i"]) == [11, 12] and list(decoded.records["sq"]) == [121, 144]
    refused = db.execute_sql("SELECT * FROM missing_table")
    assert not refused.is_ok() and "no such table: missing_table" in refused.get_error_msg()


def test_a_partial_result_to_a_file_is_written_and_said(paged, tmp_path):
    tag = sql_job(paged.url, TWELVE)
    out = tmp_path / "rows.csv"
    result = run_cli(["fetch", tag, "--url", paged.url, "--format", "csv", "-o", str(out)])
    assert result.exit_code == 10
    assert re.fullmatch(r"kjob: partial result: 5 of 12 rows \(the server's max_get_records_size or the statement's limit\); "
                        r"`fetch --all` reads the rest from paging table ki_home\.paging_[0-9a-f]{16}\n", result.stderr)
    assert out.read_text() == "i,sq\n1,1\n2,4\n3,9\n4,16\n5,25\n"


@pytest.mark.parametrize("sql_encoding", ["binary", "json"])
def test_blobs_and_mixed_columns_encode_in_both_sql_encodings(emulator, sql_encoding):
    data = json.dumps({"statement": "SELECT X'00ff' AS blob, 1 AS n UNION ALL SELECT X'41', 2.5", "encoding": sql_encoding,
                       "options": {"emulator_duration": "0"}})
    tag = start(emulator.url, "/execute/sql", data)
    result = run_cli(["fetch", tag, "--url", emulator.url, "--format", "jsonl", "--wait"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["n"] for row in rows] == [1.0, 2.5]
    assert [row["blob"] for row in rows] == ["AP8=", "QQ=="]  # bytes as base64 text: b"\x00\xff", b"A"


@pytest.mark.parametrize("args, says", [
    (["--db", "/nonexistent/dir/x.db"], "kjob emulator: cannot open the database /nonexistent/dir/x.db: unable to open database file\n"),
    (["--seed", "{bad}"], "kjob emulator: cannot seed the database: 'CREATE TABLE oops (': SQL error: incomplete input\n"),
    (["--seed", "{missing}"], "kjob emulator: cannot read --seed {missing}: No such file or directory\n"),
])
def test_the_emulator_process_refuses_a_bad_database_or_seed(tmp_path, args, says):
    bad, missing = tmp_path / "bad.sql", tmp_path / "missing.sql"
    bad.write_text("CREATE TABLE oops (\n")
    names = {"bad": str(bad), "missing": str(missing)}
    done = subprocess.run([sys.executable, "-m", "kjob.emulator", "--port", "0", *(arg.format(**names) for arg in args)],
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (2, says.format(**names))
