/**
 * Structured logs (pino). One line per request with method, route template, status,
 * duration, user id and request id. The request id comes from X-Request-ID when the client sends
 * a sane one, else it is generated, and it is echoed in the response header.
 * Never logs headers, bodies, query strings (signed URLs carry signatures) or message text.
 * The middleware runs first on every request, ahead of body parsing, so a request refused before
 * routing (a body that does not parse, or is too large) still gets its id and its line.
 *
 * The middleware is written here rather than taken from pino-http: pino-http builds a child
 * logger (serializers and redaction included) for every request up front, and that was a large
 * share of a cheap request's CPU. Here the request's logger is made only when something logs
 * during the request, and the completion line is written once, from plain fields. The line keeps
 * pino-http's shape (`req`, `res`, `responseTime`, `err` for 5xx, the message).
 *
 * Logs written by Nest's Logger during a request carry the request (`req.id`, method, path):
 * nestjs-pino's PinoLogger reads the logger of the request from its AsyncLocalStorage, which this
 * middleware fills. Nest's own start-up chatter (module and route mapping) is logged at `debug`.
 *
 * With tracing on, every line written while a span is active carries `trace_id` and `span_id`
 * (and `trace_flags`), and a request's completion line those of the span the request arrived in,
 * so a trace and its log lines find each other. With tracing off no span is ever active and lines
 * are unchanged.
 *
 * Lines are JSON, except in development on a terminal, where pino-pretty makes them readable
 * (LOG_FORMAT overrides; tests and CI always get JSON).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Module } from '@nestjs/common';
import { isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import { Logger, PARAMS_PROVIDER_TOKEN, PinoLogger, type Params } from 'nestjs-pino';
import { storage, type Store } from 'nestjs-pino/storage';
import { pino, type DestinationStream, type Logger as PinoInstance } from 'pino';
import pinoPretty from 'pino-pretty';
import { appConfig, type AppConfig } from 'src/config/app.config';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import type { AuthenticatedRequest } from 'src/common/request-context';
import { routeTemplate } from 'src/common/route-template';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Health probes and scrapes would drown the log; they are counted in metrics instead. */
const UNLOGGED = /^\/(health|metrics)(\/|$|\?)/;

/** Where the log is written: stdout, unless a test provides a stream to read it back. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/** The request-logging middleware, which also assigns the request id; `.logger` is the root logger. */
export const REQUEST_LOGGER = Symbol('REQUEST_LOGGER');

export type LogFormat = 'json' | 'pretty';

export interface RequestLogger {
  (req: IncomingMessage, res: ServerResponse, next: () => void): void;
  logger: PinoInstance;
}

export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-ID', id);
  return id;
}

/**
 * JSON unless asked otherwise, or unless a developer is watching a terminal: development mode
 * (AUTH_DEV_MODE=true or NODE_ENV other than production) with stdout a TTY. Tests and CI always
 * get JSON, whatever the terminal, because they parse it.
 */
export function resolveLogFormat(
  explicit: LogFormat | undefined,
  env: { nodeEnv: string; devMode: boolean; isTty: boolean; ci: boolean },
): LogFormat {
  if (env.nodeEnv === 'test' || env.ci) return 'json';
  if (explicit) return explicit;
  const development = env.devMode || env.nodeEnv !== 'production';
  return development && env.isTty ? 'pretty' : 'json';
}

/** The request as it appears in log lines: never headers, body or query string. */
function requestBinding(req: IncomingMessage, id: string) {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return { id, method: req.method, path: query === -1 ? url : url.slice(0, query) };
}

/**
 * The AsyncLocalStorage store of one request for nestjs-pino: its logger (the root logger bound
 * to the request) is built the first time something logs during the request, most requests never.
 */
class RequestLogStore implements Store {
  private bound?: PinoInstance;
  responseLogger?: PinoInstance;

  constructor(
    private readonly root: PinoInstance,
    private readonly req: IncomingMessage,
    private readonly id: string,
  ) {}

  get logger(): PinoInstance {
    return (this.bound ??= this.root.child({ req: requestBinding(this.req, this.id) }));
  }

  /** PinoLogger.assign() replaces it with a child carrying more fields. */
  set logger(logger: PinoInstance) {
    this.bound = logger;
  }
}

/** The trace fields of a log line: those of `span`, none without a (valid) one. */
export function traceFields(span: Span | undefined = trace.getActiveSpan()): Record<string, string> {
  if (!span) return {};
  const ids = span.spanContext();
  if (!isSpanContextValid(ids)) return {};
  return {
    trace_id: ids.traceId,
    span_id: ids.spanId,
    trace_flags: `0${ids.traceFlags.toString(16)}`.slice(-2),
  };
}

function levelOf(status: number, err: Error | undefined): 'error' | 'warn' | 'info' {
  return err || status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

/**
 * The request-logging middleware over `root`. Completion lines are written through `lines` when
 * given: a logger on the same destination without the redaction, whose copy of every line cost
 * more than the rest of the line. A completion line holds only the fields built below, none of
 * them a redacted path, except a failure's `err`: a line with one still goes through `root`.
 */
export function createRequestLogger(root: PinoInstance, lines: PinoInstance = root): RequestLogger {
  const middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const id = requestIdFor(req, res);
    (req as IncomingMessage & { id: string }).id = id;
    const started = Date.now();
    // The span the request arrived in (the server span, with tracing on): by the time the response
    // finishes, the active one may be a span of the work the request did.
    const span = trace.getActiveSpan();
    let logged = UNLOGGED.test(req.url ?? '');
    const complete = (failure?: Error): void => {
      if (logged) return;
      logged = true;
      const status = res.statusCode;
      const responseTime = Date.now() - started;
      const r = req as AuthenticatedRequest;
      const route = routeTemplate(r);
      const err = failure ?? (status >= 500 ? new Error(`failed with status code ${status}`) : undefined);
      const fields = {
        req: requestBinding(req, id),
        res: { statusCode: status },
        ...(err ? { err } : {}),
        responseTime,
        // Added to the completion line only: at the start of a request the user is not known yet.
        userId: r.context?.userId,
        orgId: r.context?.orgId,
        route,
        ...traceFields(span),
      };
      const message = err
        ? `${req.method} ${route} ${status}`
        : `${req.method} ${route} ${status} ${responseTime}ms`;
      (err ? root : lines)[levelOf(status, failure)](fields, message);
    };
    res.on('finish', complete);
    res.on('close', complete);
    // Also for unlogged routes: an 'error' on the response must never go unhandled.
    res.on('error', (err: Error) => {
      if (!logged) complete(err);
    });
    storage.run(new RequestLogStore(root, req, id), next);
  };
  return Object.assign(middleware, { logger: root });
}

/**
 * Nest's own start-up lines (every module initialised, every route mapped: some sixty lines) are
 * `debug`; what an operator needs at start (the database, warnings, the listening address) stays.
 */
const STARTUP_CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

@Injectable()
export class AppLogger extends Logger {
  constructor(logger: PinoLogger, @Inject(PARAMS_PROVIDER_TOKEN) params: Params) {
    super(logger, params);
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && STARTUP_CHATTER.has(context)) super.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}

/** Never written, whatever the app logs: removed from the line (the last line of defence). */
const REDACTED_PATHS = ['req.headers', 'res.headers', '*.authorization', '*.password', '*.token'];

/**
 * The app's two loggers on `destination`: `root`, which redacts, for everything the app logs and
 * for failed requests' lines, and `lines`, the same without the redaction, for completion lines.
 */
export function appLoggers(
  destination: DestinationStream,
  level: string,
): { root: PinoInstance; lines: PinoInstance } {
  // A fresh object each time: pino merges the line's own fields into it.
  const options = { level, mixin: () => traceFields() };
  return {
    root: pino({ ...options, redact: { paths: REDACTED_PATHS, remove: true } }, destination),
    lines: pino(options, destination),
  };
}

/** The root logger and the request-logging middleware over it, both to `destination`. */
export function requestLoggerTo(destination: DestinationStream, level: string): RequestLogger {
  const { root, lines } = appLoggers(destination, level);
  return createRequestLogger(root, lines);
}

function destinationFor(app: AppConfig, auth: AuthConfig): DestinationStream {
  const format = resolveLogFormat(app.logFormat, {
    nodeEnv: app.nodeEnv,
    devMode: auth.devMode,
    isTty: Boolean(process.stdout.isTTY),
    ci: Boolean(process.env.CI) && process.env.CI !== 'false',
  });
  // Synchronous, so log lines and the start-up line printed on stdout keep their order.
  if (format === 'pretty') {
    const colorize = Boolean(process.stdout.isTTY);
    return pinoPretty({ colorize, sync: true, singleLine: true, ignore: 'pid,hostname' });
  }
  return process.stdout;
}

@Module({
  providers: [
    {
      provide: LOG_DESTINATION,
      inject: [appConfig.KEY, authConfig.KEY],
      useFactory: destinationFor,
    },
    {
      provide: REQUEST_LOGGER,
      inject: [appConfig.KEY, LOG_DESTINATION],
      useFactory: (config: AppConfig, destination: DestinationStream): RequestLogger =>
        requestLoggerTo(destination, config.logLevel),
    },
    // nestjs-pino's Logger for Nest (app.useLogger), on the same root logger; its per-request
    // binding is the AsyncLocalStorage filled by the middleware above (no middleware of its own).
    {
      provide: PARAMS_PROVIDER_TOKEN,
      inject: [REQUEST_LOGGER],
      useFactory: (requestLogger: RequestLogger): Params => ({
        pinoHttp: { logger: requestLogger.logger },
        useExisting: true,
      }),
    },
    PinoLogger,
    AppLogger,
  ],
  exports: [REQUEST_LOGGER, AppLogger],
})
export class LoggingModule {}
