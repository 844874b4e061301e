/**
 * The one place TypeORM options are built, shared by the app and the migration CLI, so both see
 * the same entities, migrations and connection settings. `synchronize` is off, always.
 */
import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from 'src/config/database.config';
import { DiscardOnTimeoutClient } from 'src/database/pg-client';

export const MIGRATIONS_TABLE = 'schema_migrations';

export function buildTypeOrmOptions(config: DatabaseConfig, url: string): DataSourceOptions {
  const root = join(__dirname, '..', '..');
  return {
    type: 'postgres',
    url,
    ssl: config.ssl ? { rejectUnauthorized: true } : false,
    synchronize: false,
    migrationsRun: false,
    // The migrations create what the schema needs (pgvector only where it can); connecting must
    // never try to create extensions. Generated uuids are the built-in gen_random_uuid(), as in
    // the migrations.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    logging: config.logging ? ['query', 'error'] : false,
    entities: [join(root, 'src', '**', '*.entity.{ts,js}')],
    migrations: [join(root, 'migrations', '*.{ts,js}')],
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    extra: {
      Client: DiscardOnTimeoutClient,
      max: config.poolSize,
      // Waiting for a pooled connection and opening a new one.
      connectionTimeoutMillis: config.connectTimeoutMs,
      // The server stops a query that runs too long; it cannot stop one whose packets are lost on
      // the way, so the client gives up too, a little later, and drops that connection.
      statement_timeout: config.statementTimeoutMs || undefined,
      query_timeout: config.queryTimeoutMs || undefined,
      // Lets the operating system notice a dead peer on a connection idle in the pool.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // Keeps a dead server from pinning requests: idle connections are recycled.
      idleTimeoutMillis: 30_000,
      application_name: 'chatkit-gateway',
    },
  };
}
