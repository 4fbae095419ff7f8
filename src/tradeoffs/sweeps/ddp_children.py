"""DDP jobs inside a local multirun sweep.

Lightning's subprocess DDP launcher starts the other processes by re-executing `sys.argv` with
`hydra.run.dir=<HydraConfig run.dir>`. In a multirun sweep that command is the whole sweep (`-m` and every λ) and the
run dir is not the job's, so the children would start a sweep of their own and rank 0 would wait for them forever.
For the duration of one job, `sys.argv` is therefore that job's single-run command, with the devices its lease gave
it, and Hydra's run dir is the job's directory. Afterwards the environment Lightning set for its processes
(LOCAL_RANK, MASTER_PORT, ...) and the process group are cleared, so the next job of a sequential sweep in the same
process starts its own processes instead of taking itself for a child.
"""

import os
import sys
from contextlib import contextmanager

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from tradeoffs.sweeps.lease import in_multirun


def launches_ddp_children(trainer: DictConfig) -> bool:
    """Lightning's subprocess launcher: a ddp strategy (not spawn), or `auto` with several devices."""
    strategy, devices = str(trainer.get("strategy", "auto")), trainer.get("devices", 1)
    several = len(devices) > 1 if OmegaConf.is_list(devices) else str(devices).isdigit() and int(devices) > 1
    return (strategy.startswith("ddp") and "spawn" not in strategy) or (strategy == "auto" and several)


@contextmanager
def children_run_this_job(cfg: DictConfig, entry_file: str):
    """Within: Lightning's DDP children run `python entry_file <this job's overrides> trainer.devices=<its devices>`
    in this job's directory (also from a joblib worker, whose own __main__ is not the entry point)."""
    if not in_multirun() or not launches_ddp_children(cfg.trainer):
        yield
        return
    hydra_cfg = HydraConfig.get()
    devices = cfg.trainer.devices
    devices = OmegaConf.to_container(devices) if OmegaConf.is_config(devices) else devices
    overrides = [o for o in hydra_cfg.overrides.task if not o.lstrip("+~").startswith("trainer.devices=")]
    logging = [o for o in hydra_cfg.overrides.hydra if o.startswith(("hydra/job_logging=", "hydra/hydra_logging="))]
    argv, run_dir, environ = sys.argv, hydra_cfg.run.dir, dict(os.environ)
    main, spec = sys.modules["__main__"], sys.modules["__main__"].__spec__
    main.__spec__ = None  # Lightning then runs sys.argv[0] as a script, not `python -m <this process's main>`
    sys.argv = [entry_file, *overrides, *logging, f"trainer.devices={devices}".replace(" ", "")]
    OmegaConf.set_readonly(hydra_cfg, False)
    with open_dict(hydra_cfg):
        hydra_cfg.run.dir = cfg.paths.output_dir
    try:
        yield
    finally:
        sys.argv, main.__spec__ = argv, spec
        os.environ.clear()
        os.environ.update(environ)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        with open_dict(hydra_cfg):
            hydra_cfg.run.dir = run_dir
