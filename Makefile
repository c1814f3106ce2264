# The two commands a reader needs:   make book   |   make test
# Both create (or refresh) the virtual environment .venv first. `make book` installs only
# requirements-book.txt (Jupyter Book's stack, no PyTorch: the book renders stored outputs);
# `make test`, `make notebooks` and `make lab` add requirements.txt (PyTorch, the test tools,
# nnlib) to the same venv. Nothing here downloads anything except those two installs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BOOK_STAMP := $(VENV)/.installed-book
BOOK_FLAGS := -W -n --keep-going
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# Tests and notebooks run in parallel, one single-threaded process per core (pytest-xdist):
# the pages' networks are small, so a second process does more than a second thread.
# `--dist loadfile` keeps every cell of a notebook on one worker, in order, in one kernel (and
# every test of a file on one worker). WORKERS=1 runs it all in one process.
WORKERS ?= auto
PARALLEL := -n $(WORKERS) --dist loadfile --no-loadscope-reorder
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# Tools from the venv come first. (MPLBACKEND is left unset: kernels need their inline backend.)
export PATH := $(abspath $(BIN)):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1

CHAPTERS_MD    := $(sort $(wildcard chapters/*.md))
CHAPTERS_IPYNB := $(CHAPTERS_MD:.md=.ipynb)
TEST_FILES     := $(sort $(wildcard tests/*/test_*.py))
# nnlib's own tests: the library's, not the book's (make check, make compat)
LIB_TESTS := $(sort $(wildcard tests/nnlib/test_*.py))
# the book's: its pairs, build, browser, translations, PDF, prose numbers and set-up
BOOK_TESTS := $(sort $(wildcard tests/book/test_*.py))

# The order in which pytest-xdist hands files to its workers (--no-loadscope-reorder keeps it):
# the longest first (benchmarks/bench_book.py), so no worker ends alone on a long page. It
# changes only how long a run takes, never what it checks; a file missing here runs later.
SLOW_FIRST := tests/book/test_pdf.py chapters/13_remedies_over_seeds.ipynb chapters/15_long_lags.ipynb \
  chapters/12_remedies.ipynb \
  chapters/03_activations_in_practice.ipynb \
  tests/book/test_notebooks.py tests/book/test_browser.py chapters/11_vanishing_exploding.ipynb \
  chapters/05_regression_losses.ipynb chapters/02_activation_functions.ipynb
ordered = $(foreach f,$(SLOW_FIRST),$(filter $(f),$(1))) $(filter-out $(SLOW_FIRST),$(1))
NBVAL_FILES := $(call ordered,$(CHAPTERS_IPYNB))
TEST_AND_NBVAL_FILES := $(call ordered,$(CHAPTERS_IPYNB) $(TEST_FILES))

## make help: this list.
.DEFAULT_GOAL := all
help:
	@sed -n 's/^## \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

.PHONY: all help check screenshots venv book pdf pdf-deps test unit test-book nbval nbval-portable lint notebooks notebook lab bench mutation robustness compat reader-env system-deps browser-deps translations clean distclean

all: test

## make venv: create or refresh .venv with everything requirements.txt pins.
venv: $(STAMP)

# What building the HTML needs: Jupyter Book 1.x and its extensions, no PyTorch.
$(BOOK_STAMP): requirements-book.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar off -r requirements-book.txt
	touch $@

# Everything else: PyTorch, the notebook and test tools, nnlib (requirements.txt includes
# requirements-book.txt, so the pins cannot disagree).
$(STAMP): $(BOOK_STAMP) requirements.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --progress-bar off -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (book)" >/dev/null
	touch $@

## make book: build the HTML book into _build/html from the stored, verified notebook outputs,
## and its Chinese edition into _build/html/zh_CN (tools/i18n.py, from locales/zh_CN).
## make book BOOK_REPOSITORY=https://github.com/OWNER/REPO [BOOK_BRANCH=main]: the same, with
## a repository link and Binder and Colab launch buttons on every page (tools/book_config.py).
BOOK_REPOSITORY ?=
BOOK_BRANCH ?= main
# The two editions are built side by side, one per core (each Sphinx build is one process);
# the Chinese one writes only inside _build/html/zh_CN. With BOOK_REPOSITORY, both build from
# _config.repository.yml, written first, so both editions have the buttons.
ifeq ($(strip $(BOOK_REPOSITORY)),)
BOOK_CONFIG :=
else
BOOK_CONFIG := _config.repository.yml
endif
WITH_CONFIG = $(if $(BOOK_CONFIG), --config $(BOOK_CONFIG))
WRITE_CONFIG = $(if $(BOOK_CONFIG),$(BIN)/python -m tools.book_config \
  --repository "$(BOOK_REPOSITORY)" --branch "$(BOOK_BRANCH)" _config.yml > $(BOOK_CONFIG) \
  || exit 1; )
ENGLISH_BUILD = $(BIN)/jupyter-book build $(BOOK_FLAGS)$(WITH_CONFIG) .
BOTH_EDITIONS = $(WRITE_CONFIG)$(BIN)/python -m tools.i18n build$(WITH_CONFIG) & chinese=$$!; \
	echo "$(ENGLISH_BUILD)"; $(ENGLISH_BUILD); english=$$?; \
	wait $$chinese && test $$english = 0
# With BOOK_REPOSITORY, the notebooks a reader downloads from the built book install nnlib
# from that repository at the commit built (tools/install_cell.py).
PIN_NOTEBOOKS = $(if $(BOOK_CONFIG),git diff --quiet HEAD || echo "warning: uncommitted \
  changes: the downloads install nnlib at $$(git rev-parse --short HEAD) without them"; \
  $(BIN)/python -m tools.install_cell pin _build/html \
  --repository "$(BOOK_REPOSITORY)" --commit "$$(git rev-parse HEAD)")
book: $(BOOK_STAMP)
	@$(BOTH_EDITIONS)
	@$(PIN_NOTEBOOKS)
	@echo "Book: $(abspath _build/html/index.html)"

## make pdf: the book as PDF, _build/pdf/book.pdf and its Chinese edition
## _build/pdf/book-zh_CN.pdf, from the same stored outputs (tools/pdf.py: Sphinx's LaTeX
## builder, xelatex through latexmk). The TeX toolchain is Debian's (make pdf-deps).
pdf: $(BOOK_STAMP) pdf-deps
	$(BIN)/python -m tools.pdf

## make pdf-deps: Debian's TeX Live parts that the PDF needs, installed only when missing and
## only as root with apt-get (CI, containers); otherwise the PDF tests are skipped with a
## message (and fail under CI=true), and `make pdf` names what is missing. They are: xelatex,
## latexmk and xindy; the LaTeX packages of Sphinx and jupyterBook.cls (latex-extra); xeCJK
## (lang-chinese); the fonts (FreeSerif, Noto CJK); pdftotext and pdffonts for the tests.
# Debian packages for the PDF and the browser tests, installed by pdf-deps and browser-deps
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
PDF_PACKAGES := texlive-xetex texlive-latex-extra texlive-fonts-recommended texlive-lang-chinese \
  latexmk xindy fonts-freefont-otf fonts-noto-cjk poppler-utils
pdf-deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then :; else \
	  missing=""; for p in $(PDF_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	  done; \
	  if [ -z "$$missing" ]; then :; \
	  elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing for the PDF"; \
	    $(APT_INSTALL) $$missing >/dev/null; \
	  else echo "not installed:$$missing (needed for the PDF; install them as root)"; fi; \
	fi

## make translations: after changing English prose, refresh locales/zh_CN/LC_MESSAGES/*.po
## (new messages empty, changed ones fuzzy); `make test` fails until they are translated.
translations: $(BOOK_STAMP)
	$(BIN)/python -m tools.i18n update

## make test: lint, unit and pipeline tests, strict nbval on every chapter (then again on
## baseline CPU kernels: nbval-portable), then both editions' book builds with warnings as
## errors, side by side as in `make book`. The PDFs are built by tests/book/test_pdf.py, into
## _build/pdf as `make pdf` does, so the book built last links to them. Any failure fails
## the target.
test: $(STAMP) system-deps lint
	@$(SHOW_STRICT)
	$(STRICT_ENV) $(BIN)/python -m pytest $(PARALLEL) $(NBVAL_FLAGS) $(TEST_AND_NBVAL_FILES)
	@$(SHOW_PORTABLE)
	$(NBVAL_PORTABLE)
	@$(BOTH_EDITIONS)

## make nbval-portable: strict nbval again, with PyTorch's and MKL's CPU kernels switched to
## their baseline code paths on one thread, and MKL on its COMPATIBLE code branch. Kernels
## round differently on other CPUs and on GPUs; an output that changes here would change
## there too. The strict pass runs on another MKL branch (STRICT_ENV, tools/mkl_branch.py),
## so a claim that holds on one branch only fails on this machine too. (Cells tagged
## nbval-ignore-output, training runs whose digits depend on the machine, are not compared;
## their asserts still run.)
PORTABLE_ENV := $(ONE_THREAD) ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
  MKL_CBWR=COMPATIBLE
NBVAL_PORTABLE = $(PORTABLE_ENV) $(BIN)/python -m pytest -p no:cacheprovider $(PARALLEL) \
  $(NBVAL_FLAGS) $(NBVAL_FILES)
SHOW_PORTABLE = echo "portable pass: MKL branch $$($(PORTABLE_ENV) $(BIN)/python -m tools.mkl_branch)"
# The strict pass: one thread, and the CPU's own MKL branch unless that is COMPATIBLE
STRICT_MKL = $$($(BIN)/python -m tools.mkl_branch --strict)
STRICT_ENV = env $(ONE_THREAD) $(STRICT_MKL)
SHOW_STRICT = echo "strict pass: MKL branch $$(env $(STRICT_MKL) $(BIN)/python -m tools.mkl_branch)"
nbval-portable: $(STAMP)
	@$(SHOW_PORTABLE)
	$(NBVAL_PORTABLE)

## make system-deps: the Debian packages the tests need (pdf-deps, browser-deps); `make test`
## runs it first. Each says what it installs; nothing is installed unless run as root.
system-deps: pdf-deps browser-deps
	@echo "system-deps: done (anything installed or missing is named above)"

## make browser-deps: Debian's Chromium (and a Chinese font, fonts-noto-cjk, for the Chinese
## edition) for tests/book/test_browser.py. Installed only when
## missing and only as root with apt-get (CI, containers); otherwise the browser tests are
## skipped with a message (and fail under CI=true).
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(APT_INSTALL) chromium >/dev/null; \
	else echo "chromium not found and not installable here: browser tests will be skipped"; fi
	@if [ -n "$$(fc-list :lang=zh family 2>/dev/null)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's fonts-noto-cjk for the Chinese edition's pages"; \
	  $(APT_INSTALL) fonts-noto-cjk >/dev/null; \
	else echo "no Chinese font found and none installable here: the Chinese pages will show boxes"; fi

## make check: lint and nnlib's own tests, the loop to run while editing nnlib (about a minute).
check: $(STAMP) lint unit

## make unit: nnlib's own tests (tests/nnlib/), without lint.
unit: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest -q $(PARALLEL) $(LIB_TESTS)

## make test-book: the book's checks (tests/book/: pairs, build, browser, translations, PDF,
## prose numbers, set-up), without re-executing the pages.
test-book: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest $(PARALLEL) $(call ordered,$(BOOK_TESTS))

## make nbval: strict nbval on every chapter (the stored outputs were made by `make notebooks`
## with PyTorch's default threads; here each chapter runs on one thread).
nbval: $(STAMP)
	@$(SHOW_STRICT)
	$(STRICT_ENV) $(BIN)/python -m pytest $(PARALLEL) $(NBVAL_FLAGS) $(NBVAL_FILES)

## make lint: ruff's checks and format on the code, mypy on nnlib's type hints, and the
## workflow's schema.
lint: $(STAMP)
	$(BIN)/ruff check nnlib tests tools benchmarks _ext
	$(BIN)/ruff format --check nnlib tests tools benchmarks _ext
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

## make notebooks: re-create every chapters/*.ipynb from its .md and execute it in a fresh
## kernel, storing the outputs that nbval then verifies. Run after editing a chapter or nnlib.
notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks execute $(CHAPTERS_MD)

## make notebook NB=chapters/04_measuring_error.md: the same for one chapter.
notebook: $(STAMP)
	$(BIN)/python -m tools.notebooks execute "$(NB)"

## make lab: open the chapters in JupyterLab (the .md files open as notebooks via jupytext).
## JupyterLab is installed on first use only: building and testing the book do not need it.
JUPYTERLAB := jupyterlab==4.6.6
lab: $(STAMP)
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet --progress-bar off "$(JUPYTERLAB)"
	$(BIN)/jupyter lab chapters/

## make bench: time nnlib against the torch built-ins: element-wise ops, losses and pooling;
## convolution and normalisation (also drawn in _build/bench/conv_norm.png); the recurrent
## networks per training step. Reports in benchmarks/results/ (a measurement, not a test).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_ops
	$(BIN)/python -m benchmarks.bench_conv_norm
	$(BIN)/python -m benchmarks.bench_rnn

## make mutation: mutation testing of nnlib's op modules (a measurement, not part of `make
## test`). mutmut (requirements-mutation.txt) mutates the op modules (activations, losses,
## pooling, conv, norm, rnn), gradient clipping, the windows conv and pooling share and the
## input checks, and runs their unit tests against every mutant, on every core;
## then benchmarks/mutation_report.py writes the score and each surviving mutant to
## benchmarks/results/mutation.md.
MUTATION_STAMP := $(VENV)/.installed-mutation
$(MUTATION_STAMP): $(STAMP) requirements-mutation.txt
	$(BIN)/python -m pip install --quiet --progress-bar off -r requirements-mutation.txt
	touch $@

mutation: $(MUTATION_STAMP)
	rm -rf mutants
	CI=true $(ONE_THREAD) $(BIN)/mutmut run
	$(BIN)/python -m benchmarks.mutation_report

## make screenshots: pages of the built book as PNGs in _build/screenshots/ for review, in
## Debian's Chromium (tools/screenshots.py; PAGES="chapters/05_regression_losses ..." picks them).
screenshots: $(STAMP) browser-deps
	$(BIN)/python -m tools.screenshots $(PAGES)

## make robustness: every chapter again with all its seeds moved (by 1000 and by 2000), asserts
## only, and a report of every assert that failed: benchmarks/results/robustness.md (a
## measurement, not part of `make test`; tools/robustness.py).
robustness: $(STAMP)
	$(BIN)/python -m tools.robustness

## make reader-env: every page executed as a reader runs it (asserts only), from a copy outside
## the repository, in a fresh venv holding only nnlib's wheel and Jupyter's kernel; each page's
## install cell adds the rest. A measurement with its report in benchmarks/results/, not part
## of `make test` (tools/reader_env.py).
reader-env: $(STAMP)
	$(BIN)/python -m tools.reader_env

## make compat TORCH=2.13: every chapter (asserts only) and nnlib's unit tests on another
## PyTorch release, in its own venv (.venv-compat/), with a report in benchmarks/results/ (a
## measurement, not part of `make test`; tools/compat.py).
TORCH ?=
compat: $(STAMP)
	@test -n "$(TORCH)" || { echo "make compat needs a release: make compat TORCH=2.13"; exit 2; }
	$(BIN)/python -m tools.compat $(TORCH)

## make print-NBVAL_FLAGS: a variable's value as make expands it (tools/makevars.py; the
## pipeline tests run nbval and build the book with the flags printed here).
print-%:
	@echo '$($*)'

## make clean: remove _build (the books, the PDFs) and the tools' caches; make distclean:
## .venv too.
clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache mutants

distclean: clean
	rm -rf $(VENV)
