#!/usr/bin/env bash
# Prints the swift test --filter pattern of the unit tests: the test classes whose file starts no
# process and opens no socket (EmbeddedChannel only). A file is an integration test as soon as it
# names one of the markers below; everything else is a unit test. `make test-unit` runs these,
# `make test-integration` the rest (with --skip and the same pattern), CI both.
set -euo pipefail
cd "$(dirname "$0")/.."
# What starts a process, opens a socket or needs a peer: the test support's helpers and NIO's own.
markers='RunningProcess|BlockingSocket|TestTarget|InProcessServer\.(start|group)|TmuxSession|PythonPeers|BrowserFixture'
markers+='|ServerBootstrap|ClientBootstrap|DatagramBootstrap|MultiThreadedEventLoopGroup|NIOPipeBootstrap'
markers+='|TunnelEngine|AdminStream\(|AdminServer\(|PurrServer\(|Process\(|posix_spawn|freePort|socket\('
classes=()
for file in Tests/Purr*Tests/*.swift; do
    grep -Eq "$markers" "$file" && continue
    while read -r name; do classes+=("$(basename "$(dirname "$file")").$name"); done \
        < <(sed -nE 's/^(final )?class ([A-Za-z0-9_]+): XCTestCase.*/\2/p' "$file")
done
[ ${#classes[@]} -gt 0 ] || { echo "no unit tests found" >&2; exit 1; }
pattern=$(printf '%s|' "${classes[@]}")
# Whole class names only: a class whose name starts like another's must not come along.
echo "^(${pattern%|})/"
