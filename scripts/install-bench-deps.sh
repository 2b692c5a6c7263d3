#!/bin/sh
# install-bench-deps.sh — the Debian packages only `make bench` needs (docs/BENCHMARKS.md):
# chromium (the reference browser, driven by npm playwright-core, which never downloads one),
# janus (the reference signaling server), nftables (packet loss between the bench's network
# namespaces), nodejs/npm (the driver), linux-perf (profiling). Kept apart from install-deps.sh
# so `make check` never installs a browser. Idempotent: apt-get runs only when one is missing.
set -eu

PACKAGES="
chromium
janus
nftables
iproute2
linux-perf
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $p"
done
# Node may come from elsewhere than Debian (a newer nodejs that ships npm itself):
# only ask for Debian's when the commands are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

echo "install-bench-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-bench-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
