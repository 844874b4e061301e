/**
 * `npm run openapi`: writes docs/openapi.json from the application as it is configured in
 * production (JWT bearer auth, development headers off), so the committed contract is the one
 * deployments serve. The app is created but never listens and never needs its database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { buildOpenApiDocument, serializeOpenApiDocument } from 'src/openapi/openapi.document';

/** The configuration the committed document is built in; the drift test uses the same. */
export const OPENAPI_ENV: Record<string, string> = {
  NODE_ENV: 'development',
  AUTH_DEV_MODE: 'false',
  AUTH_JWT_SECRET: 'openapi-document-build-secret-0123456789abcdef',
  LOG_LEVEL: 'silent',
};

async function main(): Promise<void> {
  Object.assign(process.env, OPENAPI_ENV);
  // Describing the routes needs no database: point at none rather than start the embedded one.
  process.env.DATABASE_URL ??= 'postgres://openapi@127.0.0.1:1/none';
  // Imported after the environment is set: configuration is read when the modules load.
  const { AppModule } = await import('src/app.module');
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
  try {
    const target = join(process.cwd(), 'docs', 'openapi.json');
    writeFileSync(target, serializeOpenApiDocument(buildOpenApiDocument(app)));
    process.stdout.write(`wrote ${target}\n`);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
