# The two commands of the README:
#   make demo   sets everything up, starts the local dev cloud (with compute when RabbitMQ and
#               MariaDB are there or can be installed), traces `openstack image list` and
#               `openstack server create --wait` and writes an HTML report (tools/demo.sh)
#   make test   installs what the tests need, then lint, type checks and the whole test suite
#               against a real dev cloud (.ci/run calls exactly this)

PYTHON ?= python3
VENV ?= .venv
DEVCLOUD_DIR ?= $(CURDIR)/.devcloud
DEVCLOUD_DB ?= $(DEVCLOUD_DIR)/stacktap.db
BIN = $(VENV)/bin
STACKTAP = $(BIN)/stacktap

.PHONY: demo test venv tools lint typecheck pytest devcloud-down clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

tools: venv
	bash tools/install-test-tools.sh

demo: venv
	STACKTAP=$(STACKTAP) DEVCLOUD_DIR=$(DEVCLOUD_DIR) DEVCLOUD_DB=$(DEVCLOUD_DB) \
	    DEMO_REPORT=demo-report.html bash tools/demo.sh

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# NOTE: the dev cloud is brought up by the pytest session fixture (or reused if already up);
# a cloud this target found down is stopped again at the end, so CI leaves nothing running.
test: venv tools lint typecheck
	@was_up=0; $(STACKTAP) devcloud status --dir $(DEVCLOUD_DIR) >/dev/null 2>&1 && was_up=1; \
	STACKTAP_TEST_DEVCLOUD_DIR=$(DEVCLOUD_DIR) $(BIN)/pytest; rc=$$?; \
	if [ $$was_up = 0 ]; then $(STACKTAP) devcloud down --dir $(DEVCLOUD_DIR) >/dev/null 2>&1 || true; fi; \
	exit $$rc

devcloud-down: venv
	$(STACKTAP) devcloud down --dir $(DEVCLOUD_DIR)

clean:
	rm -rf $(VENV) tools/node_modules artifacts .pytest_cache .mypy_cache .ruff_cache
