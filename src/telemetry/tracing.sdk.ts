/**
 * Starts the OpenTelemetry Node SDK: traces only (Prometheus stays the metrics path, logs stay
 * JSON on stdout), with the instrumentations for incoming and outgoing HTTP (express routes, the
 * model API over fetch), PostgreSQL and Redis, and the W3C `traceparent` propagator, so a caller's
 * trace continues here. Exporter, endpoint, headers, sampler and resource come from the standard
 * OTEL_* variables, read by the SDK itself.
 *
 * main.ts loads it (through tracing.bootstrap.ts) before anything else, because instrumentations
 * patch modules as they are first required. Tests start it with their own span processors.
 *
 * Instrumentation settings keep user data out of spans: query strings, incoming and outgoing, keep
 * their keys and lose every value (search queries, signatures), SQL is recorded without parameter
 * values, Redis commands by name only (keys name users), and no header is recorded.
 */
import { IncomingMessage } from 'node:http';
import { context, propagation, trace } from '@opentelemetry/api';
import type { InstrumentationBase } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { serviceNameOverride } from 'src/telemetry/tracing.env';
import { activeTracing, setActiveTracing, type TracingHandle } from 'src/telemetry/tracing.state';

export interface StartedTracing extends TracingHandle {
  readonly instrumentations: InstrumentationBase[];
}

/** Every query value replaced, the keys kept: `q=REDACTED&limit=REDACTED`. */
function keysOnly(search: string): string {
  const params = new URLSearchParams(search);
  const redacted = new URLSearchParams();
  for (const key of params.keys()) redacted.append(key, 'REDACTED');
  return redacted.toString();
}

/** An outgoing request's path split at its query, the query's values redacted; undefined without one. */
function redactedPath(path: string): { pathname: string; search: string } | undefined {
  const query = path.indexOf('?');
  if (query === -1) return undefined;
  return { pathname: path.slice(0, query), search: keysOnly(path.slice(query + 1)) };
}

export function createInstrumentations(): InstrumentationBase[] {
  return [
    new HttpInstrumentation({
      // Probes and scrapes would be most of the traces and say nothing.
      ignoreIncomingRequestHook: (req) => /^\/(health|metrics)(\/|$|\?)/.test(req.url ?? ''),
      requestHook: (span, req) => {
        if (req instanceof IncomingMessage) {
          const query = req.url?.indexOf('?') ?? -1;
          if (query !== -1) span.setAttribute('url.query', keysOnly(req.url!.slice(query + 1)));
          return;
        }
        // Outgoing (the model API, whose requests go over node:http): the same, in the full URL too.
        const redacted = redactedPath(req.path);
        if (!redacted) return;
        const host = String(req.getHeader('host') ?? req.host);
        span.setAttribute('url.full', `${req.protocol}//${host}${redacted.pathname}?${redacted.search}`);
        span.setAttribute('url.query', redacted.search);
      },
    }),
    // Route handlers only: a span per middleware (body parsers, the request log) on every request
    // costs more than it tells.
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    // Statements and commands inside a traced request only: the background ones (migrations, lease
    // heartbeats outside requests, cleanup sweeps) would each be a trace of one span.
    new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
    new IORedisInstrumentation({ dbStatementSerializer: (command) => command, requireParentSpan: true }),
    // Outgoing fetch (embeddings, uploads to the model API): a query string keeps its keys only.
    new UndiciInstrumentation({
      startSpanHook: (request) => {
        const redacted = redactedPath(request.path);
        if (!redacted) return {};
        return {
          'url.full': `${request.origin}${redacted.pathname}?${redacted.search}`,
          'url.query': `?${redacted.search}`,
        };
      },
    }),
  ];
}

/**
 * Starts the SDK once. `spanProcessors` replaces the exporter the environment describes (tests
 * pass an in-memory one).
 */
export function startTracing(options: { spanProcessors?: SpanProcessor[] } = {}): StartedTracing {
  const started = activeTracing();
  if (started) return started as StartedTracing;
  const instrumentations = createInstrumentations();
  const sdk = new NodeSDK({
    serviceName: serviceNameOverride(process.env),
    instrumentations,
    spanProcessors: options.spanProcessors,
    // Traces only: an empty list keeps the SDK from starting OTLP metric and log exporters.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  const handle: StartedTracing = {
    instrumentations,
    flush: async () => {
      const provider = trace.getTracerProvider() as { getDelegate?(): unknown };
      const delegate = (provider.getDelegate?.() ?? provider) as { forceFlush?(): Promise<void> };
      await delegate.forceFlush?.();
    },
    shutdown: () =>
      (stopped ??= (async () => {
        for (const instrumentation of instrumentations) instrumentation.disable();
        try {
          await sdk.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          if (activeTracing() === handle) setActiveTracing(undefined);
        }
      })()),
  };
  setActiveTracing(handle);
  return handle;
}
