#!/bin/sh
# temporalio/server does not create a namespace by itself: this job waits for the frontend, then
# creates the namespace Ledgerflow runs in (once; later runs find it and leave it alone).
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
# How long Temporal keeps the history of a closed workflow (a completed order, a finished checkout).
retention="${TEMPORAL_RETENTION:-30d}"

tries=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 90 ] || { echo "Temporal at $address is not healthy after 3 minutes"; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --address "$address" --namespace "$namespace" --retention "$retention"
  echo "namespace $namespace created (retention $retention)"
fi
