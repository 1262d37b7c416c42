#!/usr/bin/env bash
# The install test (`make test` runs it after the Swift tests): `make install` into a temporary
# prefix with the debug build the tests already made, then the installed files are used as a user
# would: --version, themes found through PATH, man pages rendered, units verified, uninstall clean.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-debug}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }

make --no-print-directory install PREFIX="$prefix" CONFIG="$config" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "make install"; }

version="$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/PurrCore/Support/PurrVersion.swift)"
[ -n "$version" ] || fail "no version in PurrVersion.swift"
for program in purr purr-server purr-tui; do
    [ -x "$prefix/bin/$program" ] || fail "$program not installed"
    got="$(PATH="$prefix/bin:$PATH" "$program" --version)"
    [ "$got" = "$version" ] || fail "$program --version printed '$got', expected '$version'"
done

# The installed purr-tui, started by name through PATH, lists the shipped themes (no user themes here).
out="$(cd "$work" && XDG_CONFIG_HOME="$work/config" PATH="$prefix/bin:$PATH" purr-tui --theme nope 2>&1 || true)"
case "$out" in
*"available: default, light, mono, solarized-dark"*) ;;
*) fail "installed purr-tui does not find its themes: $out" ;;
esac

for page in purr purr-server purr-tui; do
    file="$prefix/share/man/man1/$page.1"
    [ -s "$file" ] || fail "no man page $file"
    rendered="$(MANWIDTH=100 man -l -P cat "$file" 2>"$work/man.err")" || fail "man -l $file: $(cat "$work/man.err")"
    grep -q "NAME" <<<"$rendered" || fail "man -l $file rendered no NAME section"
    grep -q -- "--version" <<<"$rendered" || fail "man page $page does not list --version"
done
grep -q -- "--drop-removed" <<<"$(man -l -P cat "$prefix/share/man/man1/purr-server.1")" || fail "purr-server(1) lacks --drop-removed"

bash -n "$prefix/share/bash-completion/completions/purr" || fail "bash completion does not parse"
grep -q "connect" "$prefix/share/bash-completion/completions/purr" || fail "bash completion lacks subcommands"
[ -s "$prefix/share/zsh/site-functions/_purr-server" ] || fail "no zsh completion"
[ -s "$prefix/share/fish/vendor_completions.d/purr-tui.fish" ] || fail "no fish completion"
[ -s "$prefix/share/doc/purr/server.toml" ] && [ -s "$prefix/share/doc/purr/tunnels.toml" ] || fail "no sample configs"
[ -s "$prefix/share/doc/purr/docs/operations.md" ] || fail "the docs/ pages the README and man pages point at are not installed"

# The sample server.toml is valid: purr-server accepts it (on a free port, then stopped).
"$prefix/bin/purr-server" --config "$prefix/share/doc/purr/server.toml" --listen 127.0.0.1:0 --admin-port 0 >"$work/server.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "listening on" "$work/server.out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
grep -q "listening on" "$work/server.out" || { kill "$pid" 2>/dev/null || true; fail "sample server.toml refused: $(cat "$work/server.out")"; }
kill -HUP "$pid"
for _ in $(seq 1 200); do grep -q "config reloaded" "$work/server.out" && break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null || fail "purr-server ended on SIGHUP"
kill -TERM "$pid"
wait "$pid" || fail "purr-server did not exit 0 on SIGTERM"

if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$prefix/lib/systemd/system/purr-server.service" >"$work/verify.log" 2>&1 || fail "systemd-analyze verify purr-server.service: $(cat "$work/verify.log")"
    ! grep -qi "purr" "$work/verify.log" || fail "systemd-analyze warns about purr-server.service: $(cat "$work/verify.log")"
    systemd-analyze verify "$prefix/lib/systemd/user/purr-up.service" >"$work/verify.log" 2>&1 || fail "systemd-analyze verify purr-up.service: $(cat "$work/verify.log")"
    ! grep -qi "purr" "$work/verify.log" || fail "systemd-analyze warns about purr-up.service: $(cat "$work/verify.log")"
else
    echo "test-install: systemd-analyze not available, units not verified"
fi

make --no-print-directory uninstall PREFIX="$prefix" CONFIG="$config" >"$work/uninstall.log" 2>&1 || fail "make uninstall"
left="$(find "$prefix" -type f)"
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-install: ok (installed, ran, themes found, man pages rendered, units checked, uninstalled)"
