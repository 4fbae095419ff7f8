# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv first when it is missing or stale.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo demo-seeds demo-own-network demo-diffusion demo-diffusion-lambda demo-diffusion-seeds demo-flow demo-flow-seeds oracle oracle-diffusion oracle-flow train test test-fast test-cluster lint layers format clean constraints

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create/refresh the virtualenv (.venv) from pyproject.toml + constraints.txt

DEMO_DIR ?= logs/demo
SEED     ?= 0
# A readable console: one line per job as it starts and ends; Lightning's messages, model tables and warnings go to
# each run's train.log only.
QUIET       := hydra/job_logging=summary hydra/hydra_logging=summary
QUIET_TRAIN := $(QUIET) '~callbacks.progress_bar' ++trainer.enable_progress_bar=false
export WANDB_SILENT := true

demo: $(STAMP)  ## λ sweep of stochastic denoising GANs on scikit-learn's digits + references + classical baselines + curves (CPU, ~6 min)
	$(BIN)/python -m tradeoffs.train experiment=demo seed=$(SEED) model.adv_weight=0 ckpt_path=auto \
		hydra.run.dir=$(DEMO_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.train -m experiment=demo seed=$(SEED) sweep=demo hydra/launcher=devices \
		model.warm_start=$(DEMO_DIR)/base/checkpoints/last.ckpt hydra.sweep.dir=$(DEMO_DIR)/sweep $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.traverse traversal=references ckpt_path=$(DEMO_DIR)/base/checkpoints/last.ckpt \
		hydra.run.dir=$(DEMO_DIR)/references $(QUIET)
	$(BIN)/python -m tradeoffs.baselines experiment=demo seed=$(SEED) hydra.run.dir=$(DEMO_DIR)/baselines $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.curve $(DEMO_DIR)/sweep $(DEMO_DIR)/references $(DEMO_DIR)/baselines
	@echo "curves: $(DEMO_DIR)/sweep/perception_distortion.png (.svg), uncertainty_*.png, strip.png; table: $(DEMO_DIR)/sweep/tradeoff.csv"

demo-seeds: $(STAMP)  ## the demo for seeds 0, 1, 2 (logs/demo_seeds/seedN) and the checks of its claims across them
	bash scripts/demo_seeds.sh

OWN_DIR ?= logs/demo_own_network

demo-own-network: $(STAMP)  ## your network on the demo (examples/networks.py): λ = 0, then a λ sweep from its weights + curves (CPU)
	$(BIN)/python -m tradeoffs.train experiment=demo_own_network seed=$(SEED) model.adv_weight=0 ckpt_path=auto \
		hydra.run.dir=$(OWN_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.train -m experiment=demo_own_network seed=$(SEED) sweep=demo hydra/launcher=devices \
		model.external.weights=$(OWN_DIR)/base/checkpoints/last.ckpt model.external.weights_key=state_dict \
		model.external.weights_prefix=ema.module. hydra.sweep.dir=$(OWN_DIR)/sweep $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.curve $(OWN_DIR)/sweep $(wildcard $(DEMO_DIR)/sweep)

ORACLE_DIR ?= logs/oracle

oracle: $(STAMP)  ## Gaussian denoising: λ sweep + Freirich family against the closed-form D(P) and U(P) (CPU, ~11 min)
	$(BIN)/python -m tradeoffs.train experiment=gaussian_oracle seed=$(SEED) model.adv_weight=0 ckpt_path=auto \
		hydra.run.dir=$(ORACLE_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.train -m experiment=gaussian_oracle seed=$(SEED) sweep=gaussian_oracle hydra/launcher=devices \
		model.warm_start=$(ORACLE_DIR)/base/checkpoints/last.ckpt hydra.sweep.dir=$(ORACLE_DIR)/sweep $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.traverse traversal=transport ckpt_path=$(ORACLE_DIR)/base/checkpoints/last.ckpt \
		traversal.fit_images=40000 'traversal.alpha=[0,0.25,0.5,0.75,1]' hydra.run.dir=$(ORACLE_DIR)/freirich $(QUIET)
	$(BIN)/python -m tradeoffs.curve $(ORACLE_DIR)/sweep $(ORACLE_DIR)/freirich --x val/perception/w2
	$(BIN)/python scripts/oracle_summary.py $(ORACLE_DIR)/sweep

ORACLE_DIFFUSION_DIR ?= logs/oracle_diffusion
ORACLE_DIFFUSION_CKPT = $(ORACLE_DIFFUSION_DIR)/base/checkpoints/last.ckpt

oracle-diffusion: $(STAMP)  ## a diffusion restorer on the Gaussian oracle: steps and the mean of k against their closed forms (CPU, ~12 min)
	$(BIN)/python -m tradeoffs.train experiment=gaussian_oracle_diffusion seed=$(SEED) ckpt_path=auto \
		hydra.run.dir=$(ORACLE_DIFFUSION_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(ORACLE_DIFFUSION_CKPT) sweep=sampler_steps \
		'+model.sampler.steps=1,4,16,64,250,1000' hydra.sweep.dir=$(ORACLE_DIFFUSION_DIR)/steps $(QUIET)
	$(BIN)/python -m tradeoffs.traverse traversal=averaging ckpt_path=$(ORACLE_DIFFUSION_CKPT) 'traversal.k=[1,2,4,8]' \
		'overrides=["metrics.num_samples=1"]' hydra.run.dir=$(ORACLE_DIFFUSION_DIR)/averaging $(QUIET)
	$(BIN)/python -m tradeoffs.curve $(ORACLE_DIFFUSION_DIR)/steps $(ORACLE_DIFFUSION_DIR)/averaging \
		$(wildcard $(ORACLE_DIR)/sweep) --x val/perception/w2
	$(BIN)/python scripts/oracle_diffusion_summary.py $(ORACLE_DIFFUSION_DIR)

ORACLE_FLOW_DIR ?= logs/oracle_flow
ORACLE_BASE_CKPT = $(ORACLE_DIR)/base/checkpoints/last.ckpt

oracle-flow: $(STAMP)  ## PMRF on the Gaussian oracle (stage 1: make oracle's λ = 0 model): t_end against D(P) (CPU, ~7 min)
	$(BIN)/python -m tradeoffs.train experiment=gaussian_oracle seed=$(SEED) model.adv_weight=0 ckpt_path=auto \
		hydra.run.dir=$(ORACLE_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.train experiment=gaussian_oracle_flow seed=$(SEED) ckpt_path=auto \
		model.posterior_mean.ckpt_path=$(ORACLE_BASE_CKPT) hydra.run.dir=$(ORACLE_FLOW_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(ORACLE_FLOW_DIR)/base/checkpoints/last.ckpt sweep=flow_t_end \
		hydra.sweep.dir=$(ORACLE_FLOW_DIR)/t_end $(QUIET)
	$(BIN)/python -m tradeoffs.curve $(ORACLE_FLOW_DIR)/t_end $(wildcard $(ORACLE_DIR)/sweep $(ORACLE_DIR)/freirich) \
		$(wildcard $(ORACLE_DIFFUSION_DIR)/steps) --x val/perception/w2
	$(BIN)/python scripts/oracle_flow_summary.py $(ORACLE_FLOW_DIR)

DIFFUSION_DIR ?= logs/demo_diffusion
DIFFUSION_CKPT = $(DIFFUSION_DIR)/base/checkpoints/last.ckpt

demo-diffusion: $(STAMP)  ## one diffusion model on the demo's digits: sampling steps, DDIM η, mean of k samples + curves (CPU)
	$(BIN)/python -m tradeoffs.train experiment=demo_diffusion seed=$(SEED) ckpt_path=auto hydra.run.dir=$(DIFFUSION_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(DIFFUSION_CKPT) sweep=sampler_steps '+model.sampler.steps=1,2,4,8,16,32' \
		hydra.sweep.dir=$(DIFFUSION_DIR)/steps $(QUIET)
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(DIFFUSION_CKPT) sweep=sampler_eta '+model.sampler.eta=0,0.5,1' \
		hydra.sweep.dir=$(DIFFUSION_DIR)/eta $(QUIET)
	$(BIN)/python -m tradeoffs.traverse traversal=averaging ckpt_path=$(DIFFUSION_CKPT) 'overrides=["metrics.num_samples=1"]' \
		hydra.run.dir=$(DIFFUSION_DIR)/averaging $(QUIET)
	$(BIN)/python -m tradeoffs.traverse traversal=references ckpt_path=$(DIFFUSION_CKPT) \
		hydra.run.dir=$(DIFFUSION_DIR)/references $(QUIET)
	$(BIN)/python -m tradeoffs.curve $(DIFFUSION_DIR)/steps $(DIFFUSION_DIR)/eta $(DIFFUSION_DIR)/averaging \
		$(DIFFUSION_DIR)/references $(wildcard $(DEMO_DIR)/sweep)
	@echo "curves: $(DIFFUSION_DIR)/steps/perception_distortion.png (steps, η, k; the GAN demo's λ when $(DEMO_DIR) exists)"

DIFFUSION_LAMBDAS   ?= 0.01 0.1
DIFFUSION_FT_EPOCHS ?= 3

demo-diffusion-lambda: $(STAMP)  ## after make demo-diffusion: fine-tune its model with λ (adversarial loss on x̂0), measured at 1, 2, 32 steps
	$(foreach w,$(DIFFUSION_LAMBDAS),$(BIN)/python -m tradeoffs.train experiment=demo_diffusion seed=$(SEED) \
		model.adv_weight=$(w) model.warm_start=$(DIFFUSION_CKPT) trainer.max_epochs=$(DIFFUSION_FT_EPOCHS) ckpt_path=auto \
		hydra.run.dir=$(DIFFUSION_DIR)/finetune_lambda$(w) $(QUIET_TRAIN) && \
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(DIFFUSION_DIR)/finetune_lambda$(w)/checkpoints/last.ckpt \
		sweep=sampler_steps '+model.sampler.steps=1,2,32' hydra.sweep.dir=$(DIFFUSION_DIR)/lambda$(w) $(QUIET) &&) true
	$(BIN)/python -m tradeoffs.curve $(DIFFUSION_DIR)/steps $(foreach w,$(DIFFUSION_LAMBDAS),$(DIFFUSION_DIR)/lambda$(w)) \
		$(DIFFUSION_DIR)/references --out $(DIFFUSION_DIR)/lambda_planes
	@echo "curves: $(DIFFUSION_DIR)/lambda_planes/perception_distortion.png (steps of the λ = 0 model and of each fine-tuned one)"

FLOW_DIR ?= logs/demo_flow

demo-flow: $(STAMP)  ## after make demo (stage 1: its λ = 0 model): PMRF on the digits, t_end 0.25…1, beside the GAN and diffusion (CPU)
	$(BIN)/python -m tradeoffs.train experiment=demo_flow seed=$(SEED) ckpt_path=auto \
		model.posterior_mean.ckpt_path=$(DEMO_DIR)/base/checkpoints/last.ckpt hydra.run.dir=$(FLOW_DIR)/base $(QUIET_TRAIN)
	$(BIN)/python -m tradeoffs.evaluate -m ckpt_path=$(FLOW_DIR)/base/checkpoints/last.ckpt sweep=flow_t_end \
		hydra.sweep.dir=$(FLOW_DIR)/t_end $(QUIET)
	$(BIN)/python -m tradeoffs.curve $(FLOW_DIR)/t_end $(wildcard $(DIFFUSION_DIR)/steps $(DEMO_DIR)/sweep $(DEMO_DIR)/references)
	@echo "curves: $(FLOW_DIR)/t_end/perception_distortion.png (t_end; the diffusion steps and the GAN λ when they exist)"

SEEDS ?= 0 1 2
DIFFUSION_SEEDS_DIR ?= logs/demo_diffusion_seeds
DEMO_SEEDS_DIR ?= logs/demo_seeds
GAN_SEED_SWEEPS = $(wildcard $(foreach seed,$(SEEDS),$(DEMO_SEEDS_DIR)/seed$(seed)/sweep))

demo-diffusion-seeds: $(STAMP)  ## make demo-diffusion for seeds 0, 1, 2 and the checks of its claims (beside make demo-seeds' GANs)
	$(foreach seed,$(SEEDS),$(MAKE) --no-print-directory demo-diffusion SEED=$(seed) \
		DIFFUSION_DIR=$(DIFFUSION_SEEDS_DIR)/seed$(seed) DEMO_DIR=$(DEMO_SEEDS_DIR)/seed$(seed) &&) true
	$(BIN)/python scripts/demo_diffusion_summary.py $(foreach seed,$(SEEDS),$(DIFFUSION_SEEDS_DIR)/seed$(seed)) \
		$(if $(GAN_SEED_SWEEPS),--gan $(GAN_SEED_SWEEPS))

FLOW_SEEDS_DIR ?= logs/demo_flow_seeds

demo-flow-seeds: $(STAMP)  ## make demo-flow for seeds 0, 1, 2 on make demo-seeds' stage 1 and the checks of its claims
	$(foreach seed,$(SEEDS),$(MAKE) --no-print-directory demo-flow SEED=$(seed) FLOW_DIR=$(FLOW_SEEDS_DIR)/seed$(seed) \
		DEMO_DIR=$(DEMO_SEEDS_DIR)/seed$(seed) DIFFUSION_DIR=$(DIFFUSION_SEEDS_DIR)/seed$(seed) &&) true
	$(BIN)/python scripts/demo_flow_summary.py $(foreach seed,$(SEEDS),$(FLOW_SEEDS_DIR)/seed$(seed))

train: $(STAMP)  ## train with ARGS="experiment=... model.adv_weight=..." (Hydra overrides)
	$(BIN)/python -m tradeoffs.train $(ARGS)

test: $(STAMP)  ## run the test suite (CPU, offline, W&B offline)
	WANDB_MODE=offline $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)  ## unit tests only (skips end-to-end CLI runs)
	WANDB_MODE=offline $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-cluster: $(STAMP)  ## SLURM tests: starts a one-node cluster with accounting (root: scripts/slurm_local.sh)
	bash scripts/slurm_local.sh
	TRADEOFFS_SLURM=1 WANDB_MODE=offline $(BIN)/python -m pytest -m cluster $(PYTEST_ARGS)

lint: $(STAMP) layers  ## ruff check + format check + layers
	$(BIN)/ruff check src tests scripts examples
	$(BIN)/ruff format --check src tests scripts examples

layers: $(STAMP)  ## check the import layers of DESIGN.md (import-linter contracts in pyproject.toml)
	$(BIN)/lint-imports --no-cache

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests scripts examples
	$(BIN)/ruff format src tests scripts examples

constraints: $(STAMP)  ## re-pin constraints.txt from the current venv
	{ echo "# Pinned versions that 'make' installs (pip install -c constraints.txt). Regenerate with 'make constraints'."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:  ## remove the virtualenv and caches (never touches logs/: your runs; rm -rf logs/demo to redo the demo)
	rm -rf $(VENV) .pytest_cache .ruff_cache build src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
