# Two commands on a fresh machine: `make run` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
INI ?= development.ini
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 xmlsec1 libxmlsec1-openssl fonts-dejavu-core fonts-noto-cjk poppler-utils chromium zbar-tools libmagic1
# the production shape on one machine (make prod-local) also needs the proxy
PROD_DEBIAN_PACKAGES := nginx
# the benchmarks load the floor and the portal with wrk (make bench; make test checks the
# portal's wrk script)
BENCH_DEBIAN_PACKAGES := wrk

CATALOGS := $(wildcard portal/locale/*/LC_MESSAGES/portal.po)

.PHONY: run prod-local setup test bench check-system check-prod-system check-bench-system venv venv-test assets translations catalogue migrate demo-data dev-keys lint clean

run: setup
	$(VENV)/bin/honcho -f Procfile.dev start

# The production shape on one machine (README, "Deploying"): nginx on :8080 in front of two
# app servers and two task workers, on Redis and a fresh PostgreSQL database, from deploy/.
prod-local: check-prod-system venv assets translations dev-keys
	$(PY) -m deploy.prod_local

check-prod-system:
	$(call debian-packages,$(PROD_DEBIAN_PACKAGES))

# Everything `make run` does before it starts the processes (.ci/run checks it on a fresh clone).
setup: venv assets translations dev-keys migrate demo-data

# The suite runs in TEST_WORKERS processes (pytest-xdist; each has a database of its own, see
# tests/conftest.py), a worker taking the next test as it finishes one; TEST_WORKERS=0 runs it in
# one process; the 15 slowest tests are named at the end (.ci/run has 30 minutes). PYTEST_ARGS come
# last: `make test PYTEST_ARGS="tests/unit -x"`.
TEST_WORKERS ?= 2

test: check-bench-system venv-test assets translations
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -n $(TEST_WORKERS) $(if $(filter 0,$(TEST_WORKERS)),,--dist worksteal) --durations=15 $(PYTEST_ARGS)

# Issue #13's benchmarks (README, "Benchmarks"), on the PostgreSQL and Redis of .ci/run;
# BENCH_ARGS go to bench/pay_flow.py: `make bench BENCH_ARGS="--seconds 5 --large 100000"`.
bench: check-bench-system venv-test assets translations
	$(PY) bench/pay_flow.py $(BENCH_ARGS)
	$(PY) bench/receipts.py

check-bench-system:
	$(call debian-packages,$(BENCH_DEBIAN_PACKAGES))

# Installs the Debian packages $(1) that are missing when run as root; otherwise names them.
define debian-packages
@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing"; echo "Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi
endef

check-system:
	$(call debian-packages,$(DEBIAN_PACKAGES))
	@command -v npm >/dev/null || { echo "npm is needed to build the USWDS assets: apt-get install npm"; exit 1; }

$(VENV)/.installed: setup.cfg pyproject.toml | check-system
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

static/build/portal.css: node_modules/.installed $(wildcard assets/*.scss)
	npm run --silent build
	# exactly the images the compiled CSS refers to (alert icons, checkboxes, selects)
	for image in $$(grep -o 'img/[^)"]*\.svg' $@ | sort -u); do \
	  install -D -m 644 node_modules/@uswds/uswds/dist/$$image static/uswds/$$image; done
	cp node_modules/@uswds/uswds/LICENSE.md static/uswds/LICENSE.md

# Served gzipped to browsers that accept it (pyramid's static view picks the .gz beside the file).
static/build/portal.css.gz: static/build/portal.css
	gzip -9 --keep --force --no-name $<

assets: static/build/portal.css static/build/portal.css.gz

# Message catalogues are compiled from their .po sources, never committed.
portal/locale/%/LC_MESSAGES/portal.mo: portal/locale/%/LC_MESSAGES/portal.po | venv
	$(VENV)/bin/pybabel -q compile -i $< -o $@ -l $*

translations: $(CATALOGS:.po=.mo)

# Every _() in portal/ and templates/ (babel.cfg) into each catalogue; new messages come in
# untranslated (shown in English) until a translator fills them in.
catalogue: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k pgettext:1c,2 -k npgettext:1c,2,3 --no-wrap --sort-by-file --add-location=file \
	  -o $(VENV)/portal.pot .
	$(VENV)/bin/pybabel update -i $(VENV)/portal.pot -d portal/locale -D portal \
	  --no-fuzzy-matching --no-wrap --ignore-pot-creation-date

dev-keys: venv
	$(PY) -m portal.scripts.dev_keys var

# development.ini keeps its SQLite database under var/, which must exist before the first migration.
migrate: venv
	mkdir -p var
	$(VENV)/bin/alembic -c $(INI) upgrade head

# The demo data is loaded through the portal itself, which reads the keys made by dev-keys.
demo-data: venv dev-keys migrate
	$(VENV)/bin/portal-demo-data $(INI)

lint: venv-test
	$(VENV)/bin/ruff check portal tests alembic bench deploy

clean:
	rm -rf $(VENV) node_modules static/build static/uswds var $(CATALOGS:.po=.mo)
