/**
 * The DataSource the TypeORM CLI uses (`npm run migration:run|revert|generate`). Same options as
 * the app. Without DATABASE_URL it opens the embedded database under EMBEDDED_DATA_DIR; the CLI
 * process exits when done, which stops it. `migration:generate` compares the entities with that
 * database; see src/database/schema-diff.ts for the one column it is told to leave alone.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from 'src/config/database.config';
import { EmbeddedPostgres } from 'src/database/embedded-postgres';
import { leaveMigrationOnlyColumnsAlone } from 'src/database/schema-diff';
import { buildTypeOrmOptions } from 'src/database/typeorm.options';

async function createDataSource(): Promise<DataSource> {
  const config = databaseConfig();
  let url = config.url;
  if (!url) {
    const embedded = new EmbeddedPostgres({ dataDir: config.embeddedDataDir, port: config.embeddedPort });
    url = await embedded.start();
  }
  return leaveMigrationOnlyColumnsAlone(new DataSource(buildTypeOrmOptions(config, url)));
}

export default createDataSource();
