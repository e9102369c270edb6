# wfdsl — top-level build. `make demo` and `make test` set everything up.
CC      ?= cc
PREFIX  ?= /usr/local
PKGS     = yaml-0.1 lua5.4 sqlite3 libcurl jansson openssl
# Debian packages that provide PKGS (and the tools the tests use).
DEB_PKGS = build-essential pkg-config libyaml-dev liblua5.4-dev libsqlite3-dev \
           libcurl4-openssl-dev libssl-dev libjansson-dev python3 sqlite3

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS     = $(PKG_LIBS) -lm $(EXTRA_LDLIBS)

BUILD   ?= build
LIB_SRC  = $(wildcard stdlib/*.c storage/*.c dsl/*.c) $(filter-out interpreter/main.c,$(wildcard interpreter/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit asan install clean
all: wfdsl

deps:
	@sh tests/deps.sh $(DEB_PKGS)

wfdsl: $(BUILD)/interpreter/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(wildcard */*.h) interpreter/opcodes.def
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

demo: deps
	@$(MAKE) --no-print-directory wfdsl
	@echo '$$ ./wfdsl run samples/hello.yaml --db /tmp/wfdsl-demo.db --new --input '"'"'{"name":"Debian"}'"'"
	@./wfdsl run samples/hello.yaml --db /tmp/wfdsl-demo.db --new --input '{"name":"Debian"}'

unit: $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory wfdsl unit
	@bash tests/run.sh

# AddressSanitizer + UBSan build in its own directory; `make asan test` runs the suite with it.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=gcc \
	  EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  wfdsl unit

install: wfdsl
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 wfdsl $(DESTDIR)$(PREFIX)/bin/wfdsl

clean:
	rm -rf build build-asan wfdsl
