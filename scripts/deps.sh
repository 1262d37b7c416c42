#!/usr/bin/env bash
# What Purr needs on a Debian/Ubuntu machine, in one place (used by `make demo`, `make test` and
# .ci/run). `deps.sh build` checks what building needs; `deps.sh test` adds what the tests run.
# Missing packages are installed with apt-get when run as root (or with password-less sudo);
# otherwise the one apt-get line to run is printed and the script fails.
set -euo pipefail
what="${1:-build}"

need=()
# Building: the Swift toolchain comes from swift.org, not apt; ncursesw for the TUI.
[ -e /usr/include/ncursesw/ncurses.h ] || [ -e /usr/include/ncurses.h ] || need+=(libncurses-dev)
# MIT krb5's GSSAPI headers: Negotiate (Kerberos) and NTLM proxy authentication.
[ -e /usr/include/gssapi/gssapi_krb5.h ] || need+=(libkrb5-dev)
if [ "$what" = test ]; then
    # The tests use the real programs (no mocks).
    command -v tmux >/dev/null 2>&1 || need+=(tmux)
    [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx)
    # purr-bench's two-hop nginx baseline (BenchSmokeTests): Debian builds the stream module apart.
    [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || nginx -V 2>&1 | grep -q -- '--with-stream ' || need+=(libnginx-mod-stream)
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    command -v make >/dev/null 2>&1 || need+=(make)
    # The install test renders the man pages with `man -l`.
    command -v man >/dev/null 2>&1 || need+=(man-db)
    command -v groff >/dev/null 2>&1 || need+=(groff-base)
    # The ephemeral-port test: a private network namespace (util-linux unshare/nsenter, ip) and a
    # small echo target in python3 inside it.
    command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
    command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    # The browser tests: a real Chromium (headless=new loads extensions; no X server needed) and chromedriver.
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
    # The proxy tests start real forward proxies (RealProxyTests): tinyproxy answers CONNECT with
    # HTTP/1.0, squid with HTTP/1.1 (its basic_ncsa_auth helper comes with it).
    command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ] || need+=(tinyproxy)
    [ -x /usr/sbin/squid ] || command -v squid >/dev/null 2>&1 || need+=(squid)
    # Scale-out (ScaleOutTests): a real HAProxy in front of purr-servers, checking GET /healthz.
    [ -x /usr/sbin/haproxy ] || need+=(haproxy)
    # Proxy authentication (ProxyAuthTests): a private Kerberos realm (krb5kdc, kdb5_util, kadmin.local,
    # kinit) for squid's negotiate_kerberos_auth, and gss-ntlmssp for NTLM.
    [ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc)
    [ -x /usr/sbin/kadmin.local ] || need+=(krb5-admin-server)
    command -v kinit >/dev/null 2>&1 || need+=(krb5-user)
    [ -e /etc/gss/mech.d/mech.ntlmssp.conf ] || need+=(gss-ntlmssp)
    # The WebSocket tests drive real Python peers (the websockets library, websockify) from a venv.
    python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
    # Dynamic tunnels (DynamicTunnelTests): curl as SOCKS4a, SOCKS5 and HTTP proxy client.
    command -v curl >/dev/null 2>&1 || need+=(curl)
    # ... and OpenSSH through `ProxyCommand nc -X 5 -x ...` (OpenBSD's netcat) to a real sshd.
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
    [ -x /bin/nc.openbsd ] || [ -x /usr/bin/nc.openbsd ] || need+=(netcat-openbsd)
fi

# Python peers for the WebSocket tests, pinned (.ci/requirements.txt), in .ci/venv where the tests look.
python_peers() {
    [ "$what" = test ] || return 0
    local root
    root="$(cd "$(dirname "$0")/.." && pwd)"
    [ -x "$root/.ci/venv/bin/python" ] || python3 -m venv "$root/.ci/venv"
    "$root/.ci/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/.ci/requirements.txt"
}

if ! command -v swift >/dev/null 2>&1; then
    echo "deps: swift not found: install a Swift 6 toolchain (https://www.swift.org/install/linux/) and put it on PATH" >&2
    exit 1
fi

if [ ${#need[@]} -eq 0 ]; then
    python_peers
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "deps: missing ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
fi
echo "deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
# Where systemd runs, apt starts the proxies as services; the tests start their own (own ports, configs).
for service in squid tinyproxy krb5-kdc krb5-admin-server; do
    case " ${need[*]} " in *" $service "*) $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true ;; esac
done
python_peers
