/**
 * Structured JSON logs (pino). One line per request with method, route template, status,
 * duration, user id and request id. The request id comes from X-Request-ID when the client sends
 * a sane one, else it is generated, and it is echoed in the response header.
 * Never logs headers, bodies, query strings (signed URLs carry signatures) or message text.
 * The middleware runs first on every request, ahead of body parsing, so a request refused before
 * routing (a body that does not parse, or is too large) still gets its id and its line.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { pinoHttp, type HttpLogger, type Options } from 'pino-http';
import { appConfig, type AppConfig } from 'src/config/app.config';
import type { AuthenticatedRequest } from 'src/common/request-context';
import { routeTemplate } from 'src/common/route-template';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Where the JSON log is written: stdout, unless a test provides a stream to read it back. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/** The request-logging middleware (pino-http), which also assigns the request id. */
export const REQUEST_LOGGER = Symbol('REQUEST_LOGGER');

export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-ID', id);
  return id;
}

function requestFields(req: IncomingMessage): Record<string, unknown> {
  const r = req as unknown as AuthenticatedRequest;
  return { userId: r.context?.userId, orgId: r.context?.orgId, route: routeTemplate(r) };
}

function requestLoggerOptions(config: AppConfig): Options {
  return {
    level: config.logLevel,
    genReqId: requestIdFor,
    // Health probes and scrapes would drown the log; they are counted in metrics instead.
    autoLogging: {
      ignore: (req: IncomingMessage) => /^\/(health|metrics)(\/|$|\?)/.test(req.url ?? ''),
    },
    // Added to the completion line only: at the start of a request the user is not known yet.
    customSuccessObject: (req: IncomingMessage, _res: ServerResponse, value: Record<string, unknown>) => ({
      ...value,
      ...requestFields(req),
    }),
    customErrorObject: (
      req: IncomingMessage,
      _res: ServerResponse,
      _err: Error,
      value: Record<string, unknown>,
    ) => ({
      ...value,
      ...requestFields(req),
    }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: String(req.url).split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customSuccessMessage: (req: IncomingMessage, res: ServerResponse, ms: number) =>
      `${req.method} ${routeTemplate(req as never)} ${res.statusCode} ${Math.round(ms)}ms`,
    customErrorMessage: (req: IncomingMessage, res: ServerResponse) =>
      `${req.method} ${routeTemplate(req as never)} ${res.statusCode}`,
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    redact: {
      paths: ['req.headers', 'res.headers', '*.authorization', '*.password', '*.token'],
      remove: true,
    },
  };
}

/** The pino-http middleware; configureApp mounts it before anything else (see there). */
@Module({
  providers: [
    { provide: LOG_DESTINATION, useValue: process.stdout },
    {
      provide: REQUEST_LOGGER,
      inject: [appConfig.KEY, LOG_DESTINATION],
      useFactory: (config: AppConfig, destination: DestinationStream): HttpLogger =>
        pinoHttp(requestLoggerOptions(config), destination),
    },
  ],
  exports: [REQUEST_LOGGER],
})
class RequestLoggerModule {}

@Module({
  imports: [
    RequestLoggerModule,
    // The request middleware already ran (mounted by configureApp); nestjs-pino only binds each
    // request's logger for the Logger service, and logs outside requests with the same instance.
    LoggerModule.forRootAsync({
      imports: [RequestLoggerModule],
      inject: [REQUEST_LOGGER],
      useFactory: (requestLogger: HttpLogger) => ({
        pinoHttp: { logger: requestLogger.logger },
        useExisting: true,
      }),
    }),
  ],
  exports: [RequestLoggerModule],
})
export class LoggingModule {}
