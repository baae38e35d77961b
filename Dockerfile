# syntax=docker/dockerfile:1
# Registrar's container image (README "Deploying"): built in one stage, run from
# a second that holds only the compiled service and its production dependencies.
#
#   docker build -t registrar .
#   docker run --rm -p 4444:4444 -e DSN=... -e SECRETS_SYSTEM=... -e ADMIN_API_KEYS=... \
#     -e URLS_SELF_ISSUER=https://auth.example.com registrar
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src src
COPY migrations migrations
COPY scripts scripts
RUN npx nest build

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime packages only: no dev tools, no SDK workspace, no optional TypeScript peer.
RUN npm ci --omit=dev --omit=optional --workspaces=false --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SERVE_PUBLIC_PORT=4444 \
    SERVE_PUBLIC_HOST=0.0.0.0 \
    DATA_DIR=/var/lib/registrar
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json LICENSE ./
COPY bin bin
# The embedded database (a trial without DSN) and development secrets live in DATA_DIR.
RUN mkdir -p /var/lib/registrar && chown node:node /var/lib/registrar && chmod 0700 /var/lib/registrar
# The unprivileged user of the Node.js images (uid 1000); the app's files stay root-owned and read-only to it.
USER node
EXPOSE 4444 4445
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "bin/registrar.js", "health", "--timeout", "4"]
# `docker run <image> node bin/registrar.js migrate` applies migrations (README "Deploying").
# The V8 heap flags are those of `npm run start:prod` (README "Memory").
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "dist/src/main.js"]
