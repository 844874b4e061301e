/**
 * Everything main.ts does to the app besides listening, shared with the e2e tests so they run the
 * exact production pipeline: logger, proxy trust, body limits, CORS, shutdown hooks, OpenAPI.
 */
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { rememberRequestOrigin } from 'src/attachments/attachment.urls';
import { allowedCorsOrigins, appConfig, type AppConfig } from 'src/config/app.config';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import { bodyParserErrors } from 'src/common/body-errors';
import { weakEtag } from 'src/common/etag';
import { AppLogger, REQUEST_LOGGER, type RequestLogger } from 'src/common/logging.module';
import { HttpMetricsMiddleware } from 'src/metrics/http-metrics.middleware';
import { buildOpenApiDocument } from 'src/openapi/openapi.document';
import { QUOTA_HEADERS } from 'src/usage/quota.service';

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
  const corsOrigins = allowedCorsOrigins(config, app.get<AuthConfig>(authConfig.KEY).devMode);
  if (corsOrigins.length) {
    app.enableCors({
      origin: corsOrigins,
      exposedHeaders: [
        'X-Request-ID',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        ...QUOTA_HEADERS,
      ],
    });
  }
  // Where Nest would mount module middleware: after the parsers and CORS, before the routes.
  app.use(app.get(HttpMetricsMiddleware).handle);
  app.use(rememberRequestOrigin);
  app.enableShutdownHooks();
  if (config.docsEnabled) setupOpenApi(app);
  return config;
}

function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'ChatKit Gateway API',
    // Authorize once (a token, or X-User-ID in development mode) and keep it across reloads.
    swaggerOptions: { persistAuthorization: true },
  });
}
