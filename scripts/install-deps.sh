#!/bin/sh
# install-deps.sh — install the Debian 12 packages Televisit needs to build, run and test.
#
# Idempotent and quick: asks dpkg which packages are missing and only then runs apt-get.
# The desktop client's GTK window, its Xvfb screenshot tests, and the browser tests'
# chromium are here too: `make check` runs them.
# Called by `make deps`, which `make`, `make run` and `make check` depend on.
set -eu

PACKAGES="
build-essential pkg-config perl
libglib2.0-dev libjson-glib-dev
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
gstreamer1.0-nice gstreamer1.0-tools gstreamer1.0-x gstreamer1.0-gl gstreamer1.0-alsa gstreamer1.0-pulseaudio
libnice-dev
libwebsockets-dev libwebsockets-evlib-glib libwebsockets-evlib-uv libuv1-dev
libssl-dev openssl
libsqlite3-dev sqlite3
libcurl4-openssl-dev
iproute2 nftables coturn
testssl.sh valgrind
libical-dev
libgtk-3-dev gstreamer1.0-gtk3 xvfb xauth fonts-dejavu-core
chromium
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $p"
done

# Browser tests (tests/web) drive Debian's chromium with npm playwright-core and
# validate FHIR with ajv: Node may come from elsewhere than Debian, so only ask
# for Debian's when the commands are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
