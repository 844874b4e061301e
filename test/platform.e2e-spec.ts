/**
 * The production plumbing over real HTTP: request ids, error shape, rate limits (memory and
 * Redis), metrics with route templates, OpenAPI, readiness against a database that goes away
 * and comes back.
 */
import { spawnSync } from 'node:child_process';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';
import { TcpProxy } from 'test/support/tcp-proxy';

describe('request ids, errors, metrics and OpenAPI', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  it('echoes a client X-Request-ID and generates one otherwise', async () => {
    const mine = await fetch(`${app.url}/health/live`, { headers: { 'X-Request-ID': 'req-abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('req-abc-123');
    const generated = await fetch(`${app.url}/health/live`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a GET's JSON with an ETag that revalidates to 304, and a POST's JSON without one", async () => {
    const user = uniqueUser('etag');
    const posted = await app.fetch('/chatkit', {
      method: 'POST',
      user,
      json: { type: 'threads.list', params: {} },
    });
    expect(posted.status).toBe(200);
    expect(posted.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(posted.headers.get('etag')).toBeNull();
    const body = await posted.text();
    expect(JSON.parse(body)).toEqual({ data: [], has_more: false });
    expect(Number(posted.headers.get('content-length'))).toBe(Buffer.byteLength(body));

    const got = await app.fetch('/chatkit/threads', { user });
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await got.json()).toEqual({ data: [], has_more: false });
    const etag = got.headers.get('etag');
    expect(etag).toMatch(/^W\/"/);
    // fetch adds `Cache-Control: no-cache` (which asks for a full answer) unless one is given.
    const again = await app.fetch('/chatkit/threads', {
      user,
      headers: { 'If-None-Match': etag!, 'Cache-Control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
  });

  it('answers unknown routes with the standard error body', async () => {
    const res = await fetch(`${app.url}/no/such/route/42`, { headers: { 'X-Request-ID': 'req-404' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      statusCode: 404,
      code: 'not_found',
      message: expect.any(String),
      requestId: 'req-404',
    });
  });

  it('rejects malformed JSON bodies with 400', async () => {
    const res = await fetch(`${app.url}/api/me`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenFor('u1')}` },
      body: '{"broken": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/JSON/) });
  });

  it('exposes the request-duration histogram labelled by route template, never raw paths', async () => {
    await app.fetch('/api/me', { user: 'metrics-user' });
    await fetch(`${app.url}/no/such/route/12345`);
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('# TYPE chatkit_http_request_duration_seconds histogram');
    expect(text).toMatch(
      /chatkit_http_request_duration_seconds_bucket\{[^}]*method="GET"[^}]*route="\/api\/me"[^}]*status="200"/,
    );
    expect(text).toMatch(/route="unmatched"/);
    expect(text).not.toContain('12345');
    expect(text).toContain('chatkit_http_requests_in_flight');
    expect(text).toContain('chatkit_process_cpu_user_seconds_total');
  });

  // The document's content and validity: test/openapi.e2e-spec.ts.
  it('serves the OpenAPI document with the bearer scheme, and Swagger UI', async () => {
    const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as Record<string, any>;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/health/ready']).toBeDefined();
    const ui = await fetch(`${app.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });
});

describe('rate limits (in memory)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_S: '60' });
  });
  afterAll(() => app.close());

  it('answers 429 with Retry-After after the per-user limit, and keys on the user', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await app.fetch('/api/me', { user: 'limited-user' });
      statuses.push(last.status);
      if (i === 0) {
        expect(last.headers.get('x-ratelimit-limit')).toBe('3');
        expect(last.headers.get('x-ratelimit-remaining')).toBe('2');
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last!.json()).toMatchObject({ statusCode: 429, code: 'rate_limited' });
    // Another user has a budget of their own.
    expect((await app.fetch('/api/me', { user: 'other-user' })).status).toBe(200);
  });

  it('gives a caller one budget across every route, not one per route', async () => {
    const user = 'cross-route-user';
    const statuses: number[] = [];
    for (const path of ['/api/me', '/api/threads', '/api/me', '/api/threads']) {
      statuses.push((await app.fetch(path, { user })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('does not count health probes', async () => {
    for (let i = 0; i < 5; i++) expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
  });
});

/**
 * Whether Redis answers on 127.0.0.1:6379, decided before the tests are registered (jest cannot
 * register tests asynchronously), by a short-lived child process that tries to connect.
 */
function redisReachable(): boolean {
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createConnection(6379, '127.0.0.1');
       s.setTimeout(500);
       s.once('connect', () => process.exit(0));
       s.once('error', () => process.exit(1));
       s.once('timeout', () => process.exit(1));`,
    ],
    { timeout: 3000 },
  );
  return probe.status === 0;
}

describe('rate limits shared through Redis', () => {
  // Without Redis the test is not registered (CI starts Redis), and the run says so.
  if (!redisReachable()) {
    process.stdout.write(
      '\nRedis is not running on 127.0.0.1:6379: the Redis-backed rate-limit test was not run\n',
    );
    return;
  }

  it('two app instances share one budget per user', async () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', RATE_LIMIT_MAX: '4', RATE_LIMIT_WINDOW_S: '60' };
    // /api/me needs no database; two apps at once would wait on the embedded database's one connection.
    const a = await startApp(env, undefined, { waitForDatabase: false });
    const b = await startApp(env, undefined, { waitForDatabase: false });
    try {
      const user = `redis-user-${Date.now()}`;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await (i % 2 ? b : a).fetch('/api/me', { user })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('rate limits when Redis is down', () => {
  it('lets requests through instead of failing them', async () => {
    const app = await startApp({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_MAX: '2' });
    try {
      for (let i = 0; i < 3; i++)
        expect((await app.fetch('/api/me', { user: 'no-redis-user' })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('readiness follows the database', () => {
  let proxy: TcpProxy;
  let app: TestApp;
  beforeAll(async () => {
    proxy = TcpProxy.forUrl(process.env.DATABASE_URL!);
    await proxy.start();
  });
  afterAll(async () => {
    await app?.close();
    await proxy.stop();
  });

  const ready = async () => (await fetch(`${app.url}/health/ready`)).status;
  const listThreads = () =>
    app.fetch('/chatkit', {
      method: 'POST',
      user: 'db-down-user',
      json: { type: 'threads.list', params: {} },
    });

  it('starts without a database, reports 503, and recovers without a restart', async () => {
    await proxy.cut();
    app = await startApp(
      {
        DATABASE_URL: proxy.proxiedUrl(process.env.DATABASE_URL!),
        DATABASE_POOL_SIZE: '1',
        DATABASE_CONNECT_TIMEOUT_MS: '500',
        DATABASE_RETRY_INTERVAL_MS: '200',
      },
      undefined,
      { waitForDatabase: false },
    );
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    const down = await fetch(`${app.url}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      code: 'service_unavailable',
      details: { database: { status: 'down' } },
    });
    // Data routes say why they cannot answer; routes that need no database still work.
    const data = await listThreads();
    expect(data.status).toBe(503);
    expect(data.headers.get('retry-after')).toBe('5');
    expect(await data.json()).toMatchObject({ code: 'database_unavailable' });
    expect((await app.fetch('/api/me', { user: 'db-down-user' })).status).toBe(200);

    await proxy.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await ready();
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });

  it('flips to 503 when the database goes away and back to 200 when it returns', async () => {
    expect(await ready()).toBe(200);
    await proxy.cut();
    expect(await ready()).toBe(503);
    const data = await listThreads();
    expect(data.status).toBe(503);
    expect(await data.json()).toMatchObject({ code: 'database_unavailable' });
    await proxy.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await ready();
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    expect((await listThreads()).status).toBe(200);
  });
});
