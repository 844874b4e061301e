/**
 * What TypeORM would change in the schema to match the entities: the statements
 * `migration:generate` writes. The migrations own the schema; the entities must describe it so
 * exactly that this is empty on a freshly migrated database (test/schema.e2e-spec.ts).
 *
 * One column cannot be described by any entity: `chunks.embedding` exists only where pgvector
 * was available when the KnowledgeBase migration ran, with the size it read then. TypeORM has no
 * per-column opt-out, so the schema builder installed here hides that column from the comparison
 * (and only that one); without it, generating a migration on a database with pgvector would drop
 * every stored embedding.
 */
import type { DataSource } from 'typeorm';
import { RdbmsSchemaBuilder } from 'typeorm/schema-builder/RdbmsSchemaBuilder';

/** Columns the migrations create conditionally, by table; never declared on an entity. */
export const MIGRATION_ONLY_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  chunks: ['embedding'],
};

class MigrationOwnedColumnsSchemaBuilder extends RdbmsSchemaBuilder {
  protected override async executeSchemaSyncOperationsInProperOrder(): Promise<void> {
    for (const table of this.queryRunner.loadedTables) {
      const hidden = MIGRATION_ONLY_COLUMNS[table.name.split('.').pop()!];
      if (hidden) table.columns = table.columns.filter((column) => !hidden.includes(column.name));
    }
    await super.executeSchemaSyncOperationsInProperOrder();
  }
}

/** Makes `dataSource`'s schema builder (migration:generate, schema:log) leave those columns alone. */
export function leaveMigrationOnlyColumnsAlone(dataSource: DataSource): DataSource {
  dataSource.driver.createSchemaBuilder = () => new MigrationOwnedColumnsSchemaBuilder(dataSource);
  return dataSource;
}

/** The SQL that would bring the schema in line with the entities; empty when they match. */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}
