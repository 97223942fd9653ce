#!/usr/bin/env bash
# Enables RabbitMQ's management console (http://127.0.0.1:15672) when this machine runs the
# broker itself. Idempotent; with a remote broker it only says what to do.
set -uo pipefail

if ! command -v rabbitmq-plugins >/dev/null 2>&1; then
  echo "note: rabbitmq-plugins not found here; enable the console on your broker with: rabbitmq-plugins enable rabbitmq_management" >&2
  exit 0
fi
if rabbitmq-plugins list -e rabbitmq_management 2>/dev/null | grep -q '\[E'; then
  exit 0
fi
if ! rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1; then
  echo "warning: could not enable rabbitmq_management (is RabbitMQ running? start it with: rabbitmq-server -detached)" >&2
  exit 0
fi
echo "RabbitMQ management console enabled: http://127.0.0.1:15672 (guest/guest)" >&2
