/**
 * Rate limiting that holds where it matters: failed authentication is limited per client address
 * (a flood of missing or forged tokens is cut off), and while Redis is unreachable the limiter
 * behaves as the operator chose: requests pass and the outage is visible (`open`), or rate-limited
 * routes are refused with 503 and the replica is taken out of rotation (`closed`); either way
 * limiting resumes by itself when Redis is back.
 */
import { spawnSync } from 'node:child_process';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';
import { TcpProxy } from 'test/support/tcp-proxy';

describe('failed authentication is limited per client address', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The default budget (unset), with addresses from X-Forwarded-For as behind a load balancer.
    app = await startApp({ TRUST_PROXY: 'loopback', RATE_LIMIT_AUTH_FAILURES_MAX: undefined }, undefined, {
      waitForDatabase: false,
    });
  });
  afterAll(() => app.close());

  const from = (address: string, headers: Record<string, string> = {}) => ({
    headers: { 'X-Forwarded-For': address, ...headers },
  });

  async function flood(address: string, headers: Record<string, string>): Promise<Response[]> {
    const responses: Response[] = [];
    for (let i = 0; i < 40; i++) responses.push(await fetch(`${app.url}/api/me`, from(address, headers)));
    return responses;
  }

  function expectCutOffAfterBudget(responses: Response[]): void {
    // The default budget: 20 failed attempts per minute per address.
    expect(responses.slice(0, 20).map((r) => r.status)).toEqual(Array(20).fill(401));
    expect(responses.slice(20).map((r) => r.status)).toEqual(Array(20).fill(429));
    expect(responses[0].headers.get('x-ratelimit-limit')).toBe('20');
    expect(responses[0].headers.get('x-ratelimit-remaining')).toBe('19');
    const last = responses[39];
    expect(last.headers.get('x-ratelimit-limit')).toBe('20');
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(last.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  }

  it('answers 429 after 20 requests without a token, and still serves a valid token and the probes', async () => {
    const address = '203.0.113.10';
    const responses = await flood(address, {});
    expectCutOffAfterBudget(responses);
    expect(await responses[39].json()).toMatchObject({ statusCode: 429, code: 'rate_limited' });

    const valid = await fetch(
      `${app.url}/api/me`,
      from(address, { Authorization: `Bearer ${await tokenFor('served-user')}` }),
    );
    expect(valid.status).toBe(200);
    expect(await valid.json()).toMatchObject({ userId: 'served-user' });
    for (const path of ['/health/live', '/health/live', '/metrics'])
      expect((await fetch(`${app.url}${path}`, from(address))).status).toBe(200);
  });

  it('answers 429 after 20 requests with a bad signature, from that address only', async () => {
    const forged = await tokenFor('forged-user', {
      secret: 'not-the-server-secret-but-long-enough-0123456789',
    });
    const responses = await flood('203.0.113.11', { Authorization: `Bearer ${forged}` });
    expectCutOffAfterBudget(responses);
    expect(await responses[39].json()).toMatchObject({ code: 'rate_limited' });

    // Another address has a budget of its own.
    const other = await fetch(
      `${app.url}/api/me`,
      from('203.0.113.12', { Authorization: `Bearer ${forged}` }),
    );
    expect(other.status).toBe(401);
    expect(other.headers.get('x-ratelimit-remaining')).toBe('19');
  });

  it('counts an IPv6 client per /64, since one host can use any address of its prefix', async () => {
    for (let i = 1; i <= 20; i++)
      expect((await fetch(`${app.url}/api/me`, from(`2001:db8:1:2::${i.toString(16)}`))).status).toBe(401);
    expect((await fetch(`${app.url}/api/me`, from('2001:db8:1:2:ffff::77'))).status).toBe(429);
    expect((await fetch(`${app.url}/api/me`, from('2001:db8:1:3::1'))).status).toBe(401);
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

describe('rate limits while Redis is unreachable', () => {
  // Without Redis the tests are not registered (CI starts Redis), and the run says so.
  if (!redisReachable()) {
    process.stdout.write('\nRedis is not running on 127.0.0.1:6379: the Redis outage tests were not run\n');
    return;
  }

  const LIMIT = 3;
  let proxy: TcpProxy;
  let app: TestApp | undefined;
  beforeEach(async () => {
    proxy = new TcpProxy('127.0.0.1', 6379);
    await proxy.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await proxy.stop();
  });

  const start = (mode: string) =>
    startApp({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      RATE_LIMIT_MAX: String(LIMIT),
      RATE_LIMIT_WINDOW_S: '60',
      RATE_LIMIT_REDIS_FAILURE: mode,
    });

  async function statusesFor(user: string, count: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) statuses.push((await app!.fetch('/api/me', { user })).status);
    return statuses;
  }

  async function readiness(): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`${app!.url}/health/ready`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  /** Polls until Redis is reported up again (the client reconnects on its own); then limiting resumes. */
  async function untilRedisIsBack(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { body } = await readiness();
      if (body.details?.rateLimit?.redis === 'up') return;
      if (Date.now() > deadline) throw new Error(`Redis still reported down: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('open: lets requests through, reports the outage in metrics and readiness, and limits again once Redis is back', async () => {
    app = await start('open');
    expect(await statusesFor(uniqueUser('open-before'), LIMIT + 1)).toEqual([200, 200, 200, 429]);

    await proxy.cut();
    expect(await statusesFor(uniqueUser('open-during'), LIMIT + 3)).toEqual(Array(LIMIT + 3).fill(200));

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const failures = /^chatkit_rate_limit_storage_failures_total (\d+)/m.exec(metrics);
    expect(Number(failures?.[1])).toBeGreaterThanOrEqual(LIMIT + 3);
    expect(metrics).toMatch(/^chatkit_rate_limit_storage_up 0$/m);

    const down = await readiness();
    expect(down.status).toBe(200);
    expect(down.body.details.rateLimit).toMatchObject({ status: 'up', redis: 'down', enforced: false });

    await proxy.start();
    await untilRedisIsBack();
    expect(await statusesFor(uniqueUser('open-after'), LIMIT + 1)).toEqual([200, 200, 200, 429]);
    expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^chatkit_rate_limit_storage_up 1$/m);
  });

  it('closed: refuses rate-limited routes with 503 and fails readiness, and serves and limits again once Redis is back', async () => {
    app = await start('closed');
    expect(await statusesFor(uniqueUser('closed-before'), LIMIT + 1)).toEqual([200, 200, 200, 429]);

    await proxy.cut();
    const refused = await app.fetch('/api/me', { user: uniqueUser('closed-during') });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ statusCode: 503, code: 'rate_limit_unavailable' });
    // The probes do not depend on Redis.
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);

    const down = await readiness();
    expect(down.status).toBe(503);
    expect(down.body.details.rateLimit).toMatchObject({ status: 'down', redis: 'down' });

    await proxy.start();
    await untilRedisIsBack();
    expect((await readiness()).status).toBe(200);
    expect(await statusesFor(uniqueUser('closed-after'), LIMIT + 1)).toEqual([200, 200, 200, 429]);
  });
});
