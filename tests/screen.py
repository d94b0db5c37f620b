"""kjob in a real terminal: run it on a pty (`run_in_pty`), and what the terminal shows after
its bytes (`final_screen`, enough of a VT100 for rich's live display).

`final_screen` handles text, CR, LF, backspace, cursor up/down/column moves, erase in line and
display, and ignores colours and modes. Lines wrap at `columns`, as a terminal's do. Used to
assert whole lines of the final screen of `kjob wait` run in a pty.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable


def run_in_pty(args: list[str], *, timeout: float = 30, columns: int = 140, stdout=None, env: dict | None = None,
               when: tuple[bytes | tuple[bytes, ...], Callable[[subprocess.Popen], object]] | None = None,
               answer: tuple[bytes, bytes] | None = None, pipe_to: list[str] | None = None) -> tuple[int, str]:
    """Run kjob with a pseudo-terminal as stdin, stdout and stderr; return its exit code and all it wrote there.

    `stdout`: a file to take stdout instead; `pipe_to`: a command that stdout is piped to, which
    writes to the same terminal (`kjob wait | tee log`); `when`: (text or texts, action), the
    action run on kjob's process once every text has appeared (the emulator stopped mid-wait, a
    signal sent...); `answer`: (prompt, reply), the reply typed once the prompt appeared."""
    primary, secondary = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "30", **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)
    if pipe_to is not None:
        stdout = subprocess.PIPE
    process = subprocess.Popen([sys.executable, "-m", "kjob", *args], stdin=secondary,
                               stdout=secondary if stdout is None else stdout, stderr=secondary, env=full_env,
                               close_fds=True)
    if pipe_to is not None:
        reader = subprocess.Popen(pipe_to, stdin=process.stdout, stdout=secondary, stderr=secondary)
        process.stdout.close()  # the reader's now
    os.close(secondary)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the last holder of the terminal has gone
                    break
                if not chunk:
                    break
                output += chunk
                if when is not None and all(text in output for text in
                                            ((when[0],) if isinstance(when[0], bytes) else when[0])):
                    when[1](process)
                    when = None
                if answer is not None and answer[0] in output:
                    os.write(primary, answer[1])
                    answer = None
            elif process.poll() is not None:
                break
    finally:
        os.close(primary)
    if pipe_to is not None:
        reader.wait(timeout=5)
    return process.wait(timeout=5), output.decode("utf-8", "replace")

CONTROL = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>78]|([\r\n\b])|([^\x1b\r\n\b]+)")


def final_screen(output: str, columns: int) -> list[str]:
    """The lines of the screen (all that was ever scrolled up too), trailing spaces removed."""
    lines: list[list[str]] = [[]]
    row = col = 0

    def put(char: str) -> None:
        nonlocal row, col
        if col >= columns:  # wrap, as the terminal does
            row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
        line = lines[row]
        line.extend(" " * (col + 1 - len(line)))
        line[col] = char
        col += 1

    for match in CONTROL.finditer(output):
        params, command, control, text = match.group(1), match.group(2), match.group(3), match.group(4)
        if text is not None:
            for char in text:
                put(char)
        elif control == "\r":
            col = 0
        elif control == "\n":
            row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
        elif control == "\b":
            col = max(0, col - 1)
        elif command and not params.startswith("?"):
            count = int(params) if params.isdigit() else None
            if command == "A":
                row = max(0, row - (count or 1))
            elif command == "B":
                row += count or 1
                while len(lines) <= row:
                    lines.append([])
            elif command == "G":
                col = (count or 1) - 1
            elif command == "K":
                line = lines[row]
                if count in (None, 0):
                    del line[col:]
                elif count == 1:
                    line[:col] = [" "] * min(col, len(line))
                else:
                    line.clear()
            elif command == "J" and count in (None, 0):
                del lines[row][col:]
                del lines[row + 1 :]
    return [("".join(line)).rstrip() for line in lines]
