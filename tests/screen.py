"""What a terminal shows after a program's bytes: enough of a VT100 for rich's live display.

Handles text, CR, LF, backspace, cursor up/down/column moves, erase in line and display, and
ignores colours and modes. Lines wrap at `columns`, as a terminal's do. Used to assert whole
lines of the final screen of `kjob wait` run in a pty.
"""

from __future__ import annotations

import re

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
