"""`kjob wait` in a real terminal (a pty): the numbers on the bars, lines printed while they are
live, --json beside them, narrow screens, and what stdout carries. Whole lines of the final
screen are asserted, through a small terminal interpreter (screen.py)."""

from __future__ import annotations

import json
import re
import time

from conftest import alter, run_kjob, start
from screen import final_screen, run_in_pty

TIME = r"\d:\d\d:\d\d"
WAITED = r"\d+\.\d s|already"  # an ended bar's time: the summary's waited cell
FULL = "━" * 40


def bar_line(ref: str, status: str, bar: str, percent: str, *, endpoint: str = "/alter/table", remaining: str = "",
             ref_width: int = 34) -> re.Pattern:
    """An ended bar's whole line at 140 columns: REF, endpoint, state, bar, percentage, waited[, time left]."""
    text = (f"{re.escape(ref.ljust(ref_width))} {re.escape(endpoint.ljust(16))} {re.escape(status.ljust(11))} "
            f"{re.escape(bar)} {re.escape(percent.rjust(4))} ({WAITED})")
    return re.compile(text + (f" {remaining}" if remaining else ""))


def test_ended_bars_keep_their_time_and_the_overall_bar_reaches_100(emulator):
    slow = start(emulator.url, "/alter/table", alter(3.5))
    failed = start(emulator.url, "/alter/table", alter(1.2, "error", "disk full"))
    code, output = run_in_pty(["wait", slow, failed, "--url", emulator.url, "--interval", "0.2"])
    assert code == 1
    screen = final_screen(output, 140)
    bars = [line for line in screen if line.startswith((slow, failed, "all 2 jobs"))][-3:]
    slow_bar = bar_line(slow, "DONE", FULL, "100%").fullmatch(bars[0])
    failed_bar = bar_line(failed, "ERROR", "━" * 24 + "╺" + "━" * 15, "60%").fullmatch(bars[1])
    overall = re.fullmatch(r"all 2 jobs {25} {17}2 ended {5}" + FULL + rf" 100% ({WAITED})", bars[2])
    assert slow_bar and failed_bar and overall, "\n".join(bars)
    seconds = [float(found.group(1).split()[0]) for found in (failed_bar, slow_bar, overall)]
    assert seconds[0] < seconds[1] == seconds[2]  # it ended early: the wait's length is not its time
    table = screen[screen.index(next(line for line in screen if line.startswith(" job "))):]
    assert table[0].split() == ["job", "┃", "endpoint", "┃", "status", "┃", "waited", "┃", "message"]
    assert re.fullmatch(rf" {slow} │ /alter/table │ DONE  +│ {re.escape(slow_bar.group(1))} +│", table[2]), table
    assert re.fullmatch(rf" {failed} │ /alter/table │ ERROR  +│ {re.escape(failed_bar.group(1))} +│ disk full", table[3])


def test_the_overall_time_left_is_the_longest_jobs(emulator):
    long_job = start(emulator.url, "/alter/table", alter(5.0))
    short_job = start(emulator.url, "/alter/table", alter(2.5))
    code, output = run_in_pty(["wait", long_job, short_job, "--url", emulator.url, "--interval", "0.2"])
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    # One frame: a line per job and the overall line (the last ends in \r: the next frame redraws over it).
    frames = re.findall(rf"{long_job} [^\r\n]* (\S+)\r\n{short_job} [^\r\n]* (\S+)\r\nall 2 jobs [^\r\n]* (\S+)\r", plain)
    compared = 0
    for long_left, short_left, overall_left in frames:
        if re.fullmatch(TIME, long_left) and re.fullmatch(TIME, short_left):
            assert overall_left == max(long_left, short_left), (long_left, short_left, overall_left)
            compared += 1
    assert compared >= 3, frames  # seen while both ran, not only at the start


def test_lines_while_bars_are_live_go_above_them_once(emulator):
    tag = start(emulator.url, "/alter/table", alter(2.0))
    emulator.primary.faults.add("http-503@/get/job*4")  # a first look fails in every round, then answers
    code, output = run_in_pty(["wait", tag, "--url", emulator.url, "--interval", "0.2"])
    assert code == 0
    screen = [line for line in final_screen(output, 140) if line]
    assert screen[0] == f"kjob: no cluster answered ({emulator.url}: HTTP 503); trying again"
    assert " ".join(screen[1:3]) == (  # rich wraps it at a space
        f"kjob: job {tag} unreachable: no cluster answered /get/job (tried {emulator.url}: HTTP 503); "
        "still trying for 60 s")
    assert bar_line(tag, "DONE", FULL, "100%").fullmatch(screen[3]), screen
    assert screen[4].split() == ["job", "┃", "endpoint", "┃", "status", "┃", "waited", "┃", "message"]
    assert len(screen) == 7  # and nothing else: no stale bars, no line per retry


def test_json_on_a_shared_terminal_never_mixes_with_the_bars(emulator):
    tags = [start(emulator.url, "/alter/table", alter(1.0)), start(emulator.url, "/alter/table", alter(0.5))]
    code, output = run_in_pty(["wait", *tags, "--json", "--url", emulator.url, "--interval", "0.2"])
    assert code == 0
    screen = [line for line in final_screen(output, 10_000) if line]  # a JSON line is longer than the screen
    records = [json.loads(line) for line in screen[-2:]]  # after the bars and the table, whole lines
    assert sorted(record["job_tag"] for record in records) == sorted(tags)
    assert not any("{" in line for line in screen[:-2]), screen


def test_a_job_unreachable_mid_wait_shows_so_with_its_last_status(emulator):
    tag = start(emulator.url, "/alter/table", alter(30))
    code, output = run_in_pty(["wait", tag, "--url", emulator.url, "--interval", "0.2", "--timeout", "3"],
                              when=(b"RUNNING", lambda _: emulator.primary.stop()))
    assert code == 7  # unreachable at the deadline: kjob cannot know that it still runs
    screen = [line for line in final_screen(output, 140) if line]
    notes = [line for line in screen if line.startswith(f"kjob: job {tag} unreachable; last seen RUNNING ")]
    assert len(notes) == 1 and "nothing is listening at" in notes[0]
    bar = next(line for line in screen if line.startswith(tag))
    assert re.fullmatch(rf"{tag} +/alter/table +UNREACHABLE +[━╸╺]+ +[0-9]% ({WAITED})", bar), bar  # no time left
    row = next(line for line in screen if line.startswith(f" {tag} "))
    assert re.match(rf" {tag} │ /alter/table │ UNREACHABLE │ \d\.\d s +│ last seen RUNNING [0-9]%, could not be reached", row), row
    assert not any("timed out" in line for line in screen), screen


def test_sixty_columns_keep_the_bar_and_percentage_and_shorten_tags_from_the_middle(emulator):
    tags = [start(emulator.url, "/alter/table", alter(1.0)), start(emulator.url, "/alter/table", alter(0.6))]
    code, output = run_in_pty(["wait", *tags, "--url", emulator.url, "--interval", "0.2"], columns=60)
    assert code == 0
    screen = [line for line in final_screen(output, 60) if line]
    written = re.split(r"\r\n|\r|\n", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output))
    assert max(len(line) for line in written) <= 60  # every frame fits: nothing wraps
    shorts = [f"{tag[:4]}…{tag[-9:]}" for tag in tags]  # the unique end of a generated tag stays, in the bar and the summary
    waited = [next(found[1] for line in screen if (found := re.fullmatch(rf"{short} DONE {{8}}━{{10}} 100% ({WAITED}) *", line)))
              for short in shorts]
    column = max(len("waited"), *map(len, waited))  # `already` (a loaded machine) widens it
    for short, time_waited in zip(shorts, waited, strict=True):
        assert f" {short} │ DONE   │ {time_waited.ljust(column)} │" in screen, screen
    assert any(re.fullmatch(rf"all 2 jobs {{5}}2 ended {{5}}━{{10}} 100% ({WAITED}) *", line) for line in screen), screen


def test_waiting_for_a_tag_that_does_not_exist_says_so(emulator):
    result = run_kjob(["wait", "no-such-tag", "--url", emulator.url, "--not-found-grace", "1s", "--interval", "0.2"])
    assert result.returncode == 5
    assert result.stderr.decode().splitlines()[0] == (
        "kjob: job no-such-tag not found yet; waiting up to 1 s for it to appear (--not-found-grace)")
    code, output = run_in_pty(["wait", "no-such-tag", "--url", emulator.url, "--not-found-grace", "1"])
    assert code == 5
    assert final_screen(output, 140)[0] == (
        "kjob: job no-such-tag not found yet; waiting up to 1 s for it to appear (--not-found-grace)")


def test_outcome_lines_on_stdout_while_the_bars_are_on_the_terminal(emulator, tmp_path):
    done = start(emulator.url, "/alter/table", alter(0))
    time.sleep(0.1)
    running = start(emulator.url, "/alter/table", alter(2.5, "error", "disk full"))
    with open(tmp_path / "log", "w") as log:  # kjob wait ... | tee log
        code, output = run_in_pty(["wait", done, running, "--url", emulator.url, "--interval", "0.2"], stdout=log)
    assert code == 1
    lines = (tmp_path / "log").read_text().splitlines()
    assert lines[0] == f"job {done} /alter/table: already DONE"
    assert re.fullmatch(rf"job {running} /alter/table: ERROR \(waited \d\.\d s\): disk full", lines[1])
    assert len(lines) == 2
    assert "━" in output and "already DONE" not in output  # bars on the terminal, outcome lines in the log


def test_outcome_lines_through_tee_come_after_the_bars_on_the_same_screen(emulator, tmp_path):
    done = start(emulator.url, "/alter/table", alter(0))
    running = start(emulator.url, "/alter/table", alter(3, "error", "disk full"))
    code, output = run_in_pty(["wait", done, running, "--url", emulator.url, "--interval", "0.2"],
                              pipe_to=["tee", str(tmp_path / "log")], columns=120)
    assert code == 1
    screen = [line for line in final_screen(output, 120) if line]
    logged = (tmp_path / "log").read_text().splitlines()
    assert len(logged) == 2 and screen[-2:] == logged  # whole, below the summary, not written over by the bars
    assert logged[0] == f"job {done} /alter/table: already DONE"
    assert re.fullmatch(rf"job {running} /alter/table: ERROR \(waited \d\.\d s\): disk full", logged[1])
    assert screen[-3].startswith(f" {running} ")  # the summary table's last row

def test_submit_wait_gives_the_bar_the_room_its_known_tag_leaves(emulator):
    code, output = run_in_pty(["submit", "/alter/table", "--tag", "sw1", "--wait", "--url", emulator.url, "--data", alter(0.5)],
                              columns=100)
    assert code == 0
    [bar] = [line for line in final_screen(output, 100) if line.startswith("sw1 ")]
    drawn = re.fullmatch(r"sw1 +/alter/table +DONE +(━+) 100% +\d+\.\d s", bar)
    assert drawn and len(drawn[1]) >= 30, bar  # not squeezed to leave room for `12 (tag)`: the tag is known

def test_verbose_traces_go_above_the_bars(emulator):
    tag = start(emulator.url, "/alter/table", alter(1.0))
    code, output = run_in_pty(["wait", tag, "-v", "--url", emulator.url, "--interval", "0.3"])
    assert code == 0
    screen = [line for line in final_screen(output, 140) if line]
    bars = [index for index, line in enumerate(screen) if line.startswith(tag)]
    assert len(bars) == 1 and bar_line(tag, "DONE", FULL, "100%").fullmatch(screen[bars[0]])  # no stale bar left
    assert screen[bars[0] - 1].startswith("< ") and f"> POST {emulator.url}/get/job (binary, " in "\n".join(screen)
