"""``setpoint decisions --stats``: how well remediations work, from the store's analytics.

Everything comes from ``decisions.success_rate`` and ``decisions.reward_trend``, so
SQLite and PostgreSQL give the same report for the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from setpoint.cli.output import console, fields, local_time, print_json, table
from setpoint.knowledge.base import KnowledgeStore, RewardPoint, SuccessRate

DAY = 86400.0


@dataclass(frozen=True)
class RewardSummary:
    """The reward trend in a few numbers: mean overall, first and last bucket, the change.

    >>> s = RewardSummary.of([RewardPoint(0.0, -1.0, 1), RewardPoint(86400.0, 0.5, 3)])
    >>> s.mean, s.first, s.last, s.change, s.buckets
    (0.125, -1.0, 0.5, 1.5, 2)
    """

    buckets: int
    mean: float | None
    first: float | None
    last: float | None
    change: float | None
    points: list[RewardPoint] = field(default_factory=list)

    @classmethod
    def of(cls, points: list[RewardPoint]) -> RewardSummary:
        """Summarise the trend points (oldest first); all None when there are none."""
        if not points:
            return cls(0, None, None, None, None)
        count = sum(p.count for p in points)
        mean = sum(p.mean_reward * p.count for p in points) / count
        first, last = points[0].mean_reward, points[-1].mean_reward
        return cls(len(points), mean, first, last, last - first, points)


def gather(store: KnowledgeStore, since: float | None, bucket: float = DAY) -> dict[str, Any]:
    """The stats of the decisions taken since ``since`` (all when None), as plain data."""
    rate: SuccessRate = store.decisions.success_rate(start_time=since)
    trend = RewardSummary.of(store.decisions.reward_trend(bucket, start_time=since))
    return {
        "since": since,
        "total": rate.total,
        "outcomes": {"SUCCESS": rate.success, "PARTIAL": rate.partial, "FAILED": rate.failed},
        "success_rate": rate.rate,
        "by_action": {action: dict(counts) for action, counts in rate.by_action.items()},
        "reward": {
            "bucket_seconds": bucket,
            "buckets": trend.buckets,
            "mean": trend.mean,
            "first": trend.first,
            "last": trend.last,
            "change": trend.change,
            "points": [
                {"start": p.bucket_start, "mean": p.mean_reward, "count": p.count}
                for p in trend.points
            ],
        },
    }


def _percent(rate: Any) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def show(stats: dict[str, Any], as_json: bool) -> None:
    """Print the stats as a summary and a per-action table, or as one JSON document."""
    if as_json:
        print_json(stats)
        return
    outcomes = stats["outcomes"]
    reward = stats["reward"]
    out = console()
    out.print(
        fields(
            {
                "since": local_time(stats["since"]) or "the beginning",
                "decisions with an outcome": str(stats["total"]),
                "outcomes": ", ".join(f"{k} {v}" for k, v in outcomes.items()),
                "success rate": _percent(stats["success_rate"]),
                "reward (mean)": _number(reward["mean"]),
                "reward trend": f"{_number(reward['first'])} -> {_number(reward['last'])}"
                f" ({_number(reward['change'])}) over {reward['buckets']} day(s)",
            }
        )
    )
    rows = table(("action", "total", "success", "partial", "failed", "rate"), "Per action")
    for action, counts in stats["by_action"].items():
        rows.add_row(
            action,
            *(str(counts[k]) for k in ("total", "success", "partial", "failed")),
            _percent(counts["rate"]),
        )
    out.print(rows)
