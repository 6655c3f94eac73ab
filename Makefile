# The two commands: `make run` (play the demo) and `make test` (the whole suite).
# Both install what is missing first: Debian packages, the virtualenv, the demo image.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
KUBEPLAY := $(VENV)/bin/kubeplay
CACHE := .cache
ROOTFS_TAR := $(CACHE)/busybox-rootfs.tar
DEMO_IMAGE := localhost/kubeplay/busybox:latest

.PHONY: run test lint unit e2e bench deps host-deps venv bytecode demo-image down clean

deps: host-deps venv

host-deps:
	@scripts/host-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=compat
	@touch $@

# Byte-compile kubeplay (also where PYTHONDONTWRITEBYTECODE is set): start-up time matters.
bytecode: venv
	@$(PY) -m compileall -q kubeplay
	@$(PY) -m kubeplay.codecache >/dev/null

$(ROOTFS_TAR): scripts/busybox-rootfs.sh
	@mkdir -p $(CACHE)
	@scripts/busybox-rootfs.sh $@

demo-image: deps bytecode $(ROOTFS_TAR)
	@$(KUBEPLAY) image import $(ROOTFS_TAR) $(DEMO_IMAGE) --change 'CMD ["/bin/sh"]' >/dev/null

run: demo-image
	@$(KUBEPLAY) play --replace manifests/demo.yaml
	@scripts/demo-info.sh $(KUBEPLAY)

down:
	@$(KUBEPLAY) down manifests/demo.yaml

lint: deps
	$(VENV)/bin/ruff check kubeplay tests e2e bench
	$(VENV)/bin/ruff format --check kubeplay tests e2e bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: deps
	$(VENV)/bin/pytest -q tests

e2e: deps $(ROOTFS_TAR)
	KUBEPLAY_TEST_ROOTFS=$(abspath $(ROOTFS_TAR)) $(VENV)/bin/pytest -q -n 2 e2e

test: lint $(ROOTFS_TAR)
	KUBEPLAY_TEST_ROOTFS=$(abspath $(ROOTFS_TAR)) $(VENV)/bin/pytest -q -p no:cacheprovider -n 2 tests e2e

bench: demo-image
	$(PY) bench/run.py
	$(PY) bench/targets.py
	$(PY) bench/net.py
	$(PY) bench/generate.py
	$(PY) bench/pull.py
	$(PY) bench/supervisor.py
	$(PY) bench/check.py
	$(PY) bench/apply_plan.py
	$(PY) bench/fuzz.py
	$(PY) bench/teardown.py
	$(PY) bench/services.py
	$(PY) bench/service_latency.py

clean:
	rm -rf $(VENV) $(CACHE)
