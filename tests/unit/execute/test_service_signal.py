"""``service.signal``: typed signal names, and no target means a failed preview."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Risk
from setpoint.execute.service_signal import ServiceSignal


@pytest.mark.parametrize(("given", "name"), [("SIGHUP", "SIGHUP"), ("usr1", "SIGUSR1")])
def test_signal_names_are_normalised(given: str, name: str) -> None:
    assert ServiceSignal.Config(signal=given).signal == name


@pytest.mark.parametrize("bad", ["SIGKILL", "SIGSTOP", "BOGUS", ""])
def test_unhandleable_or_unknown_signals_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="is not one of SIGHUP"):
        ServiceSignal.Config(signal=bad)


def test_a_signal_is_disruptive_and_needs_a_service() -> None:
    actuator = ServiceSignal(ServiceSignal.Config(signal="SIGHUP", verify_timeout=1))
    assert actuator.risk is Risk.DISRUPTIVE
    ctx = ActionContext("host")
    with pytest.raises(PreviewFailed):
        asyncio.run(actuator.preview(ctx))
    with pytest.raises(ApplyFailed):
        asyncio.run(actuator.apply(ctx))
