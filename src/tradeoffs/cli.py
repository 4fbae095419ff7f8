"""The one error policy of every Hydra entry point (train, evaluate, traverse).

A user's mistake (ConfigError) or an estimate that cannot be made (EstimatorInputError, NonFiniteLossError) is one
logged line, anything else a logged traceback; either way the error is appended to the job's failures.jsonl, except
for a RunRefused command, which leaves its run directory untouched (the line goes to the console only). A single
run exits with status 2 for a config error, 1 for an estimate, and re-raises anything else. In a multirun sweep one
failed job never stops the others (the curve tool lists it as failed): the job raises a one-line `JobFailed`, which
Hydra reports after the whole batch of jobs has run, and the sweep exits with status 1. A SLURM job
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

from hydra.errors import CompactHydraException
from omegaconf import DictConfig

from tradeoffs.core.errors import ConfigError, EstimatorInputError, NonFiniteLossError
from tradeoffs.core.runs import RunRefused, record_failure, trust_checkpoints
from tradeoffs.sweeps.lease import in_multirun

EXPECTED = (ConfigError, EstimatorInputError, NonFiniteLossError)
SIGTERM_EXIT = 128 + signal.SIGTERM


class JobFailed(CompactHydraException):
    """A sweep job's error, already logged and recorded: Hydra prints this one line when the sweep ends."""


def run_job(job: Callable[[DictConfig], object], cfg: DictConfig, log: logging.Logger) -> None:
    logging.captureWarnings(True)  # warnings go where the job's log goes (hydra/job_logging=summary: the .log file)
    output_dir = Path(cfg.paths.output_dir)
    trust_checkpoints(cfg.get("trusted_checkpoints") or ())
    try:
        with scheduler_signals() as received:
            job(cfg)
    except BaseException as error:
        if received and "SLURM_JOB_ID" in os.environ:
            record_failure(output_dir, error)
            if signal.SIGTERM in received:
                leave_for_requeue(error, log)
            raise  # submitit's timeout handler: its requeue (SystemExit) or its "not requeued" error, reported as such
        if not isinstance(error, Exception):
            raise
        expected = isinstance(error, EXPECTED)
        if isinstance(error, RunRefused):
            with run_dir_logs_detached(output_dir):
                log.error("%s", error)
        else:
            record_failure(output_dir, error)
            if expected:
                log.error("%s", error)
            else:
                log.exception("the job failed")
        if in_multirun():
            raise JobFailed(f"a job of this sweep failed ({output_dir.name}: {error})") from None
        if not expected:
            raise
        sys.exit(2 if isinstance(error, ConfigError) else 1)


@contextmanager
def run_dir_logs_detached(output_dir: Path):
    """Within: log records reach no file inside `output_dir` (the job's train.log), so a job that skips or refuses
    a run directory leaves its files as they were."""
    output_dir = Path(output_dir).resolve()
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    detached = []
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(output_dir):
                logger.removeHandler(handler)
                detached.append((logger, handler))
    try:
        yield
    finally:
        for logger, handler in detached:
            logger.addHandler(handler)


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
