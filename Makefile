# Two commands set up and run everything on a fresh clone: `make synth` and `make test`.
# Needs only Python 3.11, Node/npm and Java on the machine; everything else is installed here, pinned.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# node_modules/.bin first: the pinned CDK CLI and Node 22 (jsii warns on the machine's Node 20).
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/uv/bin/uv
ENV ?= dev
EVENTS ?= 20000
CDK_OUT ?=
APPROVAL ?= broadening
REGION ?=
STACKS ?=
# Stack names are <project>-<env>-<component>; `make deploy` and `make diff` select ENV's by that prefix.
PROJECT = $(shell $(PYTHON) -c 'import json; print(json.load(open("cdk.json"))["context"]["datalake"]["project"])')

.PHONY: help install synth test run-local diff deploy check-deployment lint format bench bench-etl bench-twin bench-history capacity cost diagram clean

help:
	@echo "make synth [ENV=dev|prod]  install, synthesize every stack, run cdk-nag and the template scanners"
	@echo "make test                  install, ruff + mypy, the whole pytest suite"
	@echo "make run-local [ENV=dev|prod] [EVENTS=n] [CDK_OUT=dir]"
	@echo "                           run the synthesized app end to end on this machine (the local twin)"
	@echo "make diff | deploy | check-deployment [ENV=dev|prod]"
	@echo "                           after make synth, with AWS credentials: cdk diff, cdk deploy"
	@echo "                           [APPROVAL=never], read-only checks of the deployed outputs"
	@echo "make cost                  idle monthly cost of every environment, from its synthesized templates"
	@echo "make diagram               regenerate docs/architecture.md (Mermaid) from the synthesized dev app"
	@echo "make lint | format | bench | bench-etl | bench-twin | bench-history | capacity | clean"

$(UV):
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: uv does not compile installed packages by default, and where
# PYTHONDONTWRITEBYTECODE is set (common in CI and container images) Python then recompiles from source
# every module each process imports: for a synth, ~32 MB of aws-cdk-lib's generated Python (aws_ec2
# alone 7.4 MB), which more than doubles synth time (benchmarks/synth_time.py measures it); checkov too.
.venv/.synced: $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --quiet --compile-bytecode
	touch $@

.tools/checkov/.synced: $(UV) .ci/checkov/pyproject.toml .ci/checkov/uv.lock Makefile
	cd .ci/checkov && UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/checkov $(CURDIR)/$(UV) sync --frozen --quiet \
		--compile-bytecode
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v22\.' || { echo "node_modules/.bin/node is not Node 22"; exit 1; }
	touch $@

install: .venv/.synced .tools/checkov/.synced node_modules/.installed

synth: install
	rm -rf cdk.out
	cdk synth --quiet -c env=$(ENV)
	python -m tests.validators cdk.out

# Deployment (README, "Deploy"); the GitHub workflows and the CDK pipeline call these same targets.
# STACKS: which stacks of cdk.out (a pipeline's stage: 'datalake-pipeline/Prod/*').
diff: install  ## cdk diff of ENV's stacks against the deployed ones, into cdk.out/diff-ENV.txt
	@test -f cdk.out/manifest.json || { echo "run make synth ENV=$(ENV) first"; exit 1; }
	cdk diff --app cdk.out --method=template "$(or $(STACKS),$(PROJECT)-$(ENV)-*)" 2>&1 \
		| tee cdk.out/diff-$(ENV).txt

deploy: install  ## cdk deploy of ENV's stacks from the synthesized cdk.out (APPROVAL=never in CI)
	@test -f cdk.out/manifest.json || { echo "run make synth ENV=$(ENV) first"; exit 1; }
	cdk deploy --app cdk.out --require-approval $(APPROVAL) "$(PROJECT)-$(ENV)-*"

check-deployment: .venv/.synced  ## read-only checks of ENV's deployed resources through its outputs
	python tools/check_deployment.py --env $(ENV) $(if $(REGION),--region $(REGION))

lint: install
	ruff check .
	ruff format --check .
	mypy

format: install
	ruff check --fix .
	ruff format .

test: lint
	python -m pytest

# The local twin (docs/local-twin.md): synthesizes ENV into .twin/cdk.out.ENV (or takes CDK_OUT as it
# is), runs the default scenario and leaves the zones in .twin/ENV/s3. Exits non-zero when a run
# fails, the reconciliation breaks or a permission is denied.
run-local: install
ifeq ($(strip $(CDK_OUT)),)
	rm -rf .twin/cdk.out.$(ENV)
	cdk synth --quiet -c env=$(ENV) -o .twin/cdk.out.$(ENV)
	python -m local_twin --cdk-out .twin/cdk.out.$(ENV) --env $(ENV) --events $(EVENTS) --workdir .twin/$(ENV)
else
	python -m local_twin --cdk-out $(CDK_OUT) --env $(ENV) --events $(EVENTS) --workdir .twin/$(ENV)
endif

bench: install  ## synth time vs an empty app; transform Lambda throughput and import time
	python benchmarks/synth_time.py
	python benchmarks/transform_throughput.py

bench-etl: install  ## raw_to_processed on 1M events vs a plain Spark floor; consumer bytes scanned (minutes)
	python benchmarks/etl_benchmark.py

bench-twin: install  ## the default local-twin run's stage timings, synth and Spark start included
	python benchmarks/local_twin_run.py --env $(ENV) --events $(EVENTS)

bench-history: install  ## one new day's pipeline work on 1, 30 and 365 days of history, both designs (minutes)
	python benchmarks/history_scaling.py

capacity: install  ## capacity plan at 1k/100k/1M events/s: first quota reached, configuration, monthly cost
	python benchmarks/capacity.py $(CAPACITY_ARGS)

cost: install  ## idle USD/month per environment, synthesized into a temp dir; COST_ARGS=--markdown for the README
	python benchmarks/idle_cost.py $(COST_ARGS)

diagram: install  ## synthesizes dev into a temp dir and regenerates docs/architecture.md
	python tools/architecture.py --env dev --output docs/architecture.md

clean:
	rm -rf cdk.out .twin .venv .tools node_modules .pytest_cache .mypy_cache .ruff_cache
