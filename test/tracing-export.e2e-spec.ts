/**
 * Tracing as production runs it: the real server (src/main.ts) in its own process, the SDK started
 * by the bootstrap from OTEL_* variables alone, the instrumentations hooked into Node's module
 * loader (not patched by hand as in the in-process suite), and the spans exported over OTLP/HTTP
 * to a collector on loopback. One ChatKit request that carries a `traceparent` must arrive as one
 * trace: the server span continuing the caller's, Express's handler, our `chatkit` span, and the
 * `pg` statements under it.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { startReplica, type Replica } from 'test/support/replica';

/** The parts of an OTLP/JSON span this test reads. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

interface Collector {
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
  close(): Promise<void>;
}

/** An OTLP/HTTP JSON trace receiver: keeps every span it is sent. */
async function startCollector(): Promise<Collector> {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const payload = JSON.parse(body) as {
          resourceSpans?: Array<{
            resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
            scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
          }>;
        };
        for (const resource of payload.resourceSpans ?? []) {
          const name = resource.resource?.attributes?.find((a) => a.key === 'service.name');
          if (name?.value.stringValue) services.add(name.value.stringValue);
          for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    services,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const SERVER = 2; // OTLP SpanKind: SPAN_KIND_SERVER

describe('tracing exported by the running server', () => {
  let collector: Collector;
  let replica: Replica | undefined;

  beforeAll(async () => {
    collector = await startCollector();
    replica = await startReplica('traced', {
      // Its own database: the embedded one in memory, whatever the suite runs on.
      DATABASE_URL: '',
      EMBEDDED_DATA_DIR: 'memory://',
      RAG_SEED_DOCS: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'gateway-under-test',
    });
  });
  afterAll(async () => {
    await replica?.stop();
    await collector?.close();
  });

  it('sends one trace per request, continuing the caller, with the server, Express, ChatKit and pg spans', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const response = await fetch(`${replica!.url}/chatkit`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-user-id': 'traced-user',
        traceparent: `00-${traceId}-${callerSpan}-01`,
      },
      body: JSON.stringify({ type: 'threads.list', params: { limit: 5 } }),
    });
    expect(response.status).toBe(200);

    const ours = (): OtlpSpan[] => collector.spans.filter((s) => s.traceId === traceId);
    const deadline = Date.now() + 20_000;
    while (!ours().some((s) => s.name === 'chatkit threads.list') || !ours().some((s) => s.kind === SERVER)) {
      if (Date.now() > deadline)
        throw new Error(
          `no complete trace exported; got ${JSON.stringify(ours().map((s) => s.name))}\n${replica!.output()}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const spans = ours();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (span: OtlpSpan): OtlpSpan[] => {
      const chain: OtlpSpan[] = [];
      for (
        let at = span.parentSpanId && byId.get(span.parentSpanId);
        at;
        at = at.parentSpanId && byId.get(at.parentSpanId)
      )
        chain.push(at);
      return chain;
    };

    expect(collector.services).toContain('gateway-under-test');
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server.parentSpanId).toBe(callerSpan);
    const chatkitSpan = spans.find((s) => s.name === 'chatkit threads.list')!;
    expect(ancestors(chatkitSpan)).toContain(server);
    // Express's instrumentation, hooked at load time, records the route's handler under the server span.
    const handlers = spans.filter((s) => s.attributes?.some((a) => a.key === 'express.type'));
    expect(handlers.length).toBeGreaterThan(0);
    expect(handlers.every((s) => s.parentSpanId === server.spanId)).toBe(true);
    expect(ancestors(chatkitSpan).some((s) => handlers.includes(s))).toBe(true);
    // The list's statement, traced by the pg instrumentation, under the ChatKit span.
    const statements = spans.filter((s) =>
      s.attributes?.some((a) => a.key === 'db.system' || a.key === 'db.system.name'),
    );
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.some((s) => ancestors(s).includes(chatkitSpan))).toBe(true);
  });
});
