# Purr: build, test, demo and install with one command each (see docs/operations.md).
#   make demo                     check what is missing, build release, start purr-tui --demo
#   make test                     check what is missing, then what CI runs (lint, build, tests, install test)
#   make test-unit                the unit tests only (no process, no socket), under a minute
#   make test-integration         the other tests (built programs, real peers, sockets)
#   make install PREFIX=/usr/local [DESTDIR=...] [CONFIG=release]
#   make uninstall PREFIX=/usr/local [DESTDIR=...]
PREFIX ?= /usr/local
DESTDIR ?=
CONFIG ?= release
SWIFT ?= swift

PROGRAMS := purr purr-server purr-tui
BIN_PATH = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path)
BINDIR := $(PREFIX)/bin
DATADIR := $(PREFIX)/share
DOCDIR := $(DATADIR)/doc/purr
MANDIR := $(DATADIR)/man/man1
THEMEDIR := $(DATADIR)/purr/themes
BASHDIR := $(DATADIR)/bash-completion/completions
ZSHDIR := $(DATADIR)/zsh/site-functions
FISHDIR := $(DATADIR)/fish/vendor_completions.d
UNITDIR := $(PREFIX)/lib/systemd/system
USERUNITDIR := $(PREFIX)/lib/systemd/user
# Generated files (man pages, completions, units) are staged here before they are installed.
STAGE := .build/stage-$(CONFIG)
THEMES := $(notdir $(wildcard themes/*.theme))

.PHONY: all build demo test test-unit test-integration lint install uninstall stage deps-build deps-test

all: build

deps-build:
	@bash scripts/deps.sh build

deps-test:
	@bash scripts/deps.sh test

build:
	$(SWIFT) build -c $(CONFIG)

demo: deps-build
	$(SWIFT) build -c release --product purr-tui
	"$$($(SWIFT) build -c release --show-bin-path)/purr-tui" --demo

lint:
	$(SWIFT) format lint --strict -r Sources Tests Examples

# What CI runs (.ci/run calls this): the unit tests first (a broken build fails in a minute), then
# the integration tests, then the install test.
test: deps-test lint
	bash browser/pack.sh
	$(SWIFT) build --build-tests
	$(MAKE) test-unit test-integration
	bash scripts/test-install.sh

# Unit tests: the targets PurrCoreTests, PurrServerTests, PurrClientTests and PurrTUITests, which start
# no process and open no socket beyond EmbeddedChannel (scripts/unit-tests.sh fails on a file that does).
test-unit:
	bash scripts/unit-tests.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing --skip 'PurrIntegrationTests\.|PurrFuzzTests\.'

# The PurrIntegrationTests target (the built programs, real peers: proxies, a KDC, browsers, tmux;
# sockets) and the seeded fuzzing of PurrFuzzTests.
test-integration:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing --filter 'PurrIntegrationTests\.|PurrFuzzTests\.'

# Man pages from the argument parsers (swift-argument-parser's GenerateManual plugin), completions
# from the binaries themselves, units with this PREFIX.
stage: build
	rm -rf "$(STAGE)" && mkdir -p "$(STAGE)/man" "$(STAGE)/bash" "$(STAGE)/zsh" "$(STAGE)/fish" "$(STAGE)/systemd"
	$(SWIFT) package plugin generate-manual --configuration $(CONFIG) >/dev/null
	for program in $(PROGRAMS); do \
	    cp .build/plugins/GenerateManual/outputs/$$program/$$program.1 "$(STAGE)/man/" || exit 1; \
	    "$(BIN_PATH)/$$program" --generate-completion-script bash > "$(STAGE)/bash/$$program" || exit 1; \
	    "$(BIN_PATH)/$$program" --generate-completion-script zsh > "$(STAGE)/zsh/_$$program" || exit 1; \
	    "$(BIN_PATH)/$$program" --generate-completion-script fish > "$(STAGE)/fish/$$program.fish" || exit 1; \
	done
	for unit in purr-server purr-up; do \
	    sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' dist/systemd/$$unit.service.in > "$(STAGE)/systemd/$$unit.service" || exit 1; \
	done

install: stage
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(THEMEDIR)" "$(DESTDIR)$(MANDIR)" "$(DESTDIR)$(DOCDIR)" \
	    "$(DESTDIR)$(BASHDIR)" "$(DESTDIR)$(ZSHDIR)" "$(DESTDIR)$(FISHDIR)" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(USERUNITDIR)"
	for program in $(PROGRAMS); do \
	    install -m 0755 "$(BIN_PATH)/$$program" "$(DESTDIR)$(BINDIR)/$$program" || exit 1; \
	    install -m 0644 "$(STAGE)/man/$$program.1" "$(DESTDIR)$(MANDIR)/$$program.1" || exit 1; \
	    install -m 0644 "$(STAGE)/bash/$$program" "$(DESTDIR)$(BASHDIR)/$$program" || exit 1; \
	    install -m 0644 "$(STAGE)/zsh/_$$program" "$(DESTDIR)$(ZSHDIR)/_$$program" || exit 1; \
	    install -m 0644 "$(STAGE)/fish/$$program.fish" "$(DESTDIR)$(FISHDIR)/$$program.fish" || exit 1; \
	done
	install -m 0644 $(addprefix themes/,$(THEMES)) "$(DESTDIR)$(THEMEDIR)/"
	install -m 0644 dist/server.toml dist/tunnels.toml README.md "$(DESTDIR)$(DOCDIR)/"
	install -d "$(DESTDIR)$(DOCDIR)/docs"
	install -m 0644 docs/*.md "$(DESTDIR)$(DOCDIR)/docs/"
	install -m 0644 "$(STAGE)/systemd/purr-server.service" "$(DESTDIR)$(UNITDIR)/"
	install -m 0644 "$(STAGE)/systemd/purr-up.service" "$(DESTDIR)$(USERUNITDIR)/"

# Removes exactly what install wrote (and the directories of ours it leaves empty).
uninstall:
	for program in $(PROGRAMS); do \
	    rm -f "$(DESTDIR)$(BINDIR)/$$program" "$(DESTDIR)$(MANDIR)/$$program.1" "$(DESTDIR)$(BASHDIR)/$$program" \
	        "$(DESTDIR)$(ZSHDIR)/_$$program" "$(DESTDIR)$(FISHDIR)/$$program.fish"; \
	done
	rm -f $(addprefix "$(DESTDIR)$(THEMEDIR)/",$(THEMES))
	rm -f "$(DESTDIR)$(DOCDIR)/server.toml" "$(DESTDIR)$(DOCDIR)/tunnels.toml" "$(DESTDIR)$(DOCDIR)/README.md"
	rm -f $(addprefix "$(DESTDIR)$(DOCDIR)/",$(wildcard docs/*.md))
	-rmdir "$(DESTDIR)$(DOCDIR)/docs" 2>/dev/null
	rm -f "$(DESTDIR)$(UNITDIR)/purr-server.service" "$(DESTDIR)$(USERUNITDIR)/purr-up.service"
	-rmdir "$(DESTDIR)$(THEMEDIR)" "$(DESTDIR)$(DATADIR)/purr" "$(DESTDIR)$(DOCDIR)" 2>/dev/null
