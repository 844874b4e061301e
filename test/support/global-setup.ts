/**
 * Gives the e2e suites a PostgreSQL: the server in DATABASE_URL when set (CI points it at a fresh
 * database), else one embedded PostgreSQL (in memory) for the whole run, exactly the launcher the
 * app uses. Test apps reach it with a single connection, as the app does.
 */
import 'tsconfig-paths/register';
import { EmbeddedPostgres } from 'src/database/embedded-postgres';

export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.stdout.write(`\ne2e: using PostgreSQL from DATABASE_URL\n`);
    process.stdout.write(
      'e2e: test/start-dev.e2e-spec.ts runs in the embedded pass only (it uses no server)\n',
    );
    return;
  }
  process.stdout.write(
    'e2e: test/replicas.e2e-spec.ts, test/usage-replicas.e2e-spec.ts and test/tools-approval-replicas.e2e-spec.ts are not registered: they need a PostgreSQL server (set DATABASE_URL)\n',
  );
  const embedded = new EmbeddedPostgres({ dataDir: 'memory://' });
  process.env.DATABASE_URL = await embedded.start();
  process.env.TEST_EMBEDDED_DATABASE = '1';
  // The embedded server takes one connection, as the app's own embedded mode does.
  process.env.DATABASE_POOL_SIZE = '1';
  (globalThis as { __embeddedPostgres?: EmbeddedPostgres }).__embeddedPostgres = embedded;
  process.stdout.write(`\ne2e: using embedded PostgreSQL at ${process.env.DATABASE_URL}\n`);
}
