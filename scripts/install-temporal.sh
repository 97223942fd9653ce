#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) from source with `go install`, once per
# machine: the binary is cached outside the repo and reused by every clone, make up and CI.
# Prints the binary's path.
set -euo pipefail

version=v1.5.1
cache="${LEDGERFLOW_CACHE:-$HOME/.cache/ledgerflow}"
bin="$cache/temporal-cli-$version/temporal"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

go=$(command -v go || true)
[ -z "$go" ] && [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go
if [ -z "$go" ]; then
  echo "error: Go >= 1.25 is needed to build the Temporal CLI $version (install Go, then run this again)" >&2
  exit 1
fi

echo "Building the Temporal CLI $version with $("$go" version | cut -d' ' -f3) (first time on this machine: about 6 minutes)..." >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$(date +%s)
GOBIN="$tmp" GOFLAGS=-mod=mod "$go" install "github.com/temporalio/cli/cmd/temporal@$version" >&2
mkdir -p "$(dirname "$bin")"
mv "$tmp/temporal" "$bin"
echo "Temporal CLI built in $(( $(date +%s) - started ))s: $bin" >&2
echo "$bin"
