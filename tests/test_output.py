"""kjob/output: what a terminal's facts (NO_COLOR, TERM=dumb) change on a real terminal (a pty),
and that the output modules load rich only to draw."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from screen import final_screen
from test_wait_fetch import alter, start

COLOUR = re.compile(rb"\x1b\[(3\d|38;|9\d)[0-9;]*m")  # a foreground colour (bold and dim are not colours)


def on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, bytes]:
    """kjob with a pty as stdin, stdout and stderr under `env`; its exit code and every byte it wrote."""
    primary, secondary = pty.openpty()
    full_env = {**os.environ, "COLUMNS": "120", "LINES": "30", **env}
    process = subprocess.Popen([sys.executable, "-m", "kjob", *args], stdin=secondary, stdout=secondary,
                               stderr=secondary, env=full_env, close_fds=True)
    os.close(secondary)
    screen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([primary], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    return process.wait(timeout=5), bytes(screen)


def test_no_color_on_a_terminal_keeps_the_bars_and_drops_every_colour(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.6))
    code, screen = on_a_terminal(["wait", tag, "--url", emulator.url, "--interval", "0.2"],
                                 {"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert code == 0
    assert "━".encode() in screen and b"\x1b[?25l" in screen  # rich's live bars, cursor hidden
    assert not COLOUR.search(screen), COLOUR.search(screen)
    code, screen = on_a_terminal(["status", tag, "--url", emulator.url], {"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert code == 0 and f"job 1  DONE  100%  /alter/table  tag {tag}  on {emulator.url}\r\n".encode() == screen


def test_a_colour_terminal_colours_the_status_word(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.0))
    code, screen = on_a_terminal(["status", tag, "--url", emulator.url], {"TERM": "xterm-256color"})
    assert code == 0
    assert screen == f"job 1  \x1b[32m\x1b[1mDONE\x1b[0m  100%  /alter/table  tag {tag}  on {emulator.url}\r\n".encode()


def test_a_dumb_terminal_gets_plain_lines_and_no_escape_sequence(emulator):
    tag = start(emulator.url, "/alter/table", alter(1.5))  # running still when the first look comes
    code, screen = on_a_terminal(["wait", tag, "--url", emulator.url, "--interval", "0.2"], {"TERM": "dumb"})
    assert code == 0 and b"\x1b" not in screen
    lines = final_screen(screen.decode(), 120)
    assert re.fullmatch(rf"kjob: job {tag} /alter/table: RUNNING \d+%", lines[0]), lines
    assert re.fullmatch(rf"job {tag} /alter/table: DONE \(waited \d+\.\d s\)", lines[1]), lines
    assert lines[2:] == [""]  # nothing else: one progress line, the outcome, the cursor's empty line


def test_progress_none_on_a_terminal_shows_only_the_outcome(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.0))
    code, screen = on_a_terminal(["wait", tag, "--url", emulator.url, "--progress", "none"], {"TERM": "xterm-256color"})
    assert code == 0
    assert re.fullmatch(rf"job {tag} /alter/table: already DONE\r\n".encode(), screen), screen


def test_progress_plain_on_a_terminal_writes_lines_instead_of_bars(emulator):
    tag = start(emulator.url, "/alter/table", alter(1.5))
    code, screen = on_a_terminal(["wait", tag, "--url", emulator.url, "--progress", "plain", "--interval", "0.2"],
                                 {"TERM": "xterm-256color"})
    assert code == 0 and b"\x1b" not in screen
    lines = final_screen(screen.decode(), 120)
    assert re.fullmatch(rf"kjob: job {tag} /alter/table: RUNNING \d+%", lines[0]), lines
    assert re.fullmatch(rf"job {tag} /alter/table: DONE \(waited \d+\.\d s\)", lines[1]), lines
    assert lines[2:] == [""]

def test_the_output_modules_load_rich_only_to_draw():
    code = ("import sys, kjob.output.lines, kjob.output.progress, kjob.output.rows, kjob.output.summary\n"
            "print('rich' in sys.modules)")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"
