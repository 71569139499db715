# kombo-lua build, tests and demo.  `make help` lists the targets.
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
LUA_INC     ?= $(shell pkg-config --cflags lua$(LUA_VERSION) 2>/dev/null || echo -I/usr/include/lua$(LUA_VERSION))
CURL_INC    ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIB    ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CC          ?= cc
CFLAGS      ?= -O2 -g
WARN        := -Wall -Wextra -Werror
STD         := -std=c99 -D_DEFAULT_SOURCE
BUILD       := build/$(LUA_VERSION)

CORE_SRC := csrc/encode.c csrc/request.c csrc/content_type.c csrc/classify.c csrc/call.c csrc/transport_curl.c
LUA_SRC  := $(CORE_SRC) csrc/lkombo.c
HEADERS  := csrc/kombo.h

.PHONY: all lib example test demo clean help deps

all: lib example

help:
	@echo "make          build kombo/core.so for Lua $(LUA_VERSION) into $(BUILD) and examples/attach"
	@echo "make demo     install what is missing, start the local Kombo stand-in, upload examples/Resume.pdf"
	@echo "make test     install what is missing, run the whole spec suite (scripts/test)"

lib: $(BUILD)/kombo/core.so

$(BUILD)/kombo/core.so: $(LUA_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC -shared $(LUA_INC) $(CURL_INC) -o $@ $(LUA_SRC) $(CURL_LIB) -lm

example: examples/attach

examples/attach: examples/attach.c $(CORE_SRC) $(HEADERS)
	$(CC) $(STD) $(WARN) $(CFLAGS) -Icsrc $(CURL_INC) -o $@ examples/attach.c $(CORE_SRC) $(CURL_LIB) -lm

deps:
	scripts/setup

demo:
	scripts/demo

test:
	scripts/test

clean:
	rm -rf build examples/attach
