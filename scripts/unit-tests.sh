#!/usr/bin/env bash
# Keeps the unit test targets unit tests: fails, naming the files, when a file in PurrCoreTests,
# PurrServerTests, PurrClientTests or PurrTUITests starts a process, opens a socket or needs a peer.
# Such a test belongs in Tests/PurrIntegrationTests/<Area>/ (the PurrIntegrationTests target).
# `make test-unit` runs this first, then the unit targets (everything but PurrIntegrationTests and
# the seeded fuzzing of PurrFuzzTests); `make test-integration` runs those two.
set -euo pipefail
cd "$(dirname "$0")/.."
# What starts a process, opens a socket or needs a peer: the test support's helpers and NIO's own.
markers='RunningProcess|BlockingSocket|TestTarget|InProcessServer\.(start|group)|TmuxSession|PythonPeers|BrowserFixture'
markers+='|ServerBootstrap|ClientBootstrap|DatagramBootstrap|MultiThreadedEventLoopGroup|NIOPipeBootstrap'
markers+='|TunnelEngine|AdminStream\(|AdminServer\(|PurrServer\(|Process\(|posix_spawn|freePort|socket\('
misplaced=()
for file in Tests/PurrCoreTests/*.swift Tests/PurrServerTests/*.swift Tests/PurrClientTests/*.swift Tests/PurrTUITests/*.swift; do
    [ -e "$file" ] || continue
    grep -Eq "$markers" "$file" && misplaced+=("$file")
done
if [ ${#misplaced[@]} -gt 0 ]; then
    printf '%s: starts a process or opens a socket: move it to Tests/PurrIntegrationTests/\n' "${misplaced[@]}" >&2
    exit 1
fi
