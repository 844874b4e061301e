/**
 * Everything main.ts does to the app besides listening, shared with the e2e tests so they run the
 * exact production pipeline: logger, proxy trust, body limits, CORS, shutdown hooks, OpenAPI.
 */
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { BEARER_SCHEME } from 'src/common/decorators';

export function configureApp(app: NestExpressApplication): AppConfig {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: config.bodyLimitBytes });
  if (config.corsOrigins.length) {
    app.enableCors({ origin: config.corsOrigins, exposedHeaders: ['X-Request-ID', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] });
  }
  app.enableShutdownHooks();
  setupOpenApi(app);
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
  return cleanupOpenApiDoc(SwaggerModule.createDocument(app, builder));
}

function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'ChatKit Gateway API',
  });
}
