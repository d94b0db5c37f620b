"""What a stream is, asked once: a terminal or not, and whether kjob may colour it.

Where the output asks a stream isatty() and reads NO_COLOR and TERM. rich makes the same
checks for what it draws (Console reads NO_COLOR itself); these answer before rich is loaded,
so that `kjob status` never loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO

STATUS_COLOURS = {"RUNNING": "cyan", "DONE": "green", "ERROR": "red", "CANCELLED": "yellow", "waiting": "dim", "not seen": "dim"}


@dataclass(frozen=True)
class Terminal:
    """One stream's facts: a terminal; one that can draw (not TERM=dumb); one kjob may colour."""

    is_terminal: bool
    can_draw: bool
    colour: bool

    @classmethod
    def of(cls, stream: IO[str]) -> Terminal:
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            terminal = False
        can_draw = terminal and os.environ.get("TERM") != "dumb"
        return cls(is_terminal=terminal, can_draw=can_draw, colour=can_draw and not os.environ.get("NO_COLOR"))
