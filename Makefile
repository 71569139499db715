# kombo-lua build, tests and demo.  `make help` lists the targets.
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
LUA_INC     ?= $(shell pkg-config --cflags lua$(LUA_VERSION) 2>/dev/null || echo -I/usr/include/lua$(LUA_VERSION))
CURL_INC    ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIB    ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# OpenSSL's libcrypto: SHA-256 (EVP) for the content digests (Debian: libssl-dev).
CRYPTO_INC  ?= $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIB  ?= $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
CC          ?= cc
CFLAGS      ?= -O2 -g
WARN        := -Wall -Wextra -Werror
STD         := -std=c99 -D_DEFAULT_SOURCE
BUILD       := build/$(LUA_VERSION)

# The sources, one list derived from the folders (CONTRIBUTING.md, "Where
# things live"): the rockspec lists the same files (spec/unit/rockspec_spec.lua).
#   csrc/core/     the I/O-free core: requests, validation, body writer, codecs, classification
#   csrc/gen/      generated from Kombo's description (make generate): operations, schemas
#   csrc/curl/     the libcurl transports (easy, multi, handle pool)
#   csrc/lua/      the Lua binding (module kombo.core)
#   csrc/testing/  kombo.testing, test-only helpers, never installed
CORE_SRC := $(sort $(wildcard csrc/core/*.c)) $(sort $(wildcard csrc/gen/*.c))
CURL_SRC := $(sort $(wildcard csrc/curl/*.c))
BIND_SRC := $(sort $(wildcard csrc/lua/*.c))
LUA_SRC  := $(CORE_SRC) $(CURL_SRC) $(BIND_SRC)
# kombo.testing: test-only helpers, with its own copy of the core it wraps.
TESTING_SRC := csrc/testing/ltesting.c csrc/lua/lua_json.c $(CORE_SRC)
HEADERS  := $(wildcard csrc/*/*.h)
INC      := -Icsrc

.PHONY: all lib objects testing example test check demo clean help deps docs luacheck generate FORCE

all: lib example

help:
	@echo "make          build kombo/core.so (and the specs' kombo/testing.so) for Lua $(LUA_VERSION) into $(BUILD) and build/examples/attach"
	@echo "make demo     install what is missing, start the local Kombo stand-in, apply to a job with examples/Resume.pdf"
	@echo "make test     install what is missing, run the whole spec suite (scripts/test)"
	@echo "make docs     the HTML API reference (LDoc, config.ld) into build/docs/index.html"
	@echo "make luacheck luacheck over the Lua code (.luacheckrc); fails on any warning"
	@echo "make generate the operation table and its Lua data, types and reference from spec/contract/ (tools/generate.lua)"
	@echo "make check    the development loop: Lua 5.4, unit + integration + cli specs (scripts/test --fast)"

lib: $(BUILD)/kombo/core.so testing

testing: $(BUILD)/kombo/testing.so

# Object files: the core, the generated code and the transports do not
# include Lua, so they are compiled once (build/obj) for every Lua's core.so,
# testing.so and the example; only the binding (and testing's own files) is
# compiled per Lua (build/<version>/obj).  scripts/test builds `objects`
# first, then the Luas side by side.  Each object and library is written
# under a temporary name and renamed, so that two makes building the same
# file at once (the nginx specs' shards) never leave a torn one.
OBJ          := build/obj
CORE_OBJ     := $(patsubst csrc/%.c,$(OBJ)/%.o,$(CORE_SRC))
CURL_OBJ     := $(patsubst csrc/%.c,$(OBJ)/%.o,$(CURL_SRC))
BIND_OBJ     := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(BIND_SRC))
TESTING_OBJ  := $(BUILD)/obj/testing/ltesting.o $(BUILD)/obj/lua/lua_json.o $(CORE_OBJ)

objects: $(CORE_OBJ) $(CURL_OBJ)

# How a folder's objects are compiled is part of what they are made from:
# each folder keeps its compile command in a stamp (.flags) that its objects
# depend on, so another CC or CFLAGS (make lib CFLAGS=-O0) rebuilds them
# instead of linking the old ones.  FORCE runs the stamp's recipe at every
# make; it rewrites the stamp (under a temporary name, as the objects) only
# when the command changed, so an unchanged build stays a no-op (`make -q`
# says out of date all the same).  Link-only settings (CURL_LIB,
# CRYPTO_LIB) are not in a stamp: changing one needs `make clean`.
# (The command comes in a target's STAMP, not as a $(call) argument: a
# comma in CFLAGS, as in -Wl,..., would split one.)
define write_stamp
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(STAMP)' | cmp -s - $@ 2>/dev/null || { printf '%s\n' '$(STAMP)' > $@.$$$$.tmp && mv -f $@.$$$$.tmp $@; }
endef
FORCE:

OBJ_CC  = $(CC) $(STD) $(WARN) $(CFLAGS) -fPIC $(INC) $(CURL_INC) $(CRYPTO_INC)
BIND_CC = $(CC) $(STD) $(WARN) $(CFLAGS) -fPIC $(INC) $(LUA_INC) $(CURL_INC) $(CRYPTO_INC)

$(OBJ)/.flags: STAMP = $(OBJ_CC)
$(OBJ)/.flags: FORCE
	$(write_stamp)

$(BUILD)/obj/.flags: STAMP = $(BIND_CC)
$(BUILD)/obj/.flags: FORCE
	$(write_stamp)

$(OBJ)/%.o: csrc/%.c $(HEADERS) $(OBJ)/.flags
	@mkdir -p $(dir $@)
	$(OBJ_CC) -c -o $@.$$$$.tmp $< && mv -f $@.$$$$.tmp $@

$(BUILD)/obj/%.o: csrc/%.c $(HEADERS) $(BUILD)/obj/.flags
	@mkdir -p $(dir $@)
	$(BIND_CC) -c -o $@.$$$$.tmp $< && mv -f $@.$$$$.tmp $@

$(BUILD)/kombo/core.so: $(CORE_OBJ) $(CURL_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -o $@.$$$$.tmp $^ $(CURL_LIB) $(CRYPTO_LIB) -lm && mv -f $@.$$$$.tmp $@

$(BUILD)/kombo/testing.so: $(TESTING_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -o $@.$$$$.tmp $^ $(CURL_LIB) $(CRYPTO_LIB) -lm && mv -f $@.$$$$.tmp $@

example: build/examples/attach

# Into build/, not examples/: examples/ holds sources only.
build/examples/attach: examples/attach.c $(CORE_OBJ) $(CURL_OBJ) $(HEADERS) $(OBJ)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -Icsrc/core $(INC) $(CURL_INC) $(CRYPTO_INC) -o $@ examples/attach.c $(CORE_OBJ) $(CURL_OBJ) $(CURL_LIB) $(CRYPTO_LIB) -lm

deps:
	scripts/setup

demo:
	scripts/demo

test:
	scripts/test

check:
	scripts/test --fast

# csrc/gen/operations.c, lua/kombo/gen/*.lua and doc/operations.luadoc from
# Kombo's description and the hand table beside it (spec/contract/); the
# output is committed, so building needs only a C compiler.  Writes only
# what changed; spec/unit/generate_spec.lua fails when the output is stale.
generate:
	lua5.4 tools/generate.lua
	lua5.4 tools/rockspec_sources.lua

clean:
	rm -rf build examples/attach

# The API reference from the LDoc comments of lua/kombo/ and doc/ (config.ld).
# Needs LDoc and lua-markdown (Debian: lua-ldoc lua-markdown); any LDoc
# warning fails the build.
docs:
	ldoc --fatalwarnings -q .
	@echo "build/docs/index.html"

# Static checks of every Lua file (.luacheckrc: Lua 5.1/5.3/5.4, ngx_lua,
# busted); luacheck exits non-zero on any warning.
LUACHECK ?= luacheck
LUACHECK_DIRS := lua spec examples bench tools bin/kombo-attach bin/kombo scripts/soak

luacheck:
	$(LUACHECK) -q $(LUACHECK_DIRS)

# ------------------------------------------------------------------------
# Memory safety: fuzzing, ASan/UBSan suite, static analysis.
# `make fuzz` (FUZZ_SECONDS per harness), `make test-asan`, `make lint`;
# scripts/check-memory runs all three for CI.  Everything goes to build/.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 30
FUZZ_FLAGS    := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_HARNESS  := fuzz_request fuzz_encode fuzz_retry_after fuzz_classify fuzz_json fuzz_schema
FUZZ_CORE     := $(CORE_SRC)
ASAN_CC       ?= clang
ASAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g
TIDY          ?= clang-tidy
CPPCHECK      ?= cppcheck

.PHONY: fuzz fuzz-build test-asan asan-lib lint lint-cppcheck lint-tidy check-memory

fuzz-build: $(addprefix build/fuzz/,$(FUZZ_HARNESS))

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_CORE) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -Icsrc $(CURL_INC) $(CRYPTO_INC) -o $@ $< $(FUZZ_CORE) $(CURL_LIB) $(CRYPTO_LIB) -lm

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz $(FUZZ_HARNESS)

asan-lib: build/asan/kombo/core.so build/asan/kombo/testing.so build/asan/lua

# The interpreter that runs the specs: carries the ASan runtime itself, so no
# LD_PRELOAD leaks into the servers and tools the specs start (tools/asan_lua.c).
build/asan/lua: tools/asan_lua.c
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(STD) $(WARN) $(ASAN_FLAGS) -I/usr/include/lua5.4 -o $@ $< -llua5.4

# As above, each file compiled once: core.so and testing.so share the core.
ASAN_OBJ := build/asan/obj
ASAN_OBJ_CC = $(ASAN_CC) $(STD) $(WARN) $(ASAN_FLAGS) -fPIC $(INC) -I/usr/include/lua5.4 $(CURL_INC) $(CRYPTO_INC)

$(ASAN_OBJ)/.flags: STAMP = $(ASAN_OBJ_CC)
$(ASAN_OBJ)/.flags: FORCE
	$(write_stamp)

$(ASAN_OBJ)/%.o: csrc/%.c $(HEADERS) $(ASAN_OBJ)/.flags
	@mkdir -p $(dir $@)
	$(ASAN_OBJ_CC) -c -o $@.$$$$.tmp $< && mv -f $@.$$$$.tmp $@

build/asan/kombo/core.so: $(patsubst csrc/%.c,$(ASAN_OBJ)/%.o,$(LUA_SRC))
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) -fPIC -shared -o $@.$$$$.tmp $^ $(CURL_LIB) $(CRYPTO_LIB) -lm && mv -f $@.$$$$.tmp $@

build/asan/kombo/testing.so: $(patsubst csrc/%.c,$(ASAN_OBJ)/%.o,$(TESTING_SRC))
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) -fPIC -shared -o $@.$$$$.tmp $^ $(CURL_LIB) $(CRYPTO_LIB) -lm && mv -f $@.$$$$.tmp $@

test-asan: asan-lib
	scripts/test-asan

# Both always run; lint fails when either does.
lint:
	@rc=0; $(MAKE) --no-print-directory lint-cppcheck || rc=1; \
	  $(MAKE) --no-print-directory lint-tidy || rc=1; exit $$rc

lint-cppcheck:
	$(CPPCHECK) --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	  --std=c99 -D__GNUC__ -D'LLONG_MAX=0x7fffffffffffffffLL' -D'LLONG_MIN=(-LLONG_MAX-1LL)' \
	  -I csrc -I csrc/core -I/usr/include/lua5.4 --suppress=missingIncludeSystem csrc/*/*.c

# One clang-tidy per file (see .clang-tidy), two at a time.
lint-tidy:
	@printf '%s\n' csrc/*/*.c | xargs -P 2 -I{} $(TIDY) --quiet {} -- -std=c99 -D_DEFAULT_SOURCE -Icsrc -Icsrc/core \
	  -I/usr/include/lua5.4 -I/usr/include/x86_64-linux-gnu

check-memory:
	scripts/check-memory
# ---------------------------------------------------- end memory safety
