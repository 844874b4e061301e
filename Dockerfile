# ChatKit Gateway image: compile in one stage, run the compiled app with production dependencies
# only, as a non-root user. Production needs AUTH_JWT_SECRET or AUTH_JWKS_URL (the app refuses to
# boot without one) and, in practice, DATABASE_URL; see docs/operations.md.

# ---- build: all dependencies, TypeScript → dist/ (the app in dist/src, migrations in dist/migrations)
FROM node:24-bookworm-slim AS build
WORKDIR /app
# swagger-ui-dist's install script would otherwise report the install to a third party.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- runtime
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency needs an install script (the only one is telemetry), so none run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Writable only for the embedded database, used when DATABASE_URL is unset (trials, not production).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# Slim images have no curl: ask Node's fetch. Readiness, so a container without its database
# shows as unhealthy instead of looking fine.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
