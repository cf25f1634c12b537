"""CPU cost per tick of foresight (exhaustion forecasts + OOM predictor), on real readings.

Reads the real host sensor and samples two real processes (this one and its parent)
``--ticks`` times, then replays the same readings, one second apart, through
:class:`~setpoint.analyze.foresight.Foresight` and reports CPU time per tick: the cost
the analysis adds to the agent's tick. Readings are taken first so that only the
analysis is timed.

    .venv/bin/python -m bench.tick_cost [--ticks 600]
"""

from __future__ import annotations

import argparse
import os
import time

from setpoint.analyze.foresight import Foresight
from setpoint.config.prediction import CrashConfig, PredictionConfig
from setpoint.model import Sample
from setpoint.monitor.host import HostSensor
from setpoint.monitor.process import ProcessSampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=600)
    args = parser.parse_args()
    host = HostSensor()
    procs = [(ProcessSampler("self"), os.getpid()), (ProcessSampler("parent"), os.getppid())]
    ticks: list[list[Sample]] = []
    for i in range(args.ticks):
        batch = list(host.collect())
        for sampler, pid in procs:
            batch += sampler.sample(pid)
        ticks.append([Sample(s.series, s.value, float(i), s.entity, s.labels) for s in batch])
        time.sleep(0.01)
    foresight = Foresight(PredictionConfig(), CrashConfig(), lambda p: None)
    cpu = time.process_time()
    for i, batch in enumerate(ticks):
        foresight.observe(batch, float(i))
    spent = time.process_time() - cpu
    per_tick_ms = spent / len(ticks) * 1000
    print(f"{len(ticks)} ticks, {len(ticks[-1])} samples per tick")
    share = per_tick_ms / 10
    print(f"foresight CPU per tick: {per_tick_ms:.3f} ms = {share:.3f} % of one core at 1 s")


if __name__ == "__main__":
    main()
