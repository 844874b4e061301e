/**
 * Runs one embedded PostgreSQL in its own process and prints `READY <url>`. Tests use it when they
 * need a throw-away embedded database of their own: PGlite loads its WebAssembly with dynamic
 * imports, which jest's module sandbox does not allow inside a test file.
 */
import { EmbeddedPostgres } from 'src/database/embedded-postgres';

const embedded = new EmbeddedPostgres({ dataDir: process.argv[2] ?? 'memory://' });
embedded
  .start()
  .then((url) => process.stdout.write(`READY ${url}\n`))
  .catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
const stop = () => void embedded.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
