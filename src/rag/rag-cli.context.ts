/**
 * Boots RagCliModule for a command-line tool, waits until the database is connected and migrated,
 * runs the tool, and always closes the application (which stops an embedded database cleanly).
 * A bad environment is reported the way the server reports it, and the process exit code says
 * whether the tool succeeded.
 *
 * It must never leave the process running after the tool finished, and never print secrets.
 */
import 'reflect-metadata';
import type { INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { validateAllConfig } from 'src/config/config.registry';
import { ConfigValidationError } from 'src/config/env.schema';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';
import { RagCliModule } from 'src/rag/rag-cli.module';

/** Runs `tool` with a ready knowledge base; resolves to the process exit code. */
export async function runRagCli(
  tool: (app: INestApplicationContext) => Promise<number>,
  options: { logLevels?: LogLevel[] } = {},
): Promise<number> {
  try {
    validateAllConfig();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\nSee docs/configuration.md for every setting.\n`);
      return 1;
    }
    throw error;
  }
  const app = await NestFactory.createApplicationContext(RagCliModule, {
    logger: options.logLevels ?? ['error', 'warn'],
  });
  try {
    await app.init();
    if (!app.get(DatabaseLifecycle).ready) {
      process.stderr.write('the database is unavailable (see the warning above); nothing was done\n');
      return 1;
    }
    return await tool(app);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await app.close();
  }
}

/** The entry point of a CLI file: run, then exit with the tool's code. */
export function main(tool: () => Promise<number>): void {
  tool().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
