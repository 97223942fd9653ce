#!/bin/sh
# Creates (first run) or upgrades (later runs, after a new temporalio/server version) Temporal's
# two PostgreSQL databases: `temporal` (persistence) and `temporal_visibility` (visibility, where
# the search attributes live). Runs in temporalio/admin-tools, which ships temporal-sql-tool and
# the schema files for its own server version. Every step is safe to repeat.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
port="${DB_PORT:-5432}"
schemas=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"
}

for db in temporal:temporal temporal_visibility:visibility; do
  name="${db%%:*}"
  dir="${db#*:}"
  echo "schema of database $name"
  # `create` fails when the database exists: that is the normal case after the first run.
  sql --db "$name" create || echo "database $name exists"
  # The versioning tables at 0.0; on a schema already past 0.0 it leaves the version alone.
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$schemas/$dir/versioned"
done
echo "Temporal schema is up to date"
