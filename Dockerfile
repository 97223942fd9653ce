# One image for every process of an app, here the reference shop (examples/shop): the default CMD
# runs the API; docker-compose.yml runs the same image as `node dist/bin/worker.js`,
# `node dist/bin/projector.js`, `node dist/bin/ledgerflow.js setup` and the shop's stand-in payment
# gateway. An app of your own builds the same way from its folder (npx ledgerflow build).
#
#   docker build -t ledgerflow .
#   docker run --rm -e API_TOKENS=secret -e TEMPORAL_ADDRESS=... -p 3000:3000 ledgerflow

# Node 24, the active LTS line (Node 20 reached its end of life in April 2026).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# ---- build: install every dependency, compile to dist/, bundle the workflows, drop dev deps ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# `npm install` rather than `npm ci` (see the Makefile): the lock file cannot list the
# macOS/Windows builds of @swc/core's optional packages, so `npm ci` refuses it. Without scripts:
# the package's own `prepare` builds from sources not copied yet; `npm rebuild` runs the
# dependencies' scripts once they are.
COPY package.json package-lock.json ./
COPY client/package.json client/
COPY examples/shop/package.json examples/shop/
RUN npm install --no-audit --no-fund --ignore-scripts

COPY . .
RUN npm rebuild --no-audit --no-fund
# tsc -p tsconfig.build.json, then `ledgerflow build` bundles the app's workflows into
# dist/workflow-bundle.js, which the worker loads instead of bundling them at start-up.
RUN npm run build \
 && node dist/bin/ledgerflow.js build --config examples/shop/ledgerflow.config.ts --out dist/workflow-bundle.js \
 && test -f dist/workflow-bundle.js \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled JS and production node_modules only, run as the unprivileged `node` user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Owned by root and read-only to `node`: the processes never write to their own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/examples/shop ./examples/shop
# The app every process runs, and the workflows built from it ahead of time.
ENV LEDGERFLOW_CONFIG=/app/examples/shop/ledgerflow.config.ts \
    LEDGERFLOW_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js

USER node
# API; the worker's and the projector's /metrics and /health.
EXPOSE 3000 9464 9465
CMD ["node", "dist/bin/api.js"]
