#!/usr/bin/env bash
# Debian packages the tests use beyond the services: Chromium (the projection console is tested
# in a real headless browser), docker-compose (the compose file is validated with
# `docker-compose config`) and script(1) from bsdutils (gives the CLI a terminal for its progress
# bar). Skips what is already installed.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v script >/dev/null || missing+=(bsdutils)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
