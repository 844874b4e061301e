import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { INVALID_SPAN_CONTEXT, trace } from '@opentelemetry/api';
import { PinoLogger } from 'nestjs-pino';
import { pino } from 'pino';
import {
  AppLogger,
  createRequestLogger,
  requestLoggerTo,
  resolveLogFormat,
  traceFields,
  type RequestLogger,
} from 'src/common/logging.module';

class Lines extends Writable {
  readonly lines: Array<Record<string, any>> = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
}

/**
 * One root logger for the whole file: nestjs-pino keeps the logger used outside requests in a
 * module-wide variable, set by the first PinoLogger made.
 */
const out = new Lines();
const root = pino({ level: 'debug' }, out);
const params = { pinoHttp: { logger: root }, useExisting: true as const };
const nestLogger = new PinoLogger(params);

describe('resolveLogFormat', () => {
  const dev = { nodeEnv: 'development', devMode: false, isTty: true, ci: false };

  it('is pretty on a terminal in development, JSON when stdout is not a terminal', () => {
    expect(resolveLogFormat(undefined, dev)).toBe('pretty');
    expect(resolveLogFormat(undefined, { ...dev, isTty: false })).toBe('json');
  });

  it('counts AUTH_DEV_MODE as development even with NODE_ENV=production', () => {
    expect(resolveLogFormat(undefined, { ...dev, nodeEnv: 'production' })).toBe('json');
    expect(resolveLogFormat(undefined, { ...dev, nodeEnv: 'production', devMode: true })).toBe('pretty');
  });

  it('follows LOG_FORMAT, except in tests and CI, which always get JSON', () => {
    expect(resolveLogFormat('json', dev)).toBe('json');
    expect(resolveLogFormat('pretty', { ...dev, nodeEnv: 'production', isTty: false })).toBe('pretty');
    expect(resolveLogFormat('pretty', { ...dev, nodeEnv: 'test' })).toBe('json');
    expect(resolveLogFormat('pretty', { ...dev, ci: true })).toBe('json');
  });
});

describe('the request logger', () => {
  let requestLogger: RequestLogger;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    requestLogger = createRequestLogger(root);
    // PinoLogger reads the logger of the request the middleware stored.
    server = createServer((req, res) =>
      requestLogger(req, res, () => {
        nestLogger.info({ step: 'inside' }, 'working');
        const status = Number(/status=(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
        res.statusCode = status;
        res.end('{}');
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function linesFor(id: string): Promise<Array<Record<string, any>>> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return out.lines.filter((l) => l.req?.id === id);
  }

  it('writes one line per response, with the request id it echoes, and no query string', async () => {
    const res = await fetch(`${url}/things/1?sig=secret`, { headers: { 'X-Request-ID': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const lines = await linesFor('abc-123');
    const done = lines.filter((l) => l.res);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({
      level: 30,
      req: { id: 'abc-123', method: 'GET', path: '/things/1' },
      res: { statusCode: 200 },
      route: 'unmatched',
    });
    expect(typeof done[0].responseTime).toBe('number');
    expect(JSON.stringify(out.lines)).not.toContain('secret');
  });

  it('binds what is logged during the request to it', async () => {
    await fetch(`${url}/work`, { headers: { 'X-Request-ID': 'inside-1' } });
    const lines = await linesFor('inside-1');
    expect(lines.find((l) => l.step === 'inside')).toMatchObject({ req: { id: 'inside-1', path: '/work' } });
  });

  it('generates an id when the client sends none or an unusable one', async () => {
    const res = await fetch(`${url}/x`, { headers: { 'X-Request-ID': 'bad id with spaces' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await linesFor(id)).not.toHaveLength(0);
  });

  it('logs 4xx as warn, 5xx as error with an err, without the duration in the message', async () => {
    await fetch(`${url}/x?status=404`, { headers: { 'X-Request-ID': 'four' } });
    await fetch(`${url}/x?status=503`, { headers: { 'X-Request-ID': 'five' } });
    const [four] = (await linesFor('four')).filter((l) => l.res);
    const [five] = (await linesFor('five')).filter((l) => l.res);
    expect(four).toMatchObject({ level: 40, msg: expect.stringMatching(/^GET unmatched 404 \d+ms$/) });
    expect(five).toMatchObject({
      level: 50,
      msg: 'GET unmatched 503',
      err: { message: 'failed with status code 503' },
    });
  });

  it('writes no line for health probes and metric scrapes', async () => {
    await fetch(`${url}/health/live`, { headers: { 'X-Request-ID': 'probe' } });
    await fetch(`${url}/metrics`, { headers: { 'X-Request-ID': 'scrape' } });
    expect((await linesFor('probe')).filter((l) => l.res)).toEqual([]);
    expect((await linesFor('scrape')).filter((l) => l.res)).toEqual([]);
  });
});

describe('requestLoggerTo', () => {
  it('removes the redacted paths from what the app logs, and writes completion lines in full', async () => {
    const sink = new Lines();
    const requestLogger = requestLoggerTo(sink, 'info');
    requestLogger.logger.info(
      {
        req: { headers: { cookie: 'c' } },
        call: { authorization: 'Bearer t', token: 't', password: 'p', kept: 1 },
      },
      'calling',
    );
    requestLogger.logger.child({ req: { id: 'r' } }).warn({ upstream: { token: 't' } }, 'child');
    const server = createServer((req, res) => requestLogger(req, res, () => res.end('{}')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/things?token=t`, { headers: { 'X-Request-ID': 'plain-line' } });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const [calling, child, done] = sink.lines;
    expect(calling).toMatchObject({ msg: 'calling', req: {}, call: { kept: 1 } });
    expect(calling.req).toEqual({});
    expect(calling.call).toEqual({ kept: 1 });
    expect(child).toMatchObject({ msg: 'child', upstream: {} });
    expect(child.upstream).toEqual({});
    expect(done).toMatchObject({
      level: 30,
      req: { id: 'plain-line', method: 'GET', path: '/things' },
      res: { statusCode: 200 },
      route: 'unmatched',
    });
    expect(JSON.stringify(sink.lines)).not.toMatch(/Bearer|"t"|"p"|cookie/);
  });
});

describe('AppLogger', () => {
  it("logs Nest's start-up chatter at debug and everything else as it comes", () => {
    const logger = new AppLogger(nestLogger, params);
    const before = out.lines.length;
    logger.log('Mapped {/chatkit, POST} route', 'RouterExplorer');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('connected', 'Database');
    expect(out.lines.slice(before).map((l) => [l.level, l.context])).toEqual([
      [20, 'RouterExplorer'],
      [20, 'InstanceLoader'],
      [30, 'Database'],
    ]);
  });
});

describe('traceFields', () => {
  it('gives the ids of a span in the W3C spelling', () => {
    const span = trace.wrapSpanContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
    expect(traceFields(span)).toEqual({
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      trace_flags: '01',
    });
  });

  it('adds nothing without a span (tracing off) or with an invalid one', () => {
    expect(traceFields()).toEqual({});
    expect(traceFields(trace.wrapSpanContext(INVALID_SPAN_CONTEXT))).toEqual({});
  });
});
