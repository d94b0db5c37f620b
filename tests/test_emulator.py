"""The emulator, judged from outside: by the official client (`gpudb`), plain HTTP, and as a process.

kjob's own tests lean on the emulator; these check that it behaves as Kinetica does (see
/work/shared/PROTOCOL.md) and as its own documentation promises (faults, control endpoints,
credentials, `python -m kjob.emulator`). Every wait polls a condition under a deadline.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gpudb
import pytest
import requests
from conftest import call, get_job, post, wait_for

from kjob.emulator import Emulator
from kjob.emulator.faults import MODES
from kjob.errors import ProtocolError, ServerRefused
from kjob.protocol import codec, encodings, schemas
from kjob.protocol.payload import Schema, encode_payload, request_schema, response_schema

REPO = Path(__file__).resolve().parent.parent
TAG_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
SQL = "SELECT id, city, temperature FROM cities"
CITIES = ["Amsterdam", "Boston", "Chennai", "Dakar", "Edinburgh", "Florence"]


# --- helpers ---------------------------------------------------------------------------------


def payload(endpoint: str, *, duration: float | None = 0.2, sql_encoding: str = "binary", **knobs: str) -> dict:
    """A realistic request record for one of the job endpoints, with emulator knobs in its options."""
    options = {f"emulator_{name}": value for name, value in knobs.items()}
    if duration is not None:
        options["emulator_duration"] = str(duration)
    if endpoint == "/alter/table":
        return {"table_name": "ki_home.cities", "action": "refresh", "value": "", "options": options}
    if endpoint == "/execute/sql":
        return {"statement": SQL, "offset": 0, "limit": -9999, "encoding": sql_encoding, "request_schema_str": "",
                "data": [], "options": options}
    if endpoint == "/show/system/status":
        return {"options": options}
    raise AssertionError(f"no payload for {endpoint}")


def job_data(endpoint: str, record: dict, request_encoding: str) -> tuple[bytes, str]:
    """(data, data_str) of a /create/job request, built by kjob's payload codec."""
    return encode_payload(request_schema(endpoint), record, request_encoding)


def create_job_record(endpoint: str, record: dict, request_encoding: str = "binary", tag: str | None = None) -> dict:
    data, data_str = job_data(endpoint, record, request_encoding)
    return {"endpoint": endpoint, "request_encoding": request_encoding, "data": data, "data_str": data_str,
            "options": {"job_tag": tag} if tag else {}}


def refusal(url: str, endpoint: str, record: dict, encoding: str = "binary", **kwargs) -> str:
    """The message of the ERROR wrapper the server answers."""
    with pytest.raises(ServerRefused) as caught:
        call(url, endpoint, record, encoding, **kwargs)
    return caught.value.server_message


def status_body(url: str, encoding: str = "binary", **kwargs) -> requests.Response:
    return post(url, "/show/system/status", {"options": {}}, encoding, **kwargs)


def submit(url: str, endpoint: str = "/alter/table", tag: str | None = None, request_encoding: str = "binary",
           **payload_kwargs) -> dict:
    """Create a job over plain HTTP; the create_job_response."""
    return call(url, "/create/job", create_job_record(endpoint, payload(endpoint, **payload_kwargs), request_encoding, tag))


def official_client(url: str, encoding: str = "BINARY", **settings) -> gpudb.GPUdb:
    options = gpudb.GPUdb.Options()
    options.encoding = encoding
    for name, value in settings.items():
        setattr(options, name, value)
    return gpudb.GPUdb(host=url, options=options)


def follow(db: gpudb.GPUdb, job_ids: list[int], timeout: float = 5.0) -> tuple[dict, dict]:
    """Poll every job until none is RUNNING: (last get_job of each id, RUNNING observations of each id)."""
    running: dict[int, list] = {job_id: [] for job_id in job_ids}
    last: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while True:
        for job_id in job_ids:
            if job_id in last and last[job_id]["job_status"] != "RUNNING":
                continue
            job = db.get_job(job_id)
            assert job.is_ok(), job.get_error_msg()
            last[job_id] = job
            if job.job_status == "RUNNING":
                running[job_id].append((job.progress, job.running, job.successful))
        if all(job["job_status"] != "RUNNING" for job in last.values()):
            return last, running
        assert time.monotonic() < deadline, f"jobs still RUNNING after {timeout} s: {last}"
        time.sleep(0.01)


def as_bytes(job_response) -> bytes:
    """gpudb's job_response: bytes in binary/snappy mode, a string of latin-1 characters in JSON mode."""
    return job_response.encode("latin-1") if isinstance(job_response, str) else job_response


# --- 1. the official client accepts the emulator ----------------------------------------------


def check_response(endpoint: str, response: dict, sql_encoding: str) -> None:
    """Realistic content of a finished job's response (as plain JSON or as decoded Avro)."""
    if endpoint == "/alter/table":
        assert response["table_name"] == "ki_home.cities"
        assert response["action"] == "refresh"
        assert response["type_id"]
        assert json.loads(response["type_definition"])["type"] == "record"
    elif endpoint == "/show/system/status":
        assert json.loads(response["status_map"]["system"])["status"] == "running"
    else:
        assert response["total_number_of_records"] == 6
        assert response["has_more_records"] is False
        if sql_encoding == "json":
            columns = json.loads(response["json_encoded_response"])
        else:
            binary = response["binary_encoded_response"]
            binary = binary.encode("latin-1") if isinstance(binary, str) else binary
            columns = Schema(json.loads(response["response_schema_str"])).decode(binary)
        assert columns["column_headers"] == ["id", "city", "temperature"]
        assert columns["column_1"] == [1, 2, 3, 4, 5, 6]
        assert columns["column_2"] == CITIES
        assert columns["column_3"][4] is None  # Edinburgh's temperature is a null


def run_one_job(url: str, client_encoding: str, endpoint: str, request_encoding: str) -> tuple[dict, dict, list]:
    """Create one job through its own official client and follow it: (created, finished, RUNNING observations)."""
    db = official_client(url, client_encoding)
    sql_encoding = "json" if request_encoding == "json" else "binary"
    data, data_str = job_data(endpoint, payload(endpoint, sql_encoding=sql_encoding), request_encoding)
    created = db.create_job(endpoint, request_encoding, data, data_str, {})
    assert created.is_ok(), created.get_error_msg()
    finished, running = follow(db, [created.job_id])
    return created, finished[created.job_id], running[created.job_id]


@pytest.mark.parametrize("client_encoding", ["BINARY", "JSON", "SNAPPY"])
def test_official_client_runs_jobs_to_done(emulator, client_encoding):
    combinations = [(endpoint, request_encoding)
                    for endpoint in ("/alter/table", "/execute/sql", "/show/system/status")
                    for request_encoding in ("binary", "json", "snappy")]
    # One thread (and client) per job: each job runs 0.2 s and is watched while it runs.
    with ThreadPoolExecutor(max_workers=len(combinations)) as pool:
        futures = [pool.submit(run_one_job, emulator.url, client_encoding, *each) for each in combinations]
        outcomes = [future.result(timeout=15) for future in futures]
    assert len({created.job_id for created, _, _ in outcomes}) == 9, "job ids must be unique"
    assert len({created.info["job_tag"] for created, _, _ in outcomes}) == 9, "generated tags must be unique"
    reference = official_client(emulator.url, "BINARY")

    for (endpoint, request_encoding), (created, job, seen) in zip(combinations, outcomes, strict=True):
        sql_encoding = "json" if request_encoding == "json" else "binary"
        assert created.job_id > 0 and created.info["query_id"]
        assert len(seen) >= 2, f"{endpoint} ({request_encoding}) was not seen RUNNING twice: {seen}"
        progress = [each[0] for each in seen]
        assert progress == sorted(progress) and progress[-1] > progress[0], progress
        assert all(0 <= each < 100 for each in progress)
        assert all(is_running and not successful for _, is_running, successful in seen)
        assert (job.job_status, job.running, job.successful, job.progress) == ("DONE", False, True, 100)
        assert job.endpoint == endpoint
        assert job.info["job_tag"] == created.info["job_tag"]
        if request_encoding == "json":
            assert job.response_encoding == "json"
            assert not job.job_response
            check_response(endpoint, json.loads(job.job_response_str), sql_encoding)
        else:
            assert job.response_encoding == "binary"
            assert job.job_response_str == ""
            if client_encoding == "JSON":
                assert isinstance(job.job_response, str) and job.job_response  # latin-1 characters
                raw = reference.get_job(-1, {"job_tag": created.info["job_tag"]}).job_response
            else:
                raw = job.job_response
            check_response(endpoint, response_schema(endpoint).decode(raw), sql_encoding)


def test_official_client_in_json_mode_gets_the_binary_job_response_as_latin1(emulator):
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    created = official_client(emulator.url).create_job("/alter/table", "binary", data, data_str, {"job_tag": "bytes-check"})
    binary = official_client(emulator.url, "BINARY").get_job(created.job_id).job_response
    as_json = official_client(emulator.url, "JSON").get_job(created.job_id).job_response
    assert any(byte >= 0x80 for byte in binary), "the response must hold a byte >= 0x80 for this test to mean anything"
    assert as_json.encode("latin-1") == binary


def test_official_client_in_json_mode_reads_non_ascii_text(emulator):
    db = official_client(emulator.url, "JSON")
    record = {"table_name": "ki_home.café_ünïcode", "action": "refresh", "value": "",
              "options": {"emulator_duration": "0"}}
    data, data_str = job_data("/alter/table", record, "json")
    created = db.create_job("/alter/table", "json", data, data_str, {})
    assert created.is_ok(), created.get_error_msg()
    job = db.get_job(created.job_id)
    assert json.loads(job.job_response_str)["table_name"] == "ki_home.café_ünïcode"


def test_official_client_retries_create_job_and_can_duplicate_it(emulator):
    """Pins gpudb's HTTP-layer retries (PROTOCOL.md): kjob must not copy them for /create/job."""
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    emulator.primary.faults.add("http-503@/create/job*2")
    created = db.create_job("/alter/table", "binary", data, data_str, {})
    assert created.is_ok(), created.get_error_msg()
    assert emulator.primary.faults.armed == [], "both 503s were answered, then the retry went through"
    assert emulator.job_count() == 1, "a 503 is answered before any job is made"
    emulator.primary.faults.add("drop-after@/create/job*1")
    again = db.create_job("/alter/table", "binary", data, data_str, {})
    assert again.is_ok(), again.get_error_msg()
    assert emulator.job_count() == 3, "the job whose answer was lost, and the retry's duplicate"
    assert again.job_id == created.job_id + 2


def test_official_client_sees_the_emulator_as_running_and_versioned(emulator):
    db = official_client(emulator.url)
    status = json.loads(db.show_system_status().status_map["system"])
    assert status["status"] == "running"
    properties = db.show_system_properties().property_map
    assert properties["version.gpudb_core_version"].startswith("7.2")
    assert properties["conf.host0_public_urls"] == emulator.url
    assert properties["conf.enable_ha"] == "FALSE"


def test_response_bytes_knob_pads_the_response(emulator):
    small = submit(emulator.url, duration=0)
    large = submit(emulator.url, duration=0, response_bytes="50000")
    small_bytes = get_job(emulator.url, small["job_id"])["job_response"]
    large_bytes = get_job(emulator.url, large["job_id"])["job_response"]
    assert 50_000 <= len(large_bytes) - len(small_bytes) < 50_100
    assert response_schema("/alter/table").decode(large_bytes)["info"]["emulator_padding"] == "x" * 50_000


# --- 2. job outcomes, cancel, show jobs -------------------------------------------------------


def test_job_ending_in_error_carries_the_message(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", outcome="error",
                                                      error_message="Table 'ki_home.cities' does not exist"), "binary")
    created = db.create_job("/alter/table", "binary", data, data_str, {})
    finished, running = follow(db, [created.job_id])
    job = finished[created.job_id]
    assert running[created.job_id], "an ERROR job runs first"
    assert (job.job_status, job.running, job.successful) == ("ERROR", False, False)
    assert job.status_map["error_message"] == "Table 'ki_home.cities' does not exist"
    assert job.progress < 100
    assert not job.job_response and not job.job_response_str


def test_job_ending_in_error_has_a_default_message(emulator):
    created = submit(emulator.url, duration=0, outcome="error")
    job = get_job(emulator.url, created["job_id"])
    assert job["job_status"] == "ERROR"
    assert "/alter/table" in job["status_map"]["error_message"]


def test_job_ending_cancelled(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/execute/sql", payload("/execute/sql", outcome="cancelled"), "binary")
    created = db.create_job("/execute/sql", "binary", data, data_str, {})
    finished, _ = follow(db, [created.job_id])
    job = finished[created.job_id]
    assert (job.job_status, job.running, job.successful) == ("CANCELLED", False, False)
    assert job.status_map == {}
    assert not job.job_response


@pytest.mark.parametrize("knob, value, message", [
    ("outcome", "exploded", "Invalid emulator_outcome 'exploded'"),
    ("duration", "soon", "Invalid emulator option"),
])
def test_bad_emulator_knobs_are_refused(emulator, knob, value, message):
    record = create_job_record("/alter/table", payload("/alter/table", **{knob: value}))
    assert message in refusal(emulator.url, "/create/job", record)
    assert emulator.job_count() == 0


@pytest.mark.parametrize("by", ["job_id", "job_tag"])
def test_cancel_a_running_job_through_the_official_client(emulator, by):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0.4), "binary")
    created_at = time.monotonic()
    created = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": "to-cancel"})
    assert db.get_job(created.job_id).job_status == "RUNNING"
    by_id = by == "job_id"
    answer = db.admin_alter_jobs([created.job_id] if by_id else [], "cancel", {} if by_id else {"job_tag": "to-cancel"})
    assert answer.is_ok(), answer.get_error_msg()
    # The cancel lands at the job's next checkpoint (0.2 s by default), not at once.
    assert (answer.job_ids, answer.action, answer.status) == ([created.job_id], "cancel", ["RUNNING"])
    job = wait_for(lambda: (found := db.get_job(created.job_id)).job_status != "RUNNING" and found, what="the cancel to land")
    assert (job.job_status, job.running, job.successful) == ("CANCELLED", False, False)
    stopped_at = job.progress
    assert stopped_at < 100
    # Once past the duration it was given, a cancelled job does not turn DONE.
    wait_for(lambda: time.monotonic() - created_at > 0.45, what="the job's own duration to pass")
    job = db.get_job(created.job_id)
    assert (job.job_status, job.progress) == ("CANCELLED", stopped_at)


def test_cancel_of_a_finished_job_leaves_it_as_it_was(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    created = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": "already-done"})
    before = db.get_job(created.job_id)
    assert before.job_status == "DONE"
    answer = db.admin_alter_jobs([created.job_id], "cancel", {})
    assert (answer.job_ids, answer.status) == ([created.job_id], ["DONE"])
    by_tag = db.admin_alter_jobs([], "cancel", {"job_tag": "already-done"})
    assert by_tag.status == ["DONE"]
    after = db.get_job(created.job_id)
    assert (after.job_status, after.successful, after.progress) == ("DONE", True, 100)
    assert after.job_response == before.job_response


def test_cancel_of_an_unknown_job_says_not_found(emulator):
    db = official_client(emulator.url)
    answer = db.admin_alter_jobs([424242], "cancel", {})
    assert (answer.job_ids, answer.status) == ([424242], ["NOT_FOUND"])
    assert db.admin_alter_jobs([], "cancel", {"job_tag": "never-made"}).status == ["NOT_FOUND"]


def test_alter_jobs_refuses_other_actions(emulator):
    created = submit(emulator.url, duration=5)
    message = refusal(emulator.url, "/admin/alter/jobs", {"job_ids": [created["job_id"]], "action": "pause", "options": {}})
    assert "Unsupported action 'pause'" in message
    assert get_job(emulator.url, created["job_id"])["job_status"] == "RUNNING"


def test_show_jobs_lists_finished_jobs_only_when_asked(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    done = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": "done-one"})
    data, data_str = job_data("/execute/sql", payload("/execute/sql", duration=5), "binary")
    busy = db.create_job("/execute/sql", "binary", data, data_str, {"job_tag": "busy-one"})

    # The ordinary request that asks is being served, so it is listed too (with the cluster's next id).
    running_only = db.admin_show_jobs({"show_async_jobs": "false"})
    assert running_only.is_ok(), running_only.get_error_msg()
    assert running_only.job_id == [busy.job_id, busy.job_id + 1]
    assert running_only.status == ["dispatched", "dispatched"]
    assert running_only.endpoint_name == ["/execute/sql", "/admin/show/jobs"]
    assert json.loads(running_only.info["job_tag"]) == ["busy-one", ""]
    assert running_only.query_text == [SQL, ""]
    assert db.admin_show_jobs({}).job_id == [busy.job_id, busy.job_id + 2], "show_async_jobs defaults to false"

    everything = db.admin_show_jobs({"show_async_jobs": "true"})
    assert everything.job_id == [done.job_id, busy.job_id, busy.job_id + 3]
    assert everything.status == ["done", "dispatched", "dispatched"]
    assert everything.endpoint_name == ["/alter/table", "/execute/sql", "/admin/show/jobs"]
    assert json.loads(everything.info["job_tag"]) == ["done-one", "busy-one", ""]
    assert everything.auth_id == ["anonymous"] * 3
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", source) for source in everything.source_ip)
    assert everything.flags == ["", "", ""]
    now_ms = time.time() * 1000
    assert all(now_ms - 60_000 < received <= now_ms + 1000 for received in everything.time_received)
    assert len(everything.user_data) == 3


# --- 3. tags ---------------------------------------------------------------------------------


def test_the_clients_tag_is_kept_and_finds_the_job(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table"), "binary")
    created = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": "Nightly_load-2024"})
    assert created.info["job_tag"] == "Nightly_load-2024"
    for job_id in (-1, 0, 987654):  # the tag wins over whatever id comes with it
        job = db.get_job(job_id, {"job_tag": "Nightly_load-2024"})
        assert job.is_ok(), job.get_error_msg()
        assert job.info["job_tag"] == "Nightly_load-2024"
        assert int(job.info["job_id"]) == created.job_id
    missing = db.get_job(-1, {"job_tag": "no-such-tag"})
    assert not missing.is_ok()
    assert "no-such-tag" in missing.get_error_msg() and "not found" in missing.get_error_msg()


@pytest.mark.parametrize("tag", ["bad tag", "semi;colon", "dot.ted", "slash/ed", "tåg", "quote'd"])
def test_tags_with_invalid_characters_are_refused(emulator, tag):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table"), "binary")
    answer = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": tag})
    # gpudb 7.2.3.13 does not raise on an ERROR wrapper: it returns it, status_info and all.
    assert not answer.is_ok()
    assert answer.status_info["status"] == "ERROR"
    assert f"Invalid job_tag '{tag}'" in answer.get_error_msg()
    assert "job_id" not in answer
    with pytest.raises(gpudb.GPUdbException, match="Invalid job_tag"):
        gpudb.GPUdb._check_error(answer)  # how gpudb's own helpers turn an ERROR into an exception
    assert emulator.job_count() == 0


def test_a_duplicate_tag_is_refused_and_the_first_job_is_untouched(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    first = db.create_job("/alter/table", "binary", data, data_str, {"job_tag": "only-once"})
    assert first.is_ok()
    data, data_str = job_data("/execute/sql", payload("/execute/sql", outcome="error"), "binary")
    again = db.create_job("/execute/sql", "binary", data, data_str, {"job_tag": "only-once"})
    assert not again.is_ok()
    assert "Job tag 'only-once' already exists" in again.get_error_msg()
    assert emulator.job_count() == 1
    job = db.get_job(-1, {"job_tag": "only-once"})
    assert (job.endpoint, job.job_status, int(job.info["job_id"])) == ("/alter/table", "DONE", first.job_id)


def test_without_a_tag_one_is_generated(emulator):
    db = official_client(emulator.url)
    data, data_str = job_data("/alter/table", payload("/alter/table"), "binary")
    tags = []
    for options in ({}, {"job_tag": ""}):
        created = db.create_job("/alter/table", "binary", data, data_str, options)
        tag = created.info["job_tag"]
        assert tag and set(tag) <= TAG_CHARACTERS, tag
        assert int(db.get_job(-1, {"job_tag": tag}).info["job_id"]) == created.job_id
        tags.append(tag)
    assert tags[0] != tags[1]


# --- 4. the HA ring --------------------------------------------------------------------------


def test_ring_reports_itself_for_ha_discovery(ring):
    for cluster in ring.clusters:
        properties = call(cluster.url, "/show/system/properties", {"options": {}})["property_map"]
        assert properties["conf.enable_ha"] == "TRUE"
        assert properties["conf.ha_ring_head_nodes_full"].split(";") == ring.urls
        assert properties["conf.host0_public_urls"] == cluster.url
    assert ring.primary.url != ring.backup.url


def test_job_created_on_primary_is_on_backup_by_tag_with_another_id(ring):
    primary = official_client(ring.url, disable_auto_discovery=True)
    backup = official_client(ring.backup.url, disable_auto_discovery=True)
    data, data_str = job_data("/execute/sql", payload("/execute/sql", duration=0.3), "binary")
    created = primary.create_job("/execute/sql", "binary", data, data_str, {"job_tag": "ha-job"})
    assert created.is_ok(), created.get_error_msg()

    there = backup.get_job(-1, {"job_tag": "ha-job"})
    assert there.is_ok(), there.get_error_msg()
    backup_id = int(there.info["job_id"])
    assert there.endpoint == "/execute/sql" and there.info["job_tag"] == "ha-job"
    assert backup.get_job(backup_id).info["job_tag"] == "ha-job"

    listed = backup.admin_show_jobs({"show_async_jobs": "true"})
    assert [job_id for job_id, endpoint in zip(listed.job_id, listed.endpoint_name, strict=True) if endpoint != "/admin/show/jobs"] == [backup_id]
    assert requests.get(ring.backup.url + "/emulator/jobs", timeout=5).json() == {"jobs": 1}


def test_job_created_on_backup_is_on_primary_too(ring):
    created = submit(ring.backup.url, tag="from-backup", duration=0)
    on_primary = get_job(ring.url, tag="from-backup")
    assert on_primary["job_status"] == "DONE"
    assert int(on_primary["info"]["job_id"]) == created["job_id"] == 1, "each cluster counts from 1: ids overlap"


def test_cancel_on_primary_is_seen_on_backup(ring):
    submit(ring.url, tag="shared-fate", duration=5)
    cancelled = call(ring.url, "/admin/alter/jobs", {"job_ids": [], "action": "cancel", "options": {"job_tag": "shared-fate"}})
    assert cancelled["status"] == ["RUNNING"]
    wait_for(lambda: get_job(ring.backup.url, tag="shared-fate")["job_status"] == "CANCELLED", what="the cancel on the backup")


def test_backup_answers_and_finishes_the_job_after_primary_stops(ring):
    created = submit(ring.url, "/alter/table", tag="survivor", duration=0.3)
    assert get_job(ring.url, created["job_id"])["job_status"] == "RUNNING"
    session = requests.Session()  # an idle keep-alive connection must not hold up the stop
    assert session.post(ring.url + "/show/system/status", data=codec.encode_request("/show/system/status", {"options": {}}, "binary"),
                        timeout=5).status_code == 200
    began = time.monotonic()
    ring.primary.stop()
    assert time.monotonic() - began < 2

    with pytest.raises(requests.ConnectionError, match=r"(?i)connection refused"):
        status_body(ring.url, timeout=2)
    with pytest.raises(requests.ConnectionError):
        session.post(ring.url + "/get/job", data=b"", timeout=2)
    session.close()

    backup = official_client(ring.backup.url, disable_auto_discovery=True)
    def finished_on_backup():
        job = backup.get_job(-1, {"job_tag": "survivor"})
        assert job.is_ok(), job.get_error_msg()
        return job if job.job_status != "RUNNING" else None

    finished = wait_for(finished_on_backup, what="the job to finish on the backup")
    assert (finished.job_status, finished.successful) == ("DONE", True)
    assert response_schema("/alter/table").decode(finished.job_response)["table_name"] == "ki_home.cities"
    assert json.loads(backup.show_system_status().status_map["system"])["status"] == "running"


def test_replication_delay_hides_the_job_from_the_backup_at_first():
    with Emulator(port=0, backup_port=0, replication_delay=0.5) as emu:
        created_at = time.monotonic()
        created = submit(emu.url, tag="late-news", duration=0.1)
        assert get_job(emu.url, tag="late-news")["info"]["job_tag"] == "late-news"  # the primary knows at once
        message = refusal(emu.backup.url, "/get/job", {"job_id": -1, "options": {"job_tag": "late-news"}})
        assert message == "Job with tag 'late-news' not found"
        assert call(emu.backup.url, "/admin/show/jobs", {"options": {"show_async_jobs": "true"}})["endpoint_name"] == ["/admin/show/jobs"]

        def seen_on_backup():
            try:
                return get_job(emu.backup.url, tag="late-news")
            except ServerRefused:
                return None

        found = wait_for(seen_on_backup, timeout=5, what="the tag to replicate")
        assert time.monotonic() - created_at >= 0.45
        assert found["info"]["job_tag"] == "late-news" and created["info"]["job_tag"] == "late-news"


# --- 5. faults and the control endpoints ------------------------------------------------------


def test_fault_with_count_is_used_up_and_aims_at_its_endpoint(emulator):
    created = submit(emulator.url, duration=0)
    emulator.primary.faults.add("http-503@/get/job*2")
    assert status_body(emulator.url).status_code == 200, "another endpoint is not hit"
    record = {"job_id": created["job_id"], "options": {}}
    answers = [post(emulator.url, "/get/job", record) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [503, 503, 200]
    assert answers[0].content == b"503 emulated\n"
    assert codec.decode_response("/get/job", answers[2].content, "binary")["job_status"] == "DONE"


def test_fault_without_endpoint_hits_every_endpoint_until_cleared(emulator):
    emulator.primary.faults.add("http-502")
    assert [status_body(emulator.url).status_code for _ in range(3)] == [502] * 3
    assert post(emulator.url, "/get/job", {"job_id": 1, "options": {}}).status_code == 502
    cleared = requests.post(emulator.url + "/emulator/clear", timeout=5)
    assert cleared.json() == {"cleared": True}
    assert status_body(emulator.url).status_code == 200


def test_fault_armed_over_http(emulator):
    armed = requests.post(emulator.url + "/emulator/fault", data="http-503@/get/job*1", timeout=5)
    assert armed.status_code == 200
    assert armed.json() == {"armed": "http-503", "endpoint": "/get/job", "count": 1}
    assert post(emulator.url, "/get/job", {"job_id": 1, "options": {}}).status_code == 503
    assert post(emulator.url, "/get/job", {"job_id": 1, "options": {}}).status_code == 400  # job 1 not found


@pytest.mark.parametrize("spec", ["nonsense", "http-503@get/job", "http-503*many", "", "drop@/get/job*1 extra"])
def test_bad_fault_spec_is_refused(emulator, spec):
    answer = requests.post(emulator.url + "/emulator/fault", data=spec, timeout=5)
    assert answer.status_code == 400
    assert "bad fault" in answer.json()["error"]
    assert status_body(emulator.url).status_code == 200
    with pytest.raises(ValueError, match="bad fault"):
        emulator.primary.faults.add(spec)


def test_fault_with_zero_count_never_fires(emulator):
    armed = requests.post(emulator.url + "/emulator/fault", data="http-503*0", timeout=5)
    assert armed.status_code == 400
    assert status_body(emulator.url).status_code == 200


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_http_error_faults(emulator, code):
    emulator.primary.faults.add(f"http-{code}*1")
    answer = status_body(emulator.url)
    assert answer.status_code == code
    assert answer.headers["Content-Type"] == "text/plain"
    assert status_body(emulator.url).status_code == 200


@pytest.mark.parametrize("mode, http_status, message", [
    ("offline", 400, "Kinetica is offline"),
    ("exiting", 400, "Kinetica is exiting"),
    ("shutting-down", 400, "System shutting down"),
    ("draining", 400, "Unavailable: Draining HA queue"),
    ("refuse", 400, "Emulated refusal"),
])
@pytest.mark.parametrize("encoding", ["binary", "json"])
def test_error_wrapper_faults(emulator, mode, http_status, message, encoding):
    emulator.primary.faults.add(f"{mode}@/create/job*1")
    answer = post(emulator.url, "/create/job", create_job_record("/alter/table", payload("/alter/table"), "binary"), encoding)
    assert answer.status_code == http_status
    wrapped = codec.decode_wrapper(answer.content, encoding)
    assert (wrapped["status"], wrapped["message"], wrapped["data_type"]) == ("ERROR", message, "none")
    assert emulator.job_count() == 0, "a refused request creates no job"


def test_drop_closes_the_connection_without_an_answer_or_a_job(emulator):
    emulator.primary.faults.add("drop@/create/job*1")
    record = create_job_record("/alter/table", payload("/alter/table"))
    with pytest.raises(requests.ConnectionError):
        post(emulator.url, "/create/job", record)
    assert emulator.job_count() == 0
    assert post(emulator.url, "/create/job", record).status_code == 200
    assert emulator.job_count() == 1


def test_drop_after_creates_the_job_but_sends_no_answer(emulator):
    emulator.primary.faults.add("drop-after@/create/job*1")
    with pytest.raises(requests.ConnectionError):
        post(emulator.url, "/create/job", create_job_record("/alter/table", payload("/alter/table"), tag="lost-answer"))
    assert emulator.job_count() == 1
    assert get_job(emulator.url, tag="lost-answer")["endpoint"] == "/alter/table"


def test_truncate_sends_half_a_response(emulator):
    whole = status_body(emulator.url).content
    emulator.primary.faults.add("truncate*1")
    answer = status_body(emulator.url)
    assert answer.status_code == 200
    assert answer.content == whole[: len(whole) // 2]
    with pytest.raises(ProtocolError):
        codec.decode_response("/show/system/status", answer.content, "binary")


def test_html_fault_answers_a_proxy_page(emulator):
    emulator.primary.faults.add("html*1")
    answer = status_body(emulator.url)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.content.startswith(b"<html>") and b"Bad Gateway" in answer.content


def test_empty_fault_answers_nothing(emulator):
    emulator.primary.faults.add("empty*1")
    answer = status_body(emulator.url)
    assert (answer.status_code, answer.content, answer.headers["Content-Length"]) == (200, b"", "0")
    with pytest.raises(ProtocolError):
        codec.decode_response("/show/system/status", answer.content, "binary")


def test_garbage_fault_answers_bytes_that_are_not_avro(emulator):
    emulator.primary.faults.add("garbage*1")
    answer = status_body(emulator.url)
    assert answer.status_code == 200 and answer.content
    with pytest.raises(ProtocolError):
        codec.decode_response("/show/system/status", answer.content, "binary")


def test_wrong_type_fault_answers_json_to_a_binary_request(emulator):
    emulator.primary.faults.add("wrong-type*1")
    answer = status_body(emulator.url, "binary")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    with pytest.raises(ProtocolError):
        codec.decode_response("/show/system/status", answer.content, "binary")
    status = codec.decode_response("/show/system/status", answer.content, "json")
    assert json.loads(status["status_map"]["system"])["status"] == "running"


def test_unauthorized_fault_answers_401(emulator):
    emulator.primary.faults.add("unauthorized*1")
    answer = status_body(emulator.url)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert status_body(emulator.url).status_code == 200


def test_stall_never_answers_and_trickle_answers_slowly(emulator):
    emulator.primary.faults.add("stall*1")
    with pytest.raises(requests.ReadTimeout):
        status_body(emulator.url, timeout=(2, 0.3))
    whole = status_body(emulator.url).content
    emulator.primary.faults.add("trickle*1")
    began = time.monotonic()
    answer = status_body(emulator.url)
    assert answer.content == whole
    assert time.monotonic() - began >= 0.9 * len(whole) * 0.005


def test_every_documented_fault_mode_can_be_armed(emulator):
    for mode in MODES:
        fault = emulator.primary.faults.add(f"{mode}@/admin/show/jobs*3")
        assert (fault.mode, fault.endpoint, fault.remaining) == (mode, "/admin/show/jobs", 3)
    assert status_body(emulator.url).status_code == 200


def test_job_count_over_http(ring):
    assert requests.get(ring.url + "/emulator/jobs", timeout=5).json() == {"jobs": 0}
    submit(ring.url, duration=0)
    submit(ring.backup.url, duration=0)
    for url in ring.urls:
        answer = requests.get(url + "/emulator/jobs", timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        assert answer.json() == {"jobs": 2}
    assert requests.post(ring.url + "/emulator/jobs", timeout=5).json() == {"jobs": 2}


def test_stop_over_http_stops_only_that_cluster(ring):
    answer = requests.post(ring.backup.url + "/emulator/stop", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"stopping": ring.backup.url}

    def refused():
        try:
            status_body(ring.backup.url, timeout=1)
        except requests.ConnectionError as exc:
            return "connection refused" in str(exc).lower()
        except requests.RequestException:  # an answer cut short while the cluster stops
            return False
        return False

    wait_for(refused, what="the backup to stop listening")
    assert ring.backup.stopped.is_set()
    assert status_body(ring.url).status_code == 200
    assert requests.get(ring.url + "/emulator/jobs", timeout=5).json() == {"jobs": 0}


def test_unknown_control_endpoint_is_404(emulator):
    assert requests.post(emulator.url + "/emulator/explode", timeout=5).status_code == 404
    assert requests.get(emulator.url + "/emulator/fault", timeout=5).status_code == 404


# --- 6. credentials --------------------------------------------------------------------------


def test_basic_auth_and_bearer_token_are_accepted(secured):
    assert status_body(secured.url, auth=("alice", "s3cret-pw")).status_code == 200
    assert status_body(secured.url, headers={"Authorization": "Bearer tok-123-secret"}).status_code == 200
    submit_record = create_job_record("/alter/table", payload("/alter/table", duration=5))
    call(secured.url, "/create/job", submit_record, auth=("alice", "s3cret-pw"))
    call(secured.url, "/create/job", create_job_record("/alter/table", payload("/alter/table", duration=5)),
         headers={"Authorization": "Bearer tok-123-secret"})
    shown = call(secured.url, "/admin/show/jobs", {"options": {}}, auth=("alice", "s3cret-pw"))
    assert shown["auth_id"] == ["alice", "oauth", "alice"]  # the last: the /admin/show/jobs request itself


@pytest.mark.parametrize("authorization", [
    None,
    "Basic " + base64.b64encode(b"alice:wrong").decode(),
    "Basic " + base64.b64encode(b"mallory:s3cret-pw").decode(),
    "Basic " + base64.b64encode(b"alice").decode(),
    "Basic " + base64.b64encode(b":s3cret-pw").decode(),
    "Basic not*base64",
    "Bearer tok-123-wrong",
    "Bearer ",
    "tok-123-secret",
])
def test_wrong_credentials_get_401(secured, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = status_body(secured.url, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="GPUdb"'
    assert answer.headers["Content-Type"] == "application/octet-stream"
    wrapped = codec.decode_wrapper(answer.content, "binary")
    assert (wrapped["status"], wrapped["message"]) == ("ERROR", "Insufficient credentials")
    record = create_job_record("/alter/table", payload("/alter/table"))
    assert post(secured.url, "/create/job", record, headers=headers).status_code == 401
    assert secured.job_count() == 0


def test_official_client_with_wrong_and_right_credentials(secured):
    with pytest.raises(gpudb.GPUdbException) as caught:
        official_client(secured.url, username="alice", password="wrong")
    assert isinstance(caught.value, gpudb.GPUdbUnauthorizedAccessException)
    assert "Unauthorized" in str(caught.value)
    with pytest.raises(gpudb.GPUdbUnauthorizedAccessException):
        official_client(secured.url)
    for settings in ({"username": "alice", "password": "s3cret-pw"}, {"oauth_token": "tok-123-secret"}):
        db = official_client(secured.url, **settings)
        data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
        created = db.create_job("/alter/table", "binary", data, data_str, {})
        assert created.is_ok(), created.get_error_msg()
        assert db.get_job(created.job_id).job_status == "DONE"


# --- 7. wire details -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, answered_as", [
    ("binary", "application/octet-stream"),
    ("snappy", "application/octet-stream"),
    ("json", "application/json"),
])
def test_content_type_of_answers(emulator, encoding, answered_as):
    answer = status_body(emulator.url, encoding)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == answered_as
    assert float(answer.headers["x-request-time-secs"]) >= 0
    if encoding == "snappy":  # the answer is plain Avro, not compressed
        assert schemas.wrapper().decode(answer.content)["status"] == "OK"
    status = codec.decode_response("/show/system/status", answer.content, encoding)
    assert json.loads(status["status_map"]["system"])["status"] == "running"


@pytest.mark.parametrize("encoding", ["binary", "json", "snappy"])
def test_error_answer_is_in_the_requests_encoding(emulator, encoding):
    answer = post(emulator.url, "/get/job", {"job_id": 424242, "options": {}}, encoding)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == encodings.named(encoding).answers.content_type
    wrapped = codec.decode_wrapper(answer.content, encoding)
    assert (wrapped["status"], wrapped["message"]) == ("ERROR", "Job 424242 not found")


def test_path_prefix_is_accepted(emulator):
    created = submit(emulator.url, duration=0)
    answer = post(emulator.url, "/get/job", {"job_id": created["job_id"], "options": {}}, path="/gpudb-0/get/job")
    assert answer.status_code == 200
    job = codec.decode_response("/get/job", answer.content, "binary")
    assert (job["job_status"], job["info"]["job_tag"]) == ("DONE", created["info"]["job_tag"])
    emulator.primary.faults.add("http-503@/get/job*1")
    assert post(emulator.url, "/get/job", {"job_id": 1, "options": {}}, path="/gpudb-0/get/job").status_code == 503


def test_official_client_with_a_path_prefix(emulator):
    db = official_client(emulator.url + "/gpudb-0")
    data, data_str = job_data("/alter/table", payload("/alter/table", duration=0), "binary")
    created = db.create_job("/alter/table", "binary", data, data_str, {})
    assert db.get_job(created.job_id).job_status == "DONE"


@pytest.mark.parametrize("path", ["/no/such/endpoint", "/get/jobs", "/get/job/", "/"])
def test_unknown_endpoint_is_404(emulator, path):
    answer = post(emulator.url, "/get/job", {"job_id": 1, "options": {}}, path=path)
    assert answer.status_code == 404
    wrapped = codec.decode_wrapper(answer.content, "binary")
    assert (wrapped["status"], wrapped["message"]) == ("ERROR", "Unknown URI")
    assert status_body(emulator.url).status_code == 200


def test_get_on_an_endpoint_is_404(emulator):
    assert requests.get(emulator.url + "/show/system/status", timeout=5).status_code == 404


@pytest.mark.parametrize("encoding", ["binary", "json", "snappy"])
def test_every_error_answer_comes_with_http_400(emulator, encoding):
    answer = post(emulator.url, "/get/job", {"job_id": 424242, "options": {}}, encoding)
    assert answer.status_code == 400
    wrapped = codec.decode_wrapper(answer.content, encoding)
    assert (wrapped["status"], wrapped["message"]) == ("ERROR", "Job 424242 not found")
    ok = post(emulator.url, "/show/system/status", {"options": {}}, encoding)
    assert ok.status_code == 200


def test_get_of_the_root_answers_a_short_text(emulator):
    answer = requests.get(emulator.url + "/", timeout=5)
    assert (answer.status_code, answer.headers["Content-Type"], answer.text) == (200, "text/plain", "Kinetica is running\n")


def test_chunked_request_body_is_read(emulator):
    body = codec.encode_request("/create/job", create_job_record("/execute/sql", payload("/execute/sql"), tag="chunky"), "binary")
    chunks = iter([body[:7], body[7:20], body[20:]])
    answer = requests.post(emulator.url + "/create/job", data=chunks,
                           headers={"Content-Type": "application/octet-stream"}, timeout=5)
    assert answer.request.headers.get("Transfer-Encoding") == "chunked"
    assert answer.status_code == 200
    assert codec.decode_response("/create/job", answer.content, "binary")["info"]["job_tag"] == "chunky"


def test_keep_alive_connection_serves_several_requests(emulator):
    with requests.Session() as session:
        body = codec.encode_request("/show/system/status", {"options": {}}, "binary")
        answers = [session.post(emulator.url + "/show/system/status", data=body, timeout=5) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200] * 3
        assert all(answer.headers.get("Connection", "").lower() != "close" for answer in answers)


def test_keep_alive_answers_are_not_held_back(emulator):
    body = codec.encode_request("/show/system/status", {"options": {}}, "binary")
    with requests.Session() as session:
        assert session.post(emulator.url + "/show/system/status", data=body, timeout=5).status_code == 200
        times = []
        for _ in range(7):
            began = time.perf_counter()
            assert session.post(emulator.url + "/show/system/status", data=body, timeout=5).status_code == 200
            times.append(time.perf_counter() - began)
    assert statistics.median(times) < 0.02, [f"{each * 1000:.1f} ms" for each in times]


def test_garbled_request_body_gets_an_error_wrapper(emulator):
    answer = requests.post(emulator.url + "/create/job", data=b"\xff\x00garbage",
                           headers={"Content-Type": "application/octet-stream"}, timeout=5)
    assert answer.status_code == 400
    wrapped = codec.decode_wrapper(answer.content, "binary")
    assert wrapped["status"] == "ERROR" and wrapped["message"]
    assert status_body(emulator.url).status_code == 200


# --- 8. the emulator as a process --------------------------------------------------------------


def start_process(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    url_file = tmp_path / "urls"
    process = subprocess.Popen(
        [sys.executable, "-m", "kjob.emulator", "--port", "0", "--backup-port", "0", "--url-file", str(url_file), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    return process, url_file


def urls_of(process: subprocess.Popen, url_file: Path) -> list[str]:
    try:
        wait_for(lambda: url_file.exists() or process.poll() is not None, timeout=15, what="the url file")
    except AssertionError:
        process.kill()
        process.communicate(timeout=5)
        raise
    if not url_file.exists():
        out, err = process.communicate(timeout=5)
        raise AssertionError(f"the emulator exited {process.returncode}: {out!r} {err!r}")
    return url_file.read_text().splitlines()


def finish(process: subprocess.Popen, signum: int) -> tuple[str, str]:
    process.send_signal(signum)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=5)
        raise AssertionError(f"the emulator did not exit on signal {signum}") from None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_serves_then_exits_cleanly_on_signal(tmp_path, signum):
    process, url_file = start_process(tmp_path)
    urls = urls_of(process, url_file)
    assert len(urls) == 2 and all(url.startswith("http://127.0.0.1:") for url in urls)
    assert urls[0] != urls[1]
    created = submit(urls[0], tag="from-a-process", duration=0)
    assert get_job(urls[1], tag="from-a-process")["job_status"] == "DONE"
    assert get_job(urls[1], tag="from-a-process")["info"]["job_tag"] == created["info"]["job_tag"]
    session = requests.Session()  # an open keep-alive connection must not hold up the exit
    assert session.post(urls[0] + "/show/system/status", data=codec.encode_request("/show/system/status", {"options": {}}, "binary"),
                        timeout=5).status_code == 200
    out, err = finish(process, signum)
    session.close()
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert "listening" in lines[0] and urls[0] in lines[0] and urls[1] in lines[0]
    assert err == ""
    with pytest.raises(requests.ConnectionError):
        status_body(urls[0], timeout=2)


def test_process_arms_faults_from_the_command_line(tmp_path):
    process, url_file = start_process(tmp_path, "--fault", "http-503*1")
    try:
        primary, backup = urls_of(process, url_file)
        assert status_body(backup).status_code == 200, "faults are armed on the primary only"
        assert status_body(primary).status_code == 503
        assert status_body(primary).status_code == 200
    finally:
        _, err = finish(process, signal.SIGTERM)
    assert process.returncode == 0, err


def test_process_refuses_a_bad_fault(tmp_path):
    url_file = tmp_path / "urls"
    done = subprocess.run([sys.executable, "-m", "kjob.emulator", "--port", "0", "--fault", "meltdown", "--url-file", str(url_file)],
                          capture_output=True, text=True, cwd=REPO, timeout=15)
    assert done.returncode == 2
    assert done.stderr == ("kjob emulator: bad fault 'meltdown': expected MODE[@ENDPOINT][*COUNT], MODE one of "
                           f"{', '.join(MODES)}\n")
    assert done.stdout == ""
    assert not url_file.exists()


def test_process_wants_credentials_from_its_environment(tmp_path):
    url_file = tmp_path / "urls"
    env = {**os.environ, "KJOB_EMULATOR_USER": "bob", "KJOB_EMULATOR_PASSWORD": "pw-2", "KJOB_EMULATOR_TOKEN": "tok-9"}
    process = subprocess.Popen([sys.executable, "-m", "kjob.emulator", "--port", "0", "--url-file", str(url_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        (url,) = urls_of(process, url_file)
        assert status_body(url).status_code == 401
        assert status_body(url, auth=("bob", "pw-2")).status_code == 200
        assert status_body(url, headers={"Authorization": "Bearer tok-9"}).status_code == 200
    finally:
        _, err = finish(process, signal.SIGTERM)
    assert process.returncode == 0, err
