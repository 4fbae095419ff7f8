"""Hydra callback run once per multirun launch, before any job: a key swept over several values names the job
directories even when `override_dirname.exclude_keys` leaves it out, and an earlier launch's `multirun.yaml` is kept.
"""

from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write


def swept_keys(task_overrides: list[str]) -> set[str]:
    """Keys a sweep gives several values (`experiment=a,b`, `seed=range(3)`), without `+`/`~` prefixes."""
    parsed = OverridesParser.create().parse_overrides(overrides=list(task_overrides))
    return {override.key_or_group for override in parsed if override.is_sweep_override()}


class LaunchRecord(Callback):
    """Keeps a multirun's jobs apart and its launch history whole.

    - `experiment=a,b` into one `hydra.sweep.dir`: without this, both jobs would get the same directory name (the
      experiment is excluded from it) and the second would find the first's finished run.
    - Relaunching a sweep (to resume it) rewrites `multirun.yaml`; the previous one is kept as `multirun.N.yaml`.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        exclude = config.hydra.job.config.override_dirname.exclude_keys
        kept = [key for key in exclude if key not in swept_keys(config.hydra.overrides.task)]
        if len(kept) < len(exclude):
            # jobs recompose their config from hydra.overrides.hydra (ConfigLoader.load_sweep_config)
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.job.config.override_dirname.exclude_keys = kept
                config.hydra.overrides.hydra.append(
                    f"hydra.job.config.override_dirname.exclude_keys=[{','.join(kept)}]"
                )
        record = Path(str(config.hydra.sweep.dir)) / "multirun.yaml"
        if record.is_file():
            launches = 1 + sum(1 for _ in record.parent.glob("multirun.*.yaml"))
            record.rename(record.with_name(f"multirun.{launches}.yaml"))
