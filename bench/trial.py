"""A drill's tally of trials for `make chaos`, and its timestamped progress lines."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Drill:
    name: str
    trials: int = 0
    passed: int = 0
    notes: list[str] = field(default_factory=list)

    def trial(self, ok: bool, note: str = "") -> None:
        self.trials += 1
        self.passed += bool(ok)
        if note:
            self.notes.append(note)
        say(f"{self.name} trial {self.trials}: {'passed' if ok else 'FAILED'} {note}")
