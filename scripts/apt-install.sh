#!/usr/bin/env bash
# apt-get install the given Debian packages (as root), updating the lists once.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "need root to install $*" >&2; exit 1; fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
