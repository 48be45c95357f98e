# One command sets up and runs the main job (make demo); one sets up and runs the tests (make test).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install install-serving system-deps test test-fast demo bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q "uv==$(UV_VERSION)"
	$(UV) pip install -q -p $(PY) -r requirements.lock
	$(UV) pip install -q -p $(PY) --no-deps -e .
	touch $@

# The scoring service alone (what its container installs): no Prefect, no Evidently.
install-serving:
	$(PYTHON) -m venv $(VENV)-serving
	$(VENV)-serving/bin/pip install -q "uv==$(UV_VERSION)"
	$(VENV)-serving/bin/uv pip install -q -p $(VENV)-serving/bin/python -r requirements-serving.lock
	$(VENV)-serving/bin/uv pip install -q -p $(VENV)-serving/bin/python --no-deps .

# System packages the tests run for real: Prometheus and promtool (docker/prometheus is checked and
# scraped by tests/stack/test_observability.py). Installed only when missing; needs root and the Debian mirror.
system-deps:
	@if [ -x /usr/bin/promtool ] && [ -x /usr/bin/prometheus ]; then \
		echo "system-deps: prometheus and promtool are installed"; \
	else \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; \
		if [ -d /run/systemd/system ]; then systemctl disable --now prometheus; \
		elif /etc/init.d/prometheus status > /dev/null 2>&1; then /etc/init.d/prometheus stop; fi; \
	fi

# Test modules are spread over two worker processes (most of the suite waits on services and subprocesses).
PYTEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test-fast: install
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

demo: install
	$(VENV)/bin/xfmr demo

bench: install
	$(PY) benchmarks/bench_foundation.py

lock: $(VENV)/.installed
	$(UV) pip compile pyproject.toml --extra serving --extra pipeline --extra dev -p 3.11 --no-header -o requirements.lock
	$(UV) pip compile pyproject.toml --extra serving -p 3.11 --no-header -o requirements-serving.lock

clean:
	rm -rf $(VENV) $(VENV)-serving .pytest_cache build *.egg-info
