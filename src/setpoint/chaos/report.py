"""What one chaos scenario showed, as a JSON line or a table row."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class Result:
    """One scenario's outcome; times are seconds after the fault was injected.

    ``lead_s`` is for predictive scenarios (how long before the failure setpoint
    acted) and stays None for faults that are failures already. ``collateral`` lists
    everything touched or harmed besides the target; it must stay empty. With
    ``expect_action`` False the fault is harmless: it passes when it is *not* detected
    (no decision) and heals by itself.
    """

    scenario: str
    detected: bool = False
    detect_s: float | None = None
    healed: bool = False
    heal_s: float | None = None
    lead_s: float | None = None
    collateral: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    error: str | None = None
    expect_action: bool = True

    @property
    def passed(self) -> bool:
        """Detected (or left alone, if harmless), healed, and nothing else touched."""
        return (
            self.detected == self.expect_action
            and self.healed
            and not self.collateral
            and self.error is None
        )

    def json_line(self) -> str:
        """The result as one JSON object on one line."""
        return json.dumps(asdict(self))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _detected(r: Result) -> str:
    if r.expect_action:
        return "yes" if r.detected else "NO"
    return "YES, unwanted" if r.detected else "no, as expected"


def table(results: list[Result]) -> str:
    """The results as a fixed-width text table, one row per scenario."""
    header = ("scenario", "detected", "detect", "healed", "heal", "lead", "collateral", "actions")
    rows = [
        (
            r.scenario,
            _detected(r),
            _seconds(r.detect_s),
            "yes" if r.healed else "NO",
            _seconds(r.heal_s),
            _seconds(r.lead_s),
            "; ".join(r.collateral) or "none",
            ", ".join(r.actions) or (r.error or "-"),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )
