#!/bin/sh
# Installs the Debian packages given as arguments when their commands are
# missing. Usage: ensure-debian-packages.sh COMMAND:PACKAGE ...
# The tests that drive real clients (mbsync from isync) call it, so a fresh
# machine gets what they need from `npm test` alone.
set -eu
missing=""
for spec in "$@"; do
  cmd=${spec%%:*}
  pkg=${spec#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine.
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y --no-install-recommends $missing >/dev/null
}
