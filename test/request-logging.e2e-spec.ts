/**
 * Every response carries a request id (in the body and the X-Request-ID header) and produces
 * exactly one request log line — including requests refused before routing (unparseable or
 * oversized bodies) — and no error message repeats what the client sent.
 */
import { LOG_DESTINATION } from 'src/common/logging.module';
import { LogCapture } from 'test/support/log-capture';
import { startApp, tokenFor, type TestApp } from 'test/support/test-app';

describe('request ids and log lines on every response', () => {
  const log = new LogCapture();
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ LOG_LEVEL: 'info', BODY_LIMIT_KB: '1' }, (builder) =>
      builder.overrideProvider(LOG_DESTINATION).useValue(log),
    );
  });
  afterAll(() => app.close());

  async function expectIdAndOneLine(res: Response, status: number): Promise<Record<string, any>> {
    expect(res.status).toBe(status);
    const body = (await res.json()) as Record<string, any>;
    const header = res.headers.get('x-request-id');
    expect(header).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.requestId).toBe(header);
    const lines = await log.forRequest(header!);
    expect(lines).toHaveLength(1);
    expect(lines[0].res).toEqual({ statusCode: status });
    return body;
  }

  it('answers malformed JSON with 400, the request id, one log line, and no part of the body', async () => {
    const res = await fetch(`${app.url}/chatkit`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenFor('log-user')}` },
      body: '{"type": "threads.list", "params": sEcReT-BoDy-TeXt}',
    });
    const body = await expectIdAndOneLine(res, 400);
    expect(body).toMatchObject({ statusCode: 400, code: 'bad_request' });
    expect(JSON.stringify(body)).not.toMatch(/sEcReT|BoDy|TeXt|threads\.list/);
    expect(JSON.stringify(log.lines)).not.toMatch(/sEcReT/);
  });

  it('answers an unparseable form body with 400 and the same guarantees', async () => {
    const res = await fetch(`${app.url}/chatkit`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded; charset=klingon-sEcReT',
        Authorization: `Bearer ${await tokenFor('log-user')}`,
      },
      body: 'a=1',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const body = await expectIdAndOneLine(res, res.status);
    expect(JSON.stringify(body)).not.toMatch(/klingon|sEcReT/i);
  });

  it('answers an oversized body with 413, the request id and one log line', async () => {
    const res = await fetch(`${app.url}/chatkit`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenFor('log-user')}` },
      body: JSON.stringify({ type: 'threads.list', params: {}, padding: 'x'.repeat(4096) }),
    });
    const body = await expectIdAndOneLine(res, 413);
    expect(body).toMatchObject({ code: 'payload_too_large' });
  });

  it('answers a missing token with 401, the request id and one log line', async () => {
    const body = await expectIdAndOneLine(await fetch(`${app.url}/api/me`), 401);
    expect(body).toMatchObject({ code: 'token_missing' });
  });

  it('answers an unknown route with 404, the request id and one log line', async () => {
    const body = await expectIdAndOneLine(await fetch(`${app.url}/no/such/route`), 404);
    expect(body).toMatchObject({ code: 'not_found' });
  });

  it('names a wrong field without repeating the value that was sent', async () => {
    const res = await app.fetch('/chatkit', {
      method: 'POST',
      user: 'log-user',
      json: { type: 'threads.get_by_id', params: { thread_id: 12345678987654 }, sEcReTkEy: 'sEcReT-VaLuE' },
    });
    const body = await expectIdAndOneLine(res, 400);
    expect(body.code).toBe('validation_failed');
    expect(JSON.stringify(body)).not.toMatch(/12345678987654|sEcReT/);
  });
});
