"""Building the datamodule, the restorer and the trainer from a composed config, with the checks that need both;
rebuilding a restorer from a checkpoint (the one path that does).

Constructors raise ConfigError naming the offending key; Hydra wraps those in InstantiationException, which
`instantiate` unwraps so the user sees one line.
"""

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ModelSummary
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities import rank_zero_only

from tradeoffs.callbacks.tradeoff_metrics import MeasurementListener, TradeoffMetrics
from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import load_checkpoint, scalar_metrics, stored_config
from tradeoffs.data.datamodule import RestorationDataModule
from tradeoffs.data.degradations import Degradation
from tradeoffs.data.output_folders import write_image
from tradeoffs.metrics.engine import MeasurementEngine
from tradeoffs.metrics.measuring import (
    gaussian_closed_forms,
    is_constant,
    measure,
    prepared_subset,
    split_distortion,
)
from tradeoffs.metrics.protocol import MeasuredRestorer
from tradeoffs.models.restorer import Restorer
from tradeoffs.sweeps.lease import register_resolvers

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
_ABSENT = object()


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose a config as the CLI would, outside a Hydra app (tests, benchmarks), with its run dir at output_dir."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(output_dir.parent)
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    return cfg


def instantiate(node: DictConfig, **kwargs: Any) -> Any:
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise


def build_datamodule(cfg: DictConfig, stage: str = "fit") -> RestorationDataModule:
    """Instantiate `cfg.data` and build its fixed pairs now (test pairs too for stage `test`), so bad data fails
    before training."""
    datamodule = instantiate(cfg.data)
    datamodule.setup(stage)
    return datamodule


def build_model(cfg: DictConfig, datamodule: RestorationDataModule) -> Restorer:
    """`cfg.model` instantiated from a copy of `cfg`: Hydra resolves an interpolated node in place (a model's
    `source: ${data.source}` would leave data.source.seed stored as a number), and the run's stored config must stay
    as composed, or a resume would see a changed key."""
    model = instantiate(copy.deepcopy(cfg).model)
    check_channels(model, datamodule)
    return model


def check_channels(model: Restorer, datamodule: RestorationDataModule) -> None:
    if model.channels != datamodule.source.channels:
        raise ConfigError(f"model.channels={model.channels} but data.source.channels={datamodule.source.channels}")


def checkpoint_config(ckpt_path: str | Path | None, overrides: Sequence[str] | DictConfig = (), key: str = "ckpt_path"):
    """(the checkpoint at ckpt_path, the training config it carries with `overrides` merged: a dotlist, or a
    config whose leaves must all be keys of the training config), ConfigError naming `key` for a bad file."""
    if ckpt_path is None:
        raise ConfigError(f"{key} is not set: pass {key}=PATH/TO/checkpoints/last.ckpt")
    path = Path(str(ckpt_path)).expanduser()
    checkpoint = load_checkpoint(path, key)
    cfg = stored_config(checkpoint, path)
    if isinstance(overrides, DictConfig):
        for leaf in leaf_keys(overrides):
            if OmegaConf.select(cfg, leaf, default=_ABSENT) is _ABSENT:
                raise ConfigError(f"+{leaf}: the training config in {path} has no such key")
        cfg = OmegaConf.merge(cfg, overrides)
    else:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    return checkpoint, cfg


def leaf_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Dotted keys of every non-mapping leaf of `node`."""
    out = []
    for key, value in node.items():
        name = f"{prefix}{key}"
        out += leaf_keys(value, f"{name}.") if isinstance(value, DictConfig) else [name]
    return out


def restorer_from_checkpoint(
    ckpt_path: str | Path | None,
    degradation: Degradation | None = None,
    key: str = "model.prior.ckpt_path",
    overrides: Sequence[str] | DictConfig = (),
) -> Restorer:
    """The restorer a checkpoint holds, rebuilt from the training config it carries (+ `overrides`), with its
    weights, frozen and in eval mode (a fusion prior, an interpolation partner); ConfigError naming `key` if the file
    is not a checkpoint or the restorer was trained on another `degradation`."""
    checkpoint, cfg = checkpoint_config(ckpt_path, overrides, key)
    return restorer_with_weights(checkpoint, cfg, f"{key}={ckpt_path}", degradation)


def restorer_with_weights(
    checkpoint: dict, cfg: DictConfig, source: str, degradation: Degradation | None = None
) -> Restorer:
    """`cfg.model` with the checkpoint's weights, frozen and in eval mode: the one place a restorer is loaded."""
    model = instantiate(cfg.model)
    if degradation is not None and repr(model.degradation) != repr(degradation):
        raise ConfigError(f"{source} restores {model.degradation!r}, this run's degradation is {degradation!r}")
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval().requires_grad_(False)


def build_trainer(cfg: DictConfig, wandb_run_id: str, extra_callbacks: list[pl.Callback]) -> pl.Trainer:
    """Trainer with the configured callbacks and loggers; the W&B logger gets the run's persistent id and config,
    and charts the measured keys against `epoch` (under manual optimization the global step also counts critic
    steps, so runs with and without an adversarial loss would not line up)."""
    loggers = build_loggers(cfg, wandb_run_id)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if cfg.trainer.get("enable_model_summary") is False:  # the switch wins over callbacks.model_summary
        callbacks = [c for c in callbacks if not isinstance(c, ModelSummary)]
    if cfg.get("metrics"):
        callbacks.append(TradeoffMetrics(instantiate(cfg.metrics)))
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers, **cluster_plugins())
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            describe_wandb_run(logger, cfg)
    return trainer


def build_loggers(cfg: DictConfig, wandb_run_id: str) -> list:
    """The `logger` entries that name a `_target_`; W&B gets the run's persistent id. An entry of settings only
    (a sweep's `logger.wandb.group` under `logger=csv` or `logger=none`: W&B settings without W&B) is skipped."""
    loggers = []
    for name, logger_cfg in (cfg.get("logger") or {}).items():
        if "_target_" not in logger_cfg:
            settings = ", ".join(logger_cfg)
            logging.getLogger(__name__).warning(
                "logger.%s sets %s but names no logger (_target_): ignored", name, settings
            )
            continue
        if name == "wandb":
            with open_dict(logger_cfg):
                logger_cfg.id = wandb_run_id
                logger_cfg.tags = run_tags(cfg)
        loggers.append(instantiate(logger_cfg))
    return loggers


def run_tags(cfg: DictConfig) -> list[str]:
    """W&B tags to filter a project's runs by: the config's `tags`, `seed=S`, `λ=W` and, in a sweep, `sweep=GROUP`."""
    tags = [*cfg.get("tags", []), f"seed={cfg.seed}"]
    if (adv_weight := OmegaConf.select(cfg, "model.adv_weight")) is not None:
        tags.append(f"λ={adv_weight:g}")
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        tags.append(f"sweep={cfg.logger.wandb.group}")
    return tags


def cluster_plugins() -> dict:
    """Under submitit, Lightning's SLURM environment without its own auto-requeue: submitit requeues preempted and
    timed-out jobs (SIGUSR2, with its checkpoint of the launcher's call), and a second requeue on SIGUSR1 from
    Lightning, with its hpc_ckpt files beside ckpt_path=auto's last.ckpt, would fight it."""
    if "SUBMITIT_FOLDER" in os.environ and SLURMEnvironment.detect():
        return {"plugins": [SLURMEnvironment(auto_requeue=False)]}
    return {}


@rank_zero_only
def describe_wandb_run(logger: WandbLogger, cfg: DictConfig) -> None:
    """The resolved config (W&B filters on model.adv_weight, ...) and the `epoch` axis of the measured keys."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    run = logger.experiment
    run.config.update(resolved, allow_val_change=True)
    run.define_metric("epoch")
    for stage in ("val", "test"):
        run.define_metric(f"{stage}/*", step_metric="epoch")


def evaluation_setup(cfg: DictConfig) -> tuple[DictConfig, RestorationDataModule, Restorer]:
    """For evaluate and traverse: (the checkpoint's training config + `cfg.model` (+model.KEY=VALUE: any key of
    the checkpoint's model config, e.g. a diffusion sampler's steps) + the `cfg.overrides` dotlist, its data with the
    `cfg.split` pairs built, its restorer with the checkpoint's weights), seeded by the training seed."""
    if cfg.split not in ("val", "test"):
        raise ConfigError(f"split must be 'val' or 'test', got {cfg.split!r}")
    checkpoint, train_cfg = checkpoint_config(cfg.ckpt_path, OmegaConf.create({"model": cfg.model}))
    upgrade_measurement(train_cfg)
    train_cfg = OmegaConf.merge(train_cfg, OmegaConf.from_dotlist(list(cfg.overrides)))
    train_cfg.paths = cfg.paths
    pl.seed_everything(train_cfg.seed, workers=True)
    datamodule = build_datamodule(train_cfg, stage=cfg.split)
    model = restorer_with_weights(checkpoint, train_cfg, f"ckpt_path={cfg.ckpt_path}")
    check_channels(model, datamodule)
    return train_cfg, datamodule, model


SUBSET_KEYS = ("num_images", "num_samples", "patch_size", "features", "batch_size", "seed")
ENGINE = "tradeoffs.metrics.engine.MeasurementEngine"
OLD_CALLBACK = "tradeoffs.callbacks.tradeoff_metrics.TradeoffMetrics"  # what conf/metrics built before the engine did


def upgrade_measurement(train_cfg: DictConfig) -> None:
    """Checkpoints whose metrics config built the callback get the engine with the same settings; those written
    before the engine (a metrics config without `measures`) are measured with today's conf/metrics/default.yaml and
    their own subset settings, and get today's panel and table callbacks."""
    metrics = train_cfg.get("metrics")
    if metrics is None:
        return
    if "measures" in metrics:
        if metrics.get("_target_") == OLD_CALLBACK:
            metrics._target_ = ENGINE
        return
    kept = {k: metrics[k] for k in SUBSET_KEYS if k in metrics}
    logging.getLogger(__name__).warning(
        "the checkpoint's metrics config predates metrics.measures: measuring with conf/metrics/default.yaml and %s",
        ", ".join(f"{k}={v}" for k, v in kept.items()),
    )
    defaults = OmegaConf.load(Path(CONFIG_DIR) / "callbacks" / "default.yaml")
    with open_dict(train_cfg):
        train_cfg.metrics = OmegaConf.merge(OmegaConf.load(Path(CONFIG_DIR) / "metrics" / "default.yaml"), kept)
        for name in ("image_panels", "epoch_table"):
            if OmegaConf.select(train_cfg, f"callbacks.{name}") is None:
                train_cfg.callbacks = OmegaConf.merge(train_cfg.get("callbacks") or {}, {name: defaults[name]})


def reported_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """What a trained run reports: the values Lightning holds from the last logging (floats) and the constants the
    measurement callback keeps apart (real-vs-real floors, closed forms)."""
    metrics = scalar_metrics(trainer.callback_metrics)
    for callback in trainer.callbacks:
        if isinstance(callback, TradeoffMetrics):
            metrics |= callback.constants
    return metrics


def higher_is_better(trainer: pl.Trainer, model: Restorer) -> list[str]:
    """The trained run's logged keys where higher is better: the module's whole-set torchmetrics (PSNR, SSIM) and
    what the measures declare; recorded in results.json so the curve tool orients Pareto fronts."""
    keys = [
        name
        for metrics in (getattr(model, "val_metrics", None), getattr(model, "test_metrics", None))
        if metrics is not None
        for name, metric in metrics.items(keep_base=False)
        if metric.higher_is_better
    ]
    for callback in trainer.callbacks:
        if isinstance(callback, TradeoffMetrics):
            keys += callback.maximized()
    return sorted(set(keys))


def export_restorations(
    model: Restorer, datamodule: RestorationDataModule, train_cfg: DictConfig, split: str, num_samples: int, out: Path
) -> Path:
    """Write the measured subset of `split` as evaluate_outputs and PUQ read it: `clean/<id>.png`,
    `reference/<id>.png` (perception's reference set), `observed/<id>.png` (the observation in image space) and
    `samples/<id>/<k>.png`, the K = num_samples restorations the metrics draw (same generator, same batches)."""
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"export_dir={out} is not empty: choose a new directory (nothing is overwritten)")
    if not train_cfg.get("metrics"):
        raise ConfigError("export_samples: the checkpoint has no metrics config to choose the measured subset from")
    engine = instantiate(OmegaConf.merge(train_cfg.metrics, {"num_samples": num_samples}))
    subset = engine.subset(datamodule.pairs(split), split)
    index = 0
    for xb, _, observed, samples, _ in engine.restorations(model, subset.x, subset.y):
        for clean, seen, draws in zip(xb, observed, samples, strict=True):
            name = f"{index:05d}"
            write_image(out / "clean" / f"{name}.png", clean)
            write_image(out / "observed" / f"{name}.png", seen)
            for k, draw in enumerate(draws):
                write_image(out / "samples" / name / f"{k}.png", draw)
            index += 1
    for i, clean in enumerate(subset.reference if subset.reference is not None else []):
        write_image(out / "reference" / f"{i:05d}.png", clean)
    return out


def measurement_engine(train_cfg: DictConfig, posthoc_critic: bool = False) -> MeasurementEngine | None:
    """The engine of the run's `metrics` config (None for metrics=none); `posthoc_critic` switches the post-hoc
    critic on."""
    metrics_cfg = train_cfg.get("metrics")
    if not metrics_cfg:
        return None
    if posthoc_critic:
        if "critic_w1" not in (metrics_cfg.get("measures") or {}):
            raise ConfigError("posthoc_critic=true: the checkpoint's metrics have no measures.critic_w1 entry")
        metrics_cfg = OmegaConf.merge(metrics_cfg, {"measures": {"critic_w1": {"every_n_epochs": 1}}})
    return instantiate(metrics_cfg)


def listeners(train_cfg: DictConfig, output_dir: Path) -> list[MeasurementListener]:
    """The run's image panels and epoch table, writing into output_dir."""
    nodes = (OmegaConf.select(train_cfg, f"callbacks.{name}") for name in ("image_panels", "epoch_table"))
    return [instantiate(node, output_dir=str(output_dir)) for node in nodes if node is not None]


def measure_restorer(
    restorer: MeasuredRestorer,
    datamodule: RestorationDataModule,
    train_cfg: DictConfig,
    output_dir: Path,
    split: str,
    accelerator: str = "auto",
    posthoc_critic: bool = False,
) -> tuple[dict[str, float], list[str]]:
    """One measurement of a restorer nothing trains, without a trainer: the whole split's one-sample distortion and
    the run's measures on their subset, with the run's panels and epoch table writing into output_dir. Returns the
    values as a trained run reports them (measured values rounded to float32 as Lightning logs them, then the
    constants) and the keys where higher is better."""
    if hasattr(restorer, "to"):
        restorer.to(device_for(accelerator))
    pairs = datamodule.pairs(split)
    distortion, maximized = split_distortion(restorer, pairs.x, pairs.y, datamodule.val_batch_size, split)
    varying, constants = dict(distortion), {}
    engine = measurement_engine(train_cfg, posthoc_critic)
    if engine is not None:
        subset = prepared_subset(engine, pairs, split)
        closed_forms = gaussian_closed_forms(datamodule.source, datamodule.degradation)
        heard = [listener.on_measured for listener in listeners(train_cfg, output_dir)]
        measured = measure(engine, subset, split, restorer=restorer, closed_forms=closed_forms, listeners=heard)
        constants = {k: v for k, v in measured.values.items() if is_constant(k)}
        varying |= {k: torch.tensor(v, dtype=torch.float32) for k, v in measured.values.items() if k not in constants}
        maximized += engine.maximized(split)
    return scalar_metrics(varying) | constants, sorted(set(maximized))


def device_for(accelerator: str) -> torch.device:
    """The device `accelerator` names: `auto` is CUDA when there is one."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError(f"accelerator={accelerator}: no CUDA device is visible")
        return torch.device("cuda")
    if accelerator not in ("auto", "cpu"):
        raise ConfigError(f"accelerator={accelerator}: use auto, cpu or gpu")
    return torch.device("cpu")
