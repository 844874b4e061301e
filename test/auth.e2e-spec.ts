/** Authentication over real HTTP: every bad-token kind is a 401 with a reason code; good tokens pass. */
import { createServer, type Server } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { startApp, tokenFor, TEST_JWT_SECRET, type TestApp } from 'test/support/test-app';

async function get(app: TestApp, authorization?: string, extra: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/api/me`, {
    headers: { ...(authorization ? { Authorization: authorization } : {}), ...extra },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function unsignedToken(payload: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.`;
}

describe('auth guard (HS256 secret)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({
      AUTH_JWT_ISSUER: 'https://issuer.test',
      AUTH_JWT_AUDIENCE: 'chatkit',
      AUTH_CLOCK_TOLERANCE_S: '5',
    });
  });
  afterAll(() => app.close());

  const sign = (
    claims: Record<string, unknown>,
    opts: { secret?: string; exp?: number | string; nbf?: number | string } = {},
  ) => {
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
    if (opts.exp !== undefined) jwt.setExpirationTime(opts.exp);
    if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
    return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
  };
  const good = { sub: 'alice', iss: 'https://issuer.test', aud: 'chatkit', org: 'acme', roles: ['admin'] };

  it('accepts a valid token and builds the context from its claims', async () => {
    const res = await get(app, `Bearer ${await sign(good, { exp: '5m' })}`);
    expect(res).toEqual({ status: 200, body: { userId: 'alice', orgId: 'acme', isAdmin: true } });
  });

  it.each([
    ['no Authorization header', async () => undefined, 'token_missing'],
    ['a non-Bearer scheme', async () => 'Basic YWxpY2U6cHc=', 'token_malformed'],
    ['garbage instead of a JWT', async () => 'Bearer not.a.jwt', 'token_malformed'],
    [
      'an expired token',
      async () => `Bearer ${await sign(good, { exp: Math.floor(Date.now() / 1000) - 60 })}`,
      'token_expired',
    ],
    [
      'a token not valid yet',
      async () => `Bearer ${await sign(good, { exp: '10m', nbf: Math.floor(Date.now() / 1000) + 600 })}`,
      'token_not_yet_valid',
    ],
    [
      'a token signed with another secret',
      async () => `Bearer ${await sign(good, { exp: '5m', secret: 'x'.repeat(48) })}`,
      'token_invalid_signature',
    ],
    [
      'an alg:none token',
      async () => `Bearer ${unsignedToken({ ...good, exp: Math.floor(Date.now() / 1000) + 300 })}`,
      'token_algorithm_not_allowed',
    ],
    [
      'a wrong issuer',
      async () => `Bearer ${await sign({ ...good, iss: 'https://evil.test' }, { exp: '5m' })}`,
      'token_invalid_claims',
    ],
    [
      'a wrong audience',
      async () => `Bearer ${await sign({ ...good, aud: 'other' }, { exp: '5m' })}`,
      'token_invalid_claims',
    ],
    [
      'no subject claim',
      async () => `Bearer ${await sign({ iss: good.iss, aud: good.aud }, { exp: '5m' })}`,
      'token_invalid_claims',
    ],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign(good, { exp: '5m' })).split('.');
        const forged = Buffer.from(
          JSON.stringify({ ...good, sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 300 }),
        ).toString('base64url');
        return `Bearer ${h}.${forged}.${s}`;
      },
      'token_invalid_signature',
    ],
  ])('rejects %s with 401 %s', async (_name, header, code) => {
    const res = await get(app, await header());
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, code });
    expect(typeof res.body.message).toBe('string');
    expect(typeof res.body.requestId).toBe('string');
  });

  it('does not honour X-User-ID when development mode is off', async () => {
    const res = await get(app, undefined, { 'X-User-ID': 'alice' });
    expect(res.status).toBe(401);
  });

  it('leaves public routes open', async () => {
    const res = await fetch(`${app.url}/health/live`);
    expect(res.status).toBe(200);
  });
});

describe('auth guard (JWKS)', () => {
  let jwksServer: Server;
  let app: TestApp;
  let privateKey: KeyLike;
  let otherKey: KeyLike;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const ecPair = await generateKeyPair('ES256');
    const jwks = {
      keys: [
        { ...(await exportJWK(pair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    };
    jwksServer = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const { port } = jwksServer.address() as { port: number };
    app = await startApp({
      AUTH_JWT_SECRET: undefined,
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    });
  });
  afterAll(async () => {
    await app.close();
    await new Promise((r) => jwksServer.close(r));
  });

  it('accepts an RS256 token whose key is in the JWKS', async () => {
    const token = await new SignJWT({ sub: 'bob' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await get(app, `Bearer ${token}`)).toEqual({
      status: 200,
      body: { userId: 'bob', orgId: null, isAdmin: false },
    });
  });

  it('rejects an RS256 token signed by a key that is not in the JWKS', async () => {
    const token = await new SignJWT({ sub: 'bob' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setExpirationTime('5m')
      .sign(otherKey);
    expect(await get(app, `Bearer ${token}`)).toMatchObject({
      status: 401,
      body: { code: 'token_invalid_signature' },
    });
  });

  it('rejects an HS256 token when only a JWKS is configured (no algorithm confusion)', async () => {
    const token = await tokenFor('bob');
    expect(await get(app, `Bearer ${token}`)).toMatchObject({
      status: 401,
      body: { code: 'token_algorithm_not_allowed' },
    });
  });
});

describe('development mode', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ AUTH_DEV_MODE: 'true', AUTH_JWT_SECRET: undefined });
  });
  afterAll(() => app.close());

  it('takes the user from X-User-ID', async () => {
    expect(await get(app, undefined, { 'X-User-ID': 'dev-user', 'X-Org-ID': 'dev-org' })).toEqual({
      status: 200,
      body: { userId: 'dev-user', orgId: 'dev-org', isAdmin: false },
    });
  });

  it('still requires some identity', async () => {
    expect(await get(app)).toMatchObject({ status: 401, body: { code: 'token_missing' } });
  });
});
