/** Stops the embedded PostgreSQL started by global-setup, if any. */
import type { EmbeddedPostgres } from 'src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as { __embeddedPostgres?: EmbeddedPostgres }).__embeddedPostgres;
  if (embedded) await embedded.stop();
}
