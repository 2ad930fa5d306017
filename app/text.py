"""Words for counts, shared by the core, the command line and the GUI so they say things alike."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """"1 person", "2 people", "0 photos": the count and the right form of the word."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
