"""A clock the test moves: `clock.now` is what the code under test reads as time."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
