"""A newcomer's walk (3): reuse recorded once, fetch -q, bare `kjob`, completion of every
recorded job, `1d`, the emulator's exit, one shortening on the display."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import requests
from conftest import alter, run_cli, run_kjob, sql, start
from screen import final_screen, run_in_pty

from kjob.protocol import codec


def test_reuse_records_the_job_once(emulator):
    args = ["submit", "/execute/sql", "--url", emulator.url, "--data", sql(0.1), "--tag", "nightly", "-q"]
    assert run_cli(args).stdout == "nightly\n"
    for _ in range(2):
        reused = run_cli([*args, "--if-exists", "reuse"])
        assert (reused.exit_code, reused.stdout) == (0, "nightly\n")
    lines = run_cli(["history", "--json"]).stdout.splitlines()
    assert [json.loads(line)["job_tag"] for line in lines] == ["nightly"]


def test_fetch_quiet_drops_messages_keeps_data(emulator):
    ref = run_cli(["submit", "/execute/sql", "--url", emulator.url, "--data", sql(0.3), "-q"]).stdout.strip()
    loud = run_cli(["fetch", ref, "--url", emulator.url, "--wait", "--progress", "plain"])
    assert loud.exit_code == 0 and loud.stderr.splitlines()[-1].startswith(f"kjob: job {ref} /execute/sql: DONE")
    quiet = run_cli(["fetch", ref, "--url", emulator.url, "--wait", "--progress", "plain", "-q"])
    assert (quiet.exit_code, quiet.stderr, quiet.stdout) == (0, "", loud.stdout)
    assert json.loads(quiet.stdout)[0] == {"id": 1, "city": "Amsterdam", "temperature": 11.2}


def test_bare_kjob_shows_the_help_and_exits_0():
    bare = run_kjob([])
    assert (bare.returncode, bare.stderr) == (0, b"")
    assert bare.stdout == run_kjob(["--help"]).stdout
    assert bare.stdout.decode().splitlines()[0] == "Usage: kjob [OPTIONS] COMMAND [ARGS]..."


def test_completion_offers_every_recorded_job_that_matches():
    from test_everyday import complete

    from kjob.config import state_folder
    from kjob.history import History

    record = History(state_folder(os.environ))
    for number in range(60):
        record.add(1000 + number, f"old-{number}", "/execute/sql", "http://127.0.0.1:9")
    record.add(2000, "other", "/execute/sql", "http://127.0.0.1:9")
    assert complete("kjob status old-", 2) == [f"old-{number}" for number in reversed(range(60))]
    assert complete("kjob status old-5", 2) == ["old-59", "old-58", "old-57", "old-56", "old-55", "old-54",
                                                "old-53", "old-52", "old-51", "old-50", "old-5"]


def test_durations_take_days(emulator):
    from kjob.cli.options import Duration

    assert [Duration().convert(text, None, None) for text in ("1d", "2d", "1d12h", "1d30m5s")] == [
        86400, 172800, 129600, 88205]
    ref = run_cli(["submit", "/execute/sql", "--url", emulator.url, "--data", sql(0.1), "-q"]).stdout.strip()
    waited = run_cli(["wait", ref, "--url", emulator.url, "--timeout", "1d", "--interval", "0.1", "-q"])
    assert (waited.exit_code, waited.stderr) == (0, "")


def _stopped_process(tmp_path, *ports: str) -> tuple[subprocess.Popen, list[str]]:
    from test_emulator import REPO, urls_of

    url_file = tmp_path / "urls"
    process = subprocess.Popen([sys.executable, "-m", "kjob.emulator", *ports, "--url-file", str(url_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    return process, urls_of(process, url_file)


def _exit_of(process: subprocess.Popen) -> tuple[int, list[str], str]:
    try:
        out, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=5)
        raise AssertionError("the emulator went on running with every cluster stopped") from None
    return process.returncode, out.splitlines(), err


def test_emulator_exits_when_its_one_cluster_is_stopped(tmp_path):
    process, (url,) = _stopped_process(tmp_path, "--port", "0")
    assert requests.post(url + "/emulator/stop", timeout=5).json() == {"stopping": url}
    assert _exit_of(process) == (0, [f"kjob emulator listening: primary {url} (Ctrl-C to stop)",
                                     "kjob emulator: every cluster has stopped"], "")


def test_emulator_of_a_ring_exits_once_every_cluster_is_stopped(tmp_path):
    process, (primary, backup) = _stopped_process(tmp_path, "--port", "0", "--backup-port", "0")
    requests.post(primary + "/emulator/stop", timeout=5)
    assert requests.post(backup + "/show/system/status", data=codec.encode_request(
        "/show/system/status", {"options": {}}, "binary"), timeout=5).status_code == 200
    assert process.poll() is None, "the backup still serves"
    requests.post(backup + "/emulator/stop", timeout=5)
    assert _exit_of(process) == (0, [f"kjob emulator listening: primary {primary}, backup {backup} (Ctrl-C to stop)",
                                     "kjob emulator: every cluster has stopped"], "")


def test_after_a_failover_the_bar_and_the_summary_show_one_time(ring):
    tag = start(ring.urls, "/alter/table", alter(2.0))
    urls = [option for url in ring.urls for option in ("--url", url)]
    code, output = run_in_pty(["wait", tag, *urls, "--interval", "0.2"], when=(b"RUNNING", lambda _: ring.primary.stop()))
    assert code == 0
    screen = [line for line in final_screen(output, 140) if line]
    assert any(line.startswith("kjob: ") and "going on with" in line for line in screen), screen
    bar = next(found for line in screen
               if (found := re.fullmatch(rf"{tag} +/alter/table +DONE +━{{40}} 100% (\d+\.\d s)", line)))
    row = next(line for line in screen if line.startswith(f" {tag} "))
    assert re.fullmatch(rf" {tag} │ /alter/table │ DONE   │ {bar.group(1)} +│", row), (bar.group(0), row)


def test_list_fits_a_narrow_terminal_and_keeps_the_full_line_in_a_pipe(emulator):
    tags = [start(emulator.url, "/alter/table", alter(0)), start(emulator.url, "/execute/sql", sql(30))]
    full = run_kjob(["list", "--all", "--url", emulator.url]).stdout.decode().splitlines()
    assert full[0] == "ID  STATUS      ENDPOINT      RECEIVED              USER       TAG"
    assert re.fullmatch(rf" 1  done        /alter/table  \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ  anonymous  {tags[0]}", full[2])
    code, output = run_in_pty(["list", "--all", "--url", emulator.url], columns=60)
    assert code == 0
    screen = [line for line in final_screen(output, 60) if line]
    short = [f"{tag[:6]}…{tag[-12:]}" for tag in tags]  # 60 columns: the date to its time, no USER, tags from the middle
    assert [re.sub(r"\d\d:\d\d:\d\dZ", "HH:MM:SSZ", line) for line in screen] == [
        "ID  STATUS      ENDPOINT      RECEIVED   TAG",
        f" 2  dispatched  /execute/sql  HH:MM:SSZ  {short[1]}",
        f" 1  done        /alter/table  HH:MM:SSZ  {short[0]}"]
    assert all(len(line) <= 60 for line in screen)
