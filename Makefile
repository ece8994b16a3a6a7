# The one entry point. `make demo` runs the main job, `make test` runs every test (CI runs it through .ci/run).
# Both work on a fresh machine with Python 3.9+ and a Rust toolchain: they make .venv and install what they need.

PYTHON ?= python3
# The PATH this make was started with, before the lines below put the dev venv and the build tools first.
USER_PATH := $(PATH)
VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(CURDIR)/target/tools/bin:$(PATH)
export PYO3_PYTHON := $(VPY)

.PHONY: demo test lint rust-test neon-test py-test bench-test frameworks-test fuzz conformance dev daemon wheel bench bench-commits \
	clean-venv

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check maturin numpy pytest
	touch $@

# Test-only peers: Milvus Lite is the compatibility oracle; hypothesis drives random inputs; psutil reads memory;
# hnswlib is a peer the benchmark harness runs (bench/test_harness.py checks it; it builds from source, ~35 s);
# ml_dtypes and scipy give the float16/bfloat16 and sparse inputs pymilvus takes; tqdm draws `covec import`'s and
# `covec export`'s progress.
$(VENV)/.test: $(VENV)/.base
	$(VPY) -m pip install -q --disable-pip-version-check pymilvus milvus-lite hypothesis psutil hnswlib ml_dtypes scipy tqdm
	touch $@

# Builds the Rust extension in release mode and installs covec into .venv (editable), byte-compiled as
# pip compiles an installed wheel: importing from source instead leaves ~2 MiB of compiler memory in every
# process, which the benchmark would count as covec's.
# An extension built for one CPython (before the binding was abi3) would be imported before _covec.abi3.so: removed.
dev: $(VENV)/.base daemon
	rm -f client/python/covec/_covec.cpython-*.so
	cd $(CURDIR) && maturin develop --release --quiet
	$(VPY) -m compileall -q client/python/covec

# covecd is a native program, built here and staged in target/wheel-data/scripts: pyproject.toml names that
# directory as the wheel's data, so a wheel carries covecd in its scripts and pip installs it beside `python`
# (`maturin develop` too, into .venv/bin).
daemon:
	cargo build --release -p covecd
	install -D -m 755 target/release/covecd target/wheel-data/scripts/covecd

# The wheel users install (`pip install covec`): one abi3 file for CPython 3.9 and later, with the `covec` and
# `covecd` commands, in dist/. Its compilation is the one `make dev` did (same features and profile).
wheel: $(VENV)/.base daemon
	rm -f dist/covec-*.whl
	maturin build --release --quiet --out dist

demo: dev daemon
	$(VPY) demo/run_demo.py

lint: $(VENV)/.base
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p covec --features python --all-targets -- -D warnings

rust-test:
	cargo test --workspace --quiet

# The NEON kernels cross-built for aarch64 and run under qemu-aarch64, so an x86 machine checks them against their
# scalar twins too. Needs Debian's qemu-user-static, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross and rustup's
# aarch64 target (.ci/run installs them); without them it says it skipped. On an arm machine rust-test runs NEON.
AARCH64 := aarch64-unknown-linux-gnu
neon-test:
	@if command -v qemu-aarch64-static >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null \
		&& rustup target list --installed 2>/dev/null | grep -qx $(AARCH64); then \
		echo "neon-test: kernels on $(AARCH64) under qemu-aarch64-static"; \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
		cargo test --quiet -p covec --target $(AARCH64) --test kernels_agree --test kernels_f16 --test kernels_i8 --test kernels_bf16 --test kernels_binary; \
	else echo "neon-test SKIPPED: needs qemu-aarch64-static, aarch64-linux-gnu-gcc and rustup target $(AARCH64)"; fi

# The Python tests run once, against the wheel installed in a venv of its own (.venv-wheel: the wheel, its
# dependencies and the test peers), on a PATH without cargo or rustc, as on a user's machine without Rust;
# tests/test_wheel.py also installs the wheel alone in fresh venvs and runs the README's example, the demo and
# `covecd --help` there.
WHEEL_VENV := $(CURDIR)/.venv-wheel
NO_RUST_PATH := $(WHEEL_VENV)/bin:$(shell printf '%s' "$(USER_PATH)" | tr : '\n' | \
	while read -r d; do [ -e "$$d/cargo" ] || [ -e "$$d/rustc" ] || printf '%s\n' "$$d"; done | paste -sd: -)

$(WHEEL_VENV)/.test: pyproject.toml Makefile
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q --disable-pip-version-check pytest pymilvus milvus-lite hypothesis psutil ml_dtypes \
		scipy tqdm
	touch $@

py-test: wheel $(WHEEL_VENV)/.test
	$(WHEEL_VENV)/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps dist/covec-*.whl
	$(WHEEL_VENV)/bin/pip install -q --disable-pip-version-check dist/covec-*.whl
	cd $(CURDIR) && env -u VIRTUAL_ENV -u PYO3_PYTHON PATH="$(NO_RUST_PATH)" COVEC_WHEEL="$$(ls dist/covec-*.whl)" \
		COVEC_DAEMON=$(WHEEL_VENV)/bin/covecd $(WHEEL_VENV)/bin/python -m pytest tests -q -p no:cacheprovider

# The benchmark harness's own tests: it builds its Rust programs with cargo, so they run in the dev venv.
bench-test: dev daemon $(VENV)/.test
	$(VPY) -m pytest bench/test_harness.py -q -p no:cacheprovider

# LangChain, LlamaIndex and Haystack on covec, each in its own venv (their pymilvus pins differ), against Milvus Lite:
# tests/frameworks. A venv sees the covec that `make dev` built here through a .pth file; pip caches nothing.
FRAMEWORKS := langchain llamaindex haystack
FRAMEWORK_VENVS := $(CURDIR)/.venv-frameworks
FRAMEWORK_PACKAGES_langchain := langchain-milvus==0.4.0 "pymilvus==3.0.*"
FRAMEWORK_PACKAGES_llamaindex := llama-index-vector-stores-milvus==1.2.0 "pymilvus==2.6.*"
FRAMEWORK_PACKAGES_haystack := milvus-haystack==0.1.0 "pymilvus==3.0.*"

$(FRAMEWORK_VENVS)/%/.installed: Makefile
	rm -rf $(FRAMEWORK_VENVS)/$*
	$(PYTHON) -m venv $(FRAMEWORK_VENVS)/$*
	$(FRAMEWORK_VENVS)/$*/bin/pip install -q --disable-pip-version-check --no-cache-dir \
		$(FRAMEWORK_PACKAGES_$*) "milvus-lite==3.2.*" pytest
	$(FRAMEWORK_VENVS)/$*/bin/python -c 'import sys, sysconfig; \
		open(sysconfig.get_paths()["purelib"] + "/covec.pth", "w").write(sys.argv[1] + "\n")' $(CURDIR)/client/python
	touch $@

frameworks-test: dev $(FRAMEWORKS:%=$(FRAMEWORK_VENVS)/%/.installed)
	for f in $(FRAMEWORKS); do \
		$(FRAMEWORK_VENVS)/$$f/bin/python -m pytest tests/frameworks/test_$$f.py -q -p no:cacheprovider || exit 1; \
	done

# A short coverage-guided run of each cargo-fuzz target (docs/reliability.md has the long runs). The stable
# toolchain runs it with -s none: AddressSanitizer needs nightly. cargo-fuzz is installed on first use.
FUZZ_SECS ?= 20
FUZZ_TARGETS := filter db_image segment_header text_analyzer sparse_sections match_index

target/tools/bin/cargo-fuzz:
	cargo install --locked --quiet --root $(CURDIR)/target/tools cargo-fuzz

fuzz: target/tools/bin/cargo-fuzz
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t && echo "fuzz $$t: $(FUZZ_SECS) s (log: fuzz/corpus/$$t.log)" && \
		if cargo fuzz run -s none -O $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECS) \
			-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 > corpus/$$t.log 2>&1; \
		then grep -E "^stat::(number_of_executed_units|new_units_added)" corpus/$$t.log; \
		else tail -60 corpus/$$t.log; exit 1; fi; \
	done

# Milvus Lite's own MilvusClient tests run against covec (../shared/conformance, beside the checkout in CI; see its
# README): prints the score and what fails, file by file. A report, never a failure of `make test`.
CONFORMANCE := $(abspath $(CURDIR)/../shared/conformance/run_suite.py)
conformance: dev $(VENV)/.test
	@if [ -f $(CONFORMANCE) ]; then \
		COVEC_UNDER_TEST=1 $(VPY) $(CONFORMANCE) --threshold 0 2>&1 | grep -E "^peer suite" || true; \
	else echo "conformance SKIPPED: $(CONFORMANCE) not found"; fi

test: lint rust-test neon-test py-test bench-test frameworks-test fuzz conformance

bench: dev daemon $(VENV)/.test
	$(VPY) -m pip install -q --disable-pip-version-check matplotlib
	$(VPY) bench/run.py

# Commit latency and reader stall against db size (docs/benchmarks.md, "Commits"): 10k, 100k and 1M rows; the
# 1M db's HNSW build takes about half an hour the first time (kept in bench/out/commits/ for later runs).
bench-commits: dev $(VENV)/.test
	$(VPY) -m pip install -q --disable-pip-version-check matplotlib
	$(VPY) bench/commits.py --doc

clean-venv:
	rm -rf $(VENV) $(WHEEL_VENV) $(FRAMEWORK_VENVS)
