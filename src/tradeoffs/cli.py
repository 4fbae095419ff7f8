"""The one error policy of every Hydra entry point (train, evaluate, traverse).

A user's mistake (ConfigError) or an estimate that cannot be made (EstimatorInputError, NonFiniteLossError) is one
logged line, anything else a logged traceback; either way the error is appended to the job's failures.jsonl. In a
multirun sweep the job then returns, so one failed job never stops the others (the curve tool lists it as failed);
a single run exits with status 2 for a config error, 1 for an estimate, and re-raises anything else. A SLURM job
that SIGTERM ends (preemption, `scontrol requeue`, a time limit) is neither: it exits with status 143 and no result,
so that the scheduler's requeue reruns it; after submitit's timeout signal the job's end is submitit's to report.
"""

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from tradeoffs.core.errors import ConfigError, EstimatorInputError, NonFiniteLossError
from tradeoffs.core.runs import record_failure
from tradeoffs.sweeps.lease import in_multirun

EXPECTED = (ConfigError, EstimatorInputError, NonFiniteLossError)
SIGTERM_EXIT = 128 + signal.SIGTERM


def run_job(job: Callable[[DictConfig], object], cfg: DictConfig, log: logging.Logger) -> None:
    logging.captureWarnings(True)  # warnings go where the job's log goes (hydra/job_logging=summary: the .log file)
    try:
        with scheduler_signals() as received:
            job(cfg)
    except BaseException as error:
        if received and "SLURM_JOB_ID" in os.environ:
            record_failure(Path(cfg.paths.output_dir), error)
            if signal.SIGTERM in received:
                leave_for_requeue(error, log)
            raise  # submitit's timeout handler: its requeue (SystemExit) or its "not requeued" error, reported as such
        if not isinstance(error, Exception):
            raise
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


@contextmanager
def scheduler_signals():
    """Within: SIGTERM (the scheduler ends the job) and SIGUSR2 (submitit's timeout/preemption signal) are noted and
    passed on to the handlers before (submitit's); yields the set of signals received so far."""
    received: set[int] = set()
    watched = (signal.SIGTERM, signal.SIGUSR2)
    previous = {signum: signal.getsignal(signum) for signum in watched}

    def note(signum, frame) -> None:
        received.add(signum)
        if callable(previous[signum]):
            previous[signum](signum, frame)

    main = threading.current_thread() is threading.main_thread()
    for signum in watched if main else ():
        signal.signal(signum, note)
    try:
        yield received
    finally:
        for signum in watched if main else ():
            signal.signal(signum, previous[signum])


def leave_for_requeue(error: BaseException, log: logging.Logger) -> None:
    """A SLURM job ended by SIGTERM (preempted, requeued, cancelled, or past its time limit) is not a failure to
    report nor a success: exit non-zero without returning, so submitit writes no result and its launcher keeps
    waiting while SLURM requeues the job, which then resumes from last.ckpt (ckpt_path=auto)."""
    log.error("ended by SIGTERM (%s: %s): exiting without a result for SLURM to requeue", type(error).__name__, error)
    logging.shutdown()
    os._exit(SIGTERM_EXIT)
