# wfdsl — top-level build. `make demo` and `make test` set everything up.
CC      ?= cc
PREFIX  ?= /usr/local
PKGS     = yaml-0.1 lua5.4 sqlite3 libcurl jansson openssl
# Debian packages that provide PKGS (and the tools the tests use).
DEB_PKGS = build-essential pkg-config libyaml-dev liblua5.4-dev libsqlite3-dev \
           libcurl4-openssl-dev libssl-dev libjansson-dev python3 sqlite3

CFLAGS  ?= -O2 -g
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation
# pkg-config runs when a recipe needs the flags, i.e. after `deps` installed them
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CFLAGS) $(WARN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS     = $(PKG_LIBS) -lm $(EXTRA_LDLIBS)

BUILD   ?= build
BIN     ?= wfdsl
# `make asan test`: the same targets, built with AddressSanitizer and UBSan
# in build-asan/, and the suite run against that binary.
ifneq ($(filter asan,$(MAKECMDGOALS)),)
BUILD    = build-asan
BIN      = build-asan/wfdsl
CC       = gcc
CFLAGS   = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
LIB_SRC  = $(wildcard stdlib/*.c storage/*.c dsl/*.c) $(filter-out interpreter/main.c,$(wildcard interpreter/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit asan install clean valgrind
all: $(BIN)

deps:
	@sh tests/deps.sh $(DEB_PKGS)

$(BIN): $(BUILD)/interpreter/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(wildcard */*.h) interpreter/opcodes.def
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/check.h tests/unit/server.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# the demo's database is its own: made afresh, so that a database left by an
# older version (a schema it refuses) cannot stop it
demo: deps $(BIN)
	@rm -f /tmp/wfdsl-demo.db /tmp/wfdsl-demo.db-wal /tmp/wfdsl-demo.db-shm
	@echo '$$ ./wfdsl run samples/hello.yaml --db /tmp/wfdsl-demo.db --input '"'"'{"name":"Debian"}'"'"
	@./$(BIN) run samples/hello.yaml --db /tmp/wfdsl-demo.db --input '{"name":"Debian"}'

unit: $(UNIT_BIN)

test: deps $(BIN) unit
	@WFDSL=$(CURDIR)/$(BIN) UNIT_DIR=$(BUILD)/tests bash tests/run.sh

# AddressSanitizer + UBSan build (see above); `make asan test` runs the suite with it.
asan: deps $(BIN) unit

# `make valgrind`: the parts of the suite that do not time anything, with every
# wfdsl process and unit test under valgrind's memcheck. A memory error or a
# definite leak fails the check that ran the process (exit 99) and is listed
# from the logs in $(BUILD)/valgrind/ at the end.
# (hardening is left out: its sandbox bombs run into their 20 s limits under memcheck)
VALGRIND_PARTS ?= test_yaml|test_duration|test_cron|test_lua|test_store|test_py|errors|golden|samples|dag|blocks|child|cli|http|asl|airflow
VALGRIND_OPTS   = --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                  --show-leak-kinds=definite
valgrind: deps $(BIN) unit
	@command -v valgrind >/dev/null || sh tests/deps.sh valgrind
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	@WFDSL_REAL=$(CURDIR)/$(BIN) WFDSL=$(CURDIR)/tests/valgrind.sh VALGRIND_LOG_DIR=$(CURDIR)/$(BUILD)/valgrind \
	  WFDSL_TEST_TIME_SCALE=20 \
	  UNIT_WRAP="valgrind $(VALGRIND_OPTS) --log-file=$(CURDIR)/$(BUILD)/valgrind/unit.%p.log" \
	  UNIT_DIR=$(BUILD)/tests ONLY='$(VALGRIND_PARTS)' bash tests/run.sh; rc=$$?; \
	  bad=$$(grep -l '^==[0-9]*==' $(BUILD)/valgrind/*.log 2>/dev/null); \
	  if [ -n "$$bad" ]; then echo "valgrind found errors:"; head -40 $$bad; exit 1; fi; \
	  echo "valgrind: $$(ls $(BUILD)/valgrind | wc -l) processes, no memory errors or definite leaks"; exit $$rc

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/wfdsl

clean:
	rm -rf build build-asan wfdsl

# ---- fuzzing: `make fuzz SECONDS=N` (default 60) runs each libFuzzer target
# tests/fuzz/fuzz_*.c for N seconds (see tests/fuzz/README.md). The library is
# rebuilt with clang, libFuzzer, ASan and UBSan in build-fuzz/. clang and its
# libFuzzer runtime are installed here: only this target needs them.
FUZZ_BUILD    = build-fuzz
FUZZ_CC       = clang
FUZZ_DEB_PKGS = clang libclang-rt-14-dev
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined $(WARN) -Wno-unknown-warning-option $(PKG_CFLAGS)
FUZZ_OBJ      = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_TARGETS  = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
SECONDS      ?= 60

.PHONY: fuzz fuzz-deps fuzz-clean
fuzz: fuzz-deps $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
	@bash tests/fuzz/run.sh $(SECONDS) $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-deps:
	@sh tests/deps.sh $(DEB_PKGS) $(FUZZ_DEB_PKGS)

$(FUZZ_BUILD)/%.o: %.c $(wildcard */*.h) interpreter/opcodes.def
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
.SECONDARY: $(FUZZ_OBJ)

clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD)

# ---- benchmark: `make bench` runs tests/bench/bench.c at full size (a few
# minutes), prints its table and writes bench-results.json; docs/performance.md
# says what each figure means. `make test` builds it too, and
# tests/cases/bench_smoke.sh runs it with tiny counts (`make bench-smoke` alone).
.PHONY: bench bench-smoke
bench: deps $(BIN) $(BUILD)/bench
	@WFDSL=$(CURDIR)/$(BIN) $(BUILD)/bench --json bench-results.json

bench-smoke: deps $(BIN) $(BUILD)/bench
	@WFDSL=$(CURDIR)/$(BIN) $(BUILD)/bench --smoke --json $(BUILD)/bench-smoke.json

test: $(BUILD)/bench

$(BUILD)/bench: tests/bench/bench.c $(LIB_OBJ) tests/unit/server.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# ---- crash torture: `make torture N=1000` SIGKILLs every sample at random
# moments N times in all, resuming each until it finishes, and prints the counts
# (kills, resumes, runs, violations); see tests/torture/torture.py. `make test`
# runs a short one (tests/cases/torture_short.sh). TORTURE_SEED=S repeats a run.
N ?= 1000
.PHONY: torture
torture: deps $(BIN)
	@WFDSL=$(CURDIR)/$(BIN) bash tests/torture/torture.sh $(N)
