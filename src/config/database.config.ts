/**
 * Where conversation state lives. With DATABASE_URL: that PostgreSQL server, pooled. Without it:
 * an embedded PostgreSQL (PGlite) under EMBEDDED_DATA_DIR, reached over a loopback socket with
 * exactly one connection, because PGlite is a single session and a larger pool corrupts results.
 */
import { registerAs } from '@nestjs/config';
import { envBoolean, envInt, envString, envUrl, parseEnv } from 'src/config/env.schema';

export const databaseEnvShape = {
  DATABASE_URL: envUrl(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: envInt(10, { min: 1, max: 200 }),
  DATABASE_SSL: envBoolean(false),
  DATABASE_CONNECT_TIMEOUT_MS: envInt(5_000, { min: 100, max: 120_000 }),
  DATABASE_STATEMENT_TIMEOUT_MS: envInt(30_000, { min: 0, max: 3_600_000 }),
  DATABASE_QUERY_TIMEOUT_MS: envInt(45_000, { min: 0, max: 3_600_000 }),
  DATABASE_RUN_MIGRATIONS: envBoolean(true),
  DATABASE_LOGGING: envBoolean(false),
  DATABASE_PREPARED_STATEMENTS: envBoolean(true),
  DATABASE_RETRY_INTERVAL_MS: envInt(2_000, { min: 100, max: 300_000 }),
  EMBEDDED_DATA_DIR: envString('./.data/pglite'),
  EMBEDDED_PORT: envInt(0, { min: 0, max: 65535 }),
};

export const databaseConfig = registerAs('database', () => {
  const env = parseEnv(databaseEnvShape);
  const embedded = env.DATABASE_URL === undefined;
  return {
    url: env.DATABASE_URL,
    embedded,
    // One connection for the embedded database, whatever was asked for.
    poolSize: embedded ? 1 : env.DATABASE_POOL_SIZE,
    ssl: env.DATABASE_SSL,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
    runMigrations: env.DATABASE_RUN_MIGRATIONS,
    logging: env.DATABASE_LOGGING,
    preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
    retryIntervalMs: env.DATABASE_RETRY_INTERVAL_MS,
    embeddedDataDir: env.EMBEDDED_DATA_DIR!,
    embeddedPort: env.EMBEDDED_PORT,
  };
});

export type DatabaseConfig = ReturnType<typeof databaseConfig>;
