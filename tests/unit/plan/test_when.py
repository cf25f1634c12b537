"""A playbook's ``when``: narrowing by evidence series, and ``for`` as a duration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from setpoint.config.models import Config
from setpoint.model import Symptom
from setpoint.plan.playbooks import matches


def _playbook(when: dict[str, object]) -> Config:
    return Config.model_validate(
        {"playbooks": [{"name": "p", "when": when, "do": [{"action": "service.restart"}]}]}
    )


def test_for_is_read_as_a_duration_and_series_narrows_the_match() -> None:
    config = _playbook(
        {"symptom": "threshold", "service": "web", "series": "service.cpu_percent", "for": "15s"}
    )
    playbook = config.playbooks[0]

    def symptom(series: str) -> Symptom:
        return Symptom("threshold", "service:web", 0.0, evidence={"series": series})

    assert playbook.when.for_ == 15.0
    assert matches(playbook, symptom("service.cpu_percent"))
    assert not matches(playbook, symptom("service.rss_bytes"))


def test_a_playbook_without_for_acts_at_once() -> None:
    assert _playbook({"symptom": "service.down"}).playbooks[0].when.for_ is None


def test_a_bad_for_is_refused_with_its_place() -> None:
    with pytest.raises(ValidationError, match=r"playbooks\.0\.when\.for"):
        _playbook({"symptom": "anomaly", "for": "soon"})
    with pytest.raises(ValidationError, match=r"playbooks\.0\.when\.for"):
        _playbook({"symptom": "anomaly", "for": 0})
