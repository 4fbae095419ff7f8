"""One job per device: an exclusive, crash-safe lease on a device id among concurrent jobs on one machine.

Hydra's launchers do not assign GPUs (submitit_local puts every job on GPU 0, joblib knows nothing of devices). Each
job therefore takes an advisory lock (flock) on `{lock_dir}/slot{k}.lock` for the first free id k, trains on
`devices=[k]`, and releases it when it ends. The kernel drops the lock when the process dies, so a crashed job never
blocks a device. On CPU the same slots split the cores: each of n concurrent jobs gets cpu_count // n threads.
"""

import fcntl
import hashlib
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from tradeoffs.core.errors import ConfigError

log = logging.getLogger(__name__)


class DeviceLease:
    """`with DeviceLease(slots, lock_dir) as k:` holds slot k exclusively; waits (polling) while all are taken."""

    def __init__(self, slots: list[int], lock_dir: str | Path, poll_seconds: float = 1.0) -> None:
        if not slots:
            raise ValueError("a device lease needs at least one slot")
        self.slots, self.lock_dir, self.poll_seconds = list(slots), Path(lock_dir), poll_seconds
        self.handle, self.slot = None, None

    def try_acquire(self) -> int | None:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        for slot in self.slots:
            handle = open(self.lock_dir / f"slot{slot}.lock", "a+")  # noqa: SIM115 (held until release)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")  # who holds the device, for a person looking at the lock files
            handle.flush()
            self.handle, self.slot = handle, slot
            return slot
        return None

    def __enter__(self) -> int:
        waited = False
        while self.try_acquire() is None:
            if not waited:
                log.info("all %d device slots in %s are taken; waiting for one", len(self.slots), self.lock_dir)
                waited = True
            time.sleep(self.poll_seconds)
        return self.slot

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle, self.slot = None, None


@dataclass(frozen=True)
class Assignment:
    """What a job got: GPU indices, or a number of CPU threads."""

    gpus: tuple[int, ...] = ()
    cpu_threads: int | None = None


@contextmanager
def gpu_leases(num_gpus: int, count: int, lock_dir: str | Path, poll_seconds: float = 1.0):
    """`count` distinct GPUs held together, taken all at once or not at all: a job that held some while waiting for
    more could deadlock with another doing the same."""
    if not 1 <= count <= num_gpus:
        raise ConfigError(f"lease.gpus_per_job={count}: this machine has {num_gpus} GPU(s)")
    waited = False
    while True:
        held = [
            lease for lease in (DeviceLease([k], lock_dir) for k in range(num_gpus)) if lease.try_acquire() is not None
        ]
        for lease in held[count:]:
            lease.__exit__()
        if len(held) >= count:
            break
        for lease in held:
            lease.__exit__()
        if not waited:
            log.info("fewer than %d of the %d GPU slots in %s are free; waiting", count, num_gpus, lock_dir)
            waited = True
        time.sleep(poll_seconds)
    try:
        yield tuple(lease.slot for lease in held[:count])
    finally:
        for lease in held[:count]:
            lease.__exit__()


@contextmanager
def device_assignment(num_gpus: int, concurrent_jobs: int, lock_dir: str | Path, gpus_per_job: int = 1):
    """Lease `gpus_per_job` GPUs when there are any, else a CPU slot worth cpu_count // concurrent_jobs threads."""
    if num_gpus > 0:
        with gpu_leases(num_gpus, gpus_per_job, lock_dir) as gpus:
            log.info("device lease: GPU %s", ",".join(map(str, gpus)))
            yield Assignment(gpus=gpus)
        return
    slots = max(1, concurrent_jobs)
    with DeviceLease(list(range(slots)), Path(lock_dir) / "cpu") as k:
        threads = max(1, (os.cpu_count() or 1) // slots)
        log.info("device lease: CPU slot %d of %d, %d thread(s)", k, slots, threads)
        yield Assignment(cpu_threads=threads)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def concurrent_jobs() -> int:
    """The launcher's number of parallel jobs (joblib's n_jobs; -1 = one per core), 1 for sequential launchers."""
    n_jobs = HydraConfig.get().launcher.get("n_jobs", 1) if HydraConfig.initialized() else 1
    return (os.cpu_count() or 1) if n_jobs is None or n_jobs <= 0 else n_jobs


@contextmanager
def leased_devices(cfg: DictConfig):
    """Apply a device lease to `cfg.trainer` (GPU: devices=[k, ...]) or to torch's thread count (CPU) for this job.

    `cfg.lease.mode`: auto (only in local multirun sweeps; never under SLURM, which assigns GPUs itself), true,
    false; `cfg.lease.gpus_per_job`: GPUs per job (> 1 with trainer=ddp); `cfg.lease.dir`: the lock files.
    """
    lease = cfg.get("lease") or {}
    mode = lease.get("mode", "auto")
    active = mode is True or (mode == "auto" and in_multirun() and "SLURM_JOB_ID" not in os.environ)
    if not active:
        if "SLURM_CPUS_PER_TASK" in os.environ:  # the job's CPUs, not the node's (no cgroup may enforce them)
            torch.set_num_threads(int(os.environ["SLURM_CPUS_PER_TASK"]))
        yield None
        return
    wants_gpu = cfg.trainer.get("accelerator", "auto") in ("auto", "gpu", "cuda")
    num_gpus = torch.cuda.device_count() if wants_gpu else 0
    with device_assignment(num_gpus, concurrent_jobs(), lease.dir, lease.get("gpus_per_job", 1)) as assignment:
        if assignment.gpus:
            with open_dict(cfg.trainer):
                cfg.trainer.accelerator, cfg.trainer.devices = "gpu", list(assignment.gpus)
        else:
            torch.set_num_threads(assignment.cpu_threads)
        yield assignment


def parallel_jobs(gpus_per_job: int = 1) -> int:
    """Jobs a local sweep runs at once: one per `gpus_per_job` GPUs, or one per CPU core (each then gets one
    thread)."""
    return torch.cuda.device_count() // max(1, int(gpus_per_job)) or os.cpu_count() or 1


def slurm_devices(accelerator: str, devices) -> int:
    """Devices a SLURM job asks for: 0 GPUs on the CPU, else the trainer's device count (an int or a list)."""
    if accelerator == "cpu":
        return 0
    return len(devices) if isinstance(devices, list | ListConfig) else int(devices) if str(devices).isdigit() else 1


NAME_MAX = 255  # bytes in a file name on Linux file systems


def job_dirname(override_dirname: str) -> str:
    """A sweep job's directory name from Hydra's override_dirname, without the `+` of appended keys
    (`+model.sampler.eta=0.5` -> `model.sampler.eta=0.5`) and with `/` in values made `_`, so that a swept path
    (`ckpt_path=logs/a/last.ckpt`) names one directory inside the sweep, never a nested or outside one. A name longer
    than a file name may be keeps its first 236 bytes and ends with `,sha1=` and 12 hex digits of the whole name:
    the same overrides always name the same directory (a rerun resumes it), different ones different directories."""
    name = ",".join(item.lstrip("+").replace("/", "_") for item in str(override_dirname).split(","))
    encoded = name.encode()
    if len(encoded) <= NAME_MAX:
        return name
    digest = hashlib.sha1(encoded).hexdigest()[:12]
    return f"{encoded[:236].decode(errors='ignore')},sha1={digest}"


def register_resolvers() -> None:
    """${tradeoffs.parallel_jobs:GPUS_PER_JOB} for launcher configs, ${tradeoffs.basename:PATH} for naming W&B
    groups, ${tradeoffs.job_dirname:...} for naming sweep job directories and ${tradeoffs.cwd:} (the working
    directory, absolute) for the default project root; entry points call this before composing."""
    if not OmegaConf.has_resolver("tradeoffs.parallel_jobs"):
        OmegaConf.register_new_resolver("tradeoffs.parallel_jobs", parallel_jobs)
        OmegaConf.register_new_resolver("tradeoffs.basename", lambda path: Path(str(path)).name)
        OmegaConf.register_new_resolver("tradeoffs.job_dirname", job_dirname)
        OmegaConf.register_new_resolver("tradeoffs.slurm_devices", slurm_devices)
        OmegaConf.register_new_resolver("tradeoffs.cwd", os.getcwd)
