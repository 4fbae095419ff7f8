"""The one error policy of every Hydra entry point (train, evaluate, traverse).

A user's mistake (ConfigError) or an estimate that cannot be made (EstimatorInputError, NonFiniteLossError) is one
logged line, anything else a logged traceback; either way the error is appended to the job's failures.jsonl. In a
multirun sweep the job then returns, so one failed job never stops the others (the curve tool lists it as failed);
a single run exits with status 2 for a config error, 1 for an estimate, and re-raises anything else.
"""

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from tradeoffs.core.errors import ConfigError, EstimatorInputError, NonFiniteLossError
from tradeoffs.core.runs import record_failure
from tradeoffs.sweeps.lease import in_multirun

EXPECTED = (ConfigError, EstimatorInputError, NonFiniteLossError)


def run_job(job: Callable[[DictConfig], object], cfg: DictConfig, log: logging.Logger) -> None:
    logging.captureWarnings(True)  # warnings go where the job's log goes (hydra/job_logging=summary: the .log file)
    try:
        job(cfg)
    except Exception as error:
        record_failure(Path(cfg.paths.output_dir), error)
        expected = isinstance(error, EXPECTED)
        if expected:
            log.error("%s", error)
        else:
            log.exception("the job failed")
        if in_multirun():
            return
        if not expected:
            raise
        sys.exit(2 if isinstance(error, ConfigError) else 1)
