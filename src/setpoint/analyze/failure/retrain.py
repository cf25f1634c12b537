"""Retraining for the agent: ``setpoint train`` in a subprocess, niced, within a CPU budget.

A subprocess keeps xgboost (and the 128 MiB it imports) out of the agent, and its
budget is enforced by the kernel: ``train --cpu-budget`` sets ``RLIMIT_CPU``, so a
run that uses more CPU time is stopped with SIGXCPU. It starts only while the host
is idle (1-minute load per CPU below ``idle_load``) and, at niceness 19, gives way
to everything else that wants the CPU while it runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from setpoint.config.failure import FailureConfig

log = logging.getLogger(__name__)


def idle(threshold: float) -> bool:
    """True when the 1-minute load average per CPU is below ``threshold``."""
    return os.getloadavg()[0] / (os.cpu_count() or 1) < threshold


def train_argv(data_dir: Path, config: FailureConfig) -> list[str]:
    """The command line of one retraining run.

    >>> argv = train_argv(Path("/d"), FailureConfig())
    >>> argv[1:], argv[-1]
    (['-m', 'setpoint', 'train', '--data-dir', '/d', '--json', '--nice', '19', \
'--cpu-budget', '600.0', '--history', '2592000.0', '--label-kind', 'service.down', \
'--label-kind', 'service.unhealthy'], 'service.unhealthy')
    """
    argv = [sys.executable, "-m", "setpoint", "train", "--data-dir", str(data_dir), "--json"]
    argv += ["--nice", str(config.nice), "--cpu-budget", str(config.cpu_budget)]
    argv += ["--history", str(config.history)]
    for kind in config.label_kinds:
        argv += ["--label-kind", kind]
    return argv


async def retrain(data_dir: Path, config: FailureConfig, store_url: str | None) -> bool:
    """Run one retraining to its end; True when a new model was saved.

    The store URL goes in the environment, never on the command line (``ps`` shows
    that). Cancelling this kills the subprocess and waits for it.
    """
    env = dict(os.environ)
    if store_url is not None:
        env["SETPOINT_STORE_URL"] = store_url
    process = await asyncio.create_subprocess_exec(
        *train_argv(data_dir, config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    if process.returncode == 0:
        try:
            metrics = json.loads(out).get("metrics", {})
        except (ValueError, AttributeError):
            metrics = {}
        log.info(
            "failure model retrained: %s rows, %s failures, held-out AUC %s",
            metrics.get("rows"),
            metrics.get("failures"),
            metrics.get("auc"),
        )
        return True
    if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        log.warning(
            "failure model retraining stopped: it used its %.0f s of CPU", config.cpu_budget
        )
    else:
        lines = err.decode(errors="replace").strip().splitlines()
        log.warning(
            "failure model retraining failed (exit %s): %s",
            process.returncode,
            lines[-1] if lines else "no message",
        )
    return False
