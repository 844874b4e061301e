/**
 * Everything main.ts does to the app besides listening, shared with the e2e tests so they run the
 * exact production pipeline: logger, proxy trust, body limits, CORS, shutdown hooks, OpenAPI.
 */
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { bodyParserErrors } from 'src/common/body-errors';
import { BEARER_SCHEME } from 'src/common/decorators';
import { weakEtag } from 'src/common/etag';
import { AppLogger, REQUEST_LOGGER, type RequestLogger } from 'src/common/logging.module';
import { HttpMetricsMiddleware } from 'src/metrics/http-metrics.middleware';

export function configureApp(app: NestExpressApplication): AppConfig {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(app.get(AppLogger));
  // First of all, so that every response has a request id and a log line, even one refused by the
  // body parsers below before any route or Nest middleware runs.
  app.use(app.get<RequestLogger>(REQUEST_LOGGER));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.set('etag', weakEtag);
  // Non-strict: a bare JSON string or null reaches validation and gets a 400 naming the body.
  app.useBodyParser('json', { limit: config.bodyLimitBytes, strict: false });
  // Declared here so that it, too, sits before the error mapping (Nest would add it later).
  app.useBodyParser('urlencoded', { limit: config.bodyLimitBytes, extended: true });
  app.use(bodyParserErrors);
  if (config.corsOrigins.length) {
    app.enableCors({
      origin: config.corsOrigins,
      exposedHeaders: [
        'X-Request-ID',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
    });
  }
  // Where Nest would mount module middleware: after the parsers and CORS, before the routes.
  app.use(app.get(HttpMetricsMiddleware).handle);
  app.enableShutdownHooks();
  if (config.docsEnabled) setupOpenApi(app);
  return config;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('ChatKit Gateway')
    .setDescription(
      'Self-hosted backend for OpenAI ChatKit: the ChatKit protocol at POST /chatkit (JSON and Server-Sent Events), REST routes for custom front ends, attachments, health and metrics.',
    )
    .setVersion(process.env.npm_package_version ?? '0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_SCHEME)
    .build();
  return downgradeToOpenApi30(
    cleanupOpenApiDoc(SwaggerModule.createDocument(app, builder), { version: '3.0' }),
  );
}

/**
 * zod emits a few JSON Schema 2020 idioms that OpenAPI 3.0 does not allow and that the cleanup
 * above leaves behind: `type: [T, "null"]` (3.0 says `nullable: true`) and `const` (3.0 says
 * `enum: [value]`). Rewritten in place so Swagger UI and code generators accept the document.
 */
export function downgradeToOpenApi30<T>(node: T): T {
  if (Array.isArray(node)) {
    node.forEach(downgradeToOpenApi30);
  } else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.type)) {
      const types = (o.type as string[]).filter((t) => t !== 'null');
      if (types.length < (o.type as string[]).length) o.nullable = true;
      if (types.length === 1) o.type = types[0];
      else {
        delete o.type;
        if (types.length > 1) o.anyOf = types.map((t) => ({ type: t }));
      }
    }
    // JSON Schema keywords that OpenAPI 3.0 schema objects do not have.
    for (const key of ['contentEncoding', 'contentMediaType', 'propertyNames', '$schema']) delete o[key];
    if ('const' in o) {
      o.enum = [o.const];
      delete o.const;
    }
    Object.values(o).forEach(downgradeToOpenApi30);
  }
  return node;
}

function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'ChatKit Gateway API',
  });
}
