/**
 * Token claims never widen access: an org claim that is present but unusable, a user claim that is
 * not a sane identifier, a token that never expires or is too old, and an invalid X-Org-ID header
 * in development mode are all refused with a 401, never read as "no org" (which would reach the
 * caller's org-less data and, for an administrator, the global knowledge base).
 */
import { DataSource } from 'typeorm';
import { parseSse, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'chatkit';
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PRODUCTION = {
  NODE_ENV: 'production',
  ATTACHMENTS_SIGNING_KEY: 'attachments-signing-key-for-the-claims-tests-0123456789',
  AUTH_JWT_ISSUER: ISSUER,
  AUTH_JWT_AUDIENCE: AUDIENCE,
  AUTH_CLOCK_TOLERANCE_S: '5',
  RAG_SEED_DOCS: 'false',
  CHATKIT_HEARTBEAT_MS: '0',
};

type TokenOptions = Parameters<typeof tokenFor>[1];

/** A token from the configured issuer for the configured audience, with `claims` on top. */
function token(user: string, claims: Record<string, unknown> = {}, opts: TokenOptions = {}) {
  return tokenFor(user, { ...opts, claims: { iss: ISSUER, aud: AUDIENCE, ...claims } });
}

async function me(app: TestApp, bearer?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/api/me`, {
    headers: { ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}), ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function chatkit(app: TestApp, bearer: string, body: unknown) {
  const res = await fetch(`${app.url}/chatkit`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  const sse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  return {
    status: res.status,
    events: sse ? parseSse(raw) : [],
    json: !sse && raw ? JSON.parse(raw) : undefined,
  };
}

function expectOrgRefused(res: { status: number; body: Record<string, any> }, claim = '"org"') {
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ statusCode: 401, code: 'token_invalid_org_claim' });
  expect(res.body.message).toContain(claim);
}

/** Org claim values that are present but unusable: never "no org". */
const BAD_ORGS: Array<[string, unknown]> = [
  ['an array of two orgs', ['orgA', 'orgB']],
  ['an empty array', []],
  ['an array holding a number', [42]],
  ['an array holding an empty string', ['']],
  ['an object', { id: 'orgB' }],
  ['an empty string', ''],
  ['a blank string', '   '],
  ['a string with leading whitespace', ' orgA'],
  ['a string with trailing whitespace', 'orgA\t'],
  ['a number', 42],
  ['a boolean', true],
  ['null', null],
  ['a string of 256 characters', 'o'.repeat(256)],
  ['a string with a NUL', 'org\u0000A'],
  ['a string with a bell character', '\u0007orgA'],
  ['a string with a newline', 'org\nA'],
  ['a string with a C1 control character', 'org\u0085A'],
  ['a string with a lone high surrogate', 'org\uD800A'],
  ['a string with a lone low surrogate', '\uDC00orgA'],
];

/** User claim values that are not a sane identifier. */
const BAD_USERS: Array<[string, string]> = [
  ['a blank subject', ' '],
  ['an empty subject', ''],
  ['leading whitespace', ' alice'],
  ['trailing whitespace', 'alice '],
  ['a NUL', 'a\u0000b'],
  ['a bell character', '\u0007x'],
  ['a DEL character', 'alice\u007F'],
  ['a lone surrogate', 'alice\uDBFF'],
  ['256 characters', 'u'.repeat(256)],
];

describe('claims (production, HS256 with issuer, audience and an org claim)', () => {
  let app: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp(PRODUCTION);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  describe('the org claim', () => {
    it.each(BAD_ORGS)('refuses %s with 401 token_invalid_org_claim', async (_name, org) => {
      expectOrgRefused(await me(app, await token('alice', { org })));
    });

    it.each([
      ['a plain string', 'acme', 'acme'],
      ['a one-element array (Keycloak)', ['acme'], 'acme'],
      ['255 characters', 'o'.repeat(255), 'o'.repeat(255)],
      ['non-ASCII text', 'Société Générale 🏦', 'Société Générale 🏦'],
    ])('accepts %s', async (_name, org, expected) => {
      expect(await me(app, await token('alice', { org }))).toEqual({
        status: 200,
        body: { userId: 'alice', orgId: expected, isAdmin: false },
      });
    });

    it('reads no org when the claim is absent (and the org is not required)', async () => {
      expect(await me(app, await token('alice'))).toEqual({
        status: 200,
        body: { userId: 'alice', orgId: null, isAdmin: false },
      });
    });
  });

  describe('cross-org isolation', () => {
    const user = uniqueUser('claims');
    const orgA = `orgA-${RUN}`;
    let threadId: string;

    beforeAll(async () => {
      const created = await chatkit(app, await token(user, { org: [orgA] }), {
        type: 'threads.create',
        params: { input: userInput('org A secret') },
      });
      expect(created.status).toBe(200);
      threadId = created.events[0].thread.id;
    });

    const read = async (claims: Record<string, unknown>) =>
      chatkit(app, await token(user, claims), { type: 'threads.get_by_id', params: { thread_id: threadId } });

    it('the thread belongs to org A', async () => {
      expect((await read({ org: orgA })).status).toBe(200);
      const rows: Array<{ org_id: string }> = await db.query('SELECT org_id FROM threads WHERE id = $1', [
        threadId,
      ]);
      expect(rows).toEqual([{ org_id: orgA }]);
    });

    it.each<[string, unknown]>([
      ['an object naming another org', { id: 'orgB' }],
      ['an object naming org A', { id: orgA }],
      ['an array of org A and another', [orgA, 'orgB']],
      ['an empty string', ''],
      ['a number', 7],
    ])('a token whose org claim is %s cannot read it (401)', async (_name, org) => {
      const res = await read({ org });
      expect(res.status).toBe(401);
      expect(res.json.code).toBe('token_invalid_org_claim');
    });

    it('a token without an org claim cannot read it (404) nor list it', async () => {
      expect((await read({})).status).toBe(404);
      const list = await chatkit(app, await token(user), { type: 'threads.list', params: {} });
      expect(list.status).toBe(200);
      expect(list.json.data.map((t: { id: string }) => t.id)).not.toContain(threadId);
    });

    it('a token for another org cannot read it (404)', async () => {
      expect((await read({ org: `orgB-${RUN}` })).status).toBe(404);
    });
  });

  describe('the knowledge base', () => {
    const admin = uniqueUser('claims-admin');
    const word = `quokkaclaims${RUN}`;
    const upload = async (org: unknown, source: string) =>
      fetch(`${app.url}/api/documents`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await token(admin, org === undefined ? {} : { org }, { roles: ['admin'] })}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ source, content: `# Leak\n\n${word} must never be global.` }),
      });
    const stored = async (source: string) =>
      Number((await db.query('SELECT count(*)::int AS n FROM documents WHERE source = $1', [source]))[0].n);
    const searchHits = async (org?: string) => {
      const res = await fetch(`${app.url}/api/search?q=${word}&mode=fulltext`, {
        headers: { Authorization: `Bearer ${await token(uniqueUser('member'), org ? { org } : {})}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { results: unknown[] }).results.length;
    };

    it.each<[string, unknown]>([
      ['an array of two orgs', ['orgA', 'orgB']],
      ['an empty array', []],
      ['an object', { id: 'orgA' }],
      ['an empty string', ''],
      ['a number', 0],
      ['a string with a control character', 'org\u0001A'],
    ])('an admin whose org claim is %s cannot upload (401, nothing stored)', async (name, org) => {
      const source = `claims/${RUN}/${name.replace(/\W+/g, '-')}.md`;
      const res = await upload(org, source);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('token_invalid_org_claim');
      expect(await stored(source)).toBe(0);
      // Nothing reached the global knowledge base: an org-less member finds nothing.
      expect(await searchHits()).toBe(0);
      const list = await fetch(`${app.url}/api/documents?limit=200`, {
        headers: { Authorization: `Bearer ${await token(admin, {}, { roles: ['admin'] })}` },
      });
      expect(list.status).toBe(200);
      const docs = ((await list.json()) as { data: Array<{ source: string }> }).data;
      expect(docs.map((d) => d.source)).not.toContain(source);
    });

    it('the same upload with a good org claim lands in that org only', async () => {
      const org = `kb-${RUN}`;
      const source = `claims/${RUN}/good.md`;
      expect((await upload(org, source)).status).toBe(201);
      const rows: Array<{ org_id: string }> = await db.query(
        'SELECT org_id FROM documents WHERE source = $1',
        [source],
      );
      expect(rows).toEqual([{ org_id: org }]);
      expect(await searchHits(org)).toBe(1);
      expect(await searchHits()).toBe(0);
    });
  });

  describe('the user claim', () => {
    it.each(BAD_USERS)('refuses %s with 401 token_invalid_claims naming the claim', async (_name, sub) => {
      const res = await me(app, await token(sub, { org: 'acme' }));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'token_invalid_claims' });
      expect(res.body.message).toContain('"sub"');
    });

    it.each([
      ['an email address', 'alice@example.com'],
      ['255 characters', 'u'.repeat(255)],
      ['non-ASCII text', 'zoë-😀'],
      ['an inner space', 'Alice Smith'],
    ])('accepts %s', async (_name, sub) => {
      expect(await me(app, await token(sub))).toMatchObject({ status: 200, body: { userId: sub } });
    });
  });

  describe('expiry', () => {
    it('refuses a token without exp (required by default)', async () => {
      const res = await me(app, await token('alice', { org: 'acme' }, { expiresIn: null }));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 'token_invalid_claims' });
      expect(res.body.message).toMatch(/"exp".*required|required.*"exp"/);
    });

    it('does not limit the age of a token when AUTH_MAX_TOKEN_AGE_S is unset', async () => {
      const old = Math.floor(Date.now() / 1000) - 30 * 86400;
      expect((await me(app, await token('alice', {}, { issuedAt: old }))).status).toBe(200);
      expect((await me(app, await token('alice', {}, { issuedAt: null }))).status).toBe(200);
    });
  });
});

describe('claims with AUTH_REQUIRE_EXP=false, AUTH_ORG_REQUIRED=true and namespaced claim names', () => {
  let app: TestApp;
  const ORG = 'https://example.com/org';
  beforeAll(async () => {
    app = await startApp({
      ...PRODUCTION,
      AUTH_REQUIRE_EXP: 'false',
      AUTH_ORG_REQUIRED: 'true',
      AUTH_ORG_CLAIM: ORG,
      AUTH_USER_CLAIM: 'https://example.com/uid',
    });
  });
  afterAll(() => app.close());

  const namespaced = (uid: unknown, org: unknown, opts: TokenOptions = {}) =>
    token(
      'ignored-sub',
      { 'https://example.com/uid': uid, ...(org === undefined ? {} : { [ORG]: org }) },
      opts,
    );

  it('reads a top-level claim whose name has dots and slashes verbatim', async () => {
    expect(await me(app, await namespaced('u-1', 'acme'))).toEqual({
      status: 200,
      body: { userId: 'u-1', orgId: 'acme', isAdmin: false },
    });
  });

  it('accepts a token without exp when AUTH_REQUIRE_EXP=false', async () => {
    expect(await me(app, await namespaced('u-1', 'acme', { expiresIn: null }))).toMatchObject({
      status: 200,
      body: { userId: 'u-1', orgId: 'acme' },
    });
  });

  it('still refuses an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 600;
    expect(await me(app, await namespaced('u-1', 'acme', { expiresIn: past }))).toMatchObject({
      status: 401,
      body: { code: 'token_expired' },
    });
  });

  it('refuses a token without the org claim when the org is required', async () => {
    expectOrgRefused(await me(app, await namespaced('u-1', undefined)), `"${ORG}"`);
  });

  it('refuses an object org claim when no path is configured', async () => {
    expectOrgRefused(await me(app, await namespaced('u-1', { id: 'acme' })), `"${ORG}"`);
  });

  it.each([
    ['blank', ' '],
    ['a number', 12345],
    ['a control character', 'u\u0000'],
  ])('names the configured user claim when it is %s', async (_name, uid) => {
    const res = await me(app, await namespaced(uid, 'acme'));
    expect(res).toMatchObject({ status: 401, body: { code: 'token_invalid_claims' } });
    expect(res.body.message).toContain('"https://example.com/uid"');
  });
});

describe('claims with AUTH_ORG_CLAIM_PATH and AUTH_MAX_TOKEN_AGE_S', () => {
  let app: TestApp;
  const TENANT = 'https://example.com/tenant';
  beforeAll(async () => {
    app = await startApp({
      ...PRODUCTION,
      AUTH_ORG_CLAIM: TENANT,
      AUTH_ORG_CLAIM_PATH: 'org.id',
      AUTH_MAX_TOKEN_AGE_S: '60',
    });
  });
  afterAll(() => app.close());

  const withTenant = (tenant: unknown, opts: TokenOptions = {}) =>
    token('carol', tenant === undefined ? {} : { [TENANT]: tenant }, opts);

  it('reads the org at the configured path inside the object claim', async () => {
    expect(await me(app, await withTenant({ org: { id: 'acme', name: 'Acme' }, plan: 'pro' }))).toEqual({
      status: 200,
      body: { userId: 'carol', orgId: 'acme', isAdmin: false },
    });
    expect(await me(app, await withTenant({ org: { id: ['acme'] } }))).toMatchObject({
      status: 200,
      body: { orgId: 'acme' },
    });
  });

  it('reads no org when the claim is absent', async () => {
    expect(await me(app, await withTenant(undefined))).toMatchObject({ status: 200, body: { orgId: null } });
  });

  it.each<[string, unknown]>([
    ['an object without the path', { plan: 'pro' }],
    ['an object with only part of the path', { org: { name: 'Acme' } }],
    ['an object whose path ends on an object', { org: { id: { value: 'acme' } } }],
    ['an object whose path ends on null', { org: { id: null } }],
    ['an object whose path ends on ""', { org: { id: '' } }],
    ['an object whose path ends on two orgs', { org: { id: ['a', 'b'] } }],
    ['an object whose path crosses an array', { org: [{ id: 'acme' }] }],
    ['a string instead of an object', 'acme'],
    ['an array instead of an object', [{ org: { id: 'acme' } }]],
    ['an object with the dotted path as one key', { 'org.id': 'acme' }],
  ])('refuses %s with 401 token_invalid_org_claim', async (_name, tenant) => {
    const res = await me(app, await withTenant(tenant));
    expectOrgRefused(res, `"${TENANT}"`);
    expect(res.body.message).toContain('org.id');
  });

  it('accepts a fresh token', async () => {
    expect((await me(app, await withTenant({ org: { id: 'acme' } }))).status).toBe(200);
  });

  it('refuses a token issued longer ago than the maximum age with 401 token_expired', async () => {
    const old = Math.floor(Date.now() / 1000) - 3600;
    const res = await me(app, await withTenant({ org: { id: 'acme' } }, { issuedAt: old }));
    expect(res).toMatchObject({ status: 401, body: { code: 'token_expired' } });
    expect(res.body.message).toMatch(/older than.*60 s/);
  });

  it('refuses a token without iat when a maximum age is set', async () => {
    const res = await me(app, await withTenant({ org: { id: 'acme' } }, { issuedAt: null }));
    expect(res).toMatchObject({ status: 401, body: { code: 'token_invalid_claims' } });
    expect(res.body.message).toContain('"iat"');
  });

  it('refuses a token issued in the future when a maximum age is set', async () => {
    const future = Math.floor(Date.now() / 1000) + 3600;
    const res = await me(app, await withTenant({ org: { id: 'acme' } }, { issuedAt: future }));
    expect(res).toMatchObject({ status: 401, body: { code: 'token_invalid_claims' } });
    expect(res.body.message).toContain('"iat"');
  });
});

describe('development mode headers', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ AUTH_DEV_MODE: 'true', AUTH_JWT_SECRET: undefined });
  });
  afterAll(() => app.close());

  it('takes the org from a valid X-Org-ID', async () => {
    expect(await me(app, undefined, { 'X-User-ID': 'dev', 'X-Org-ID': 'dev-org' })).toEqual({
      status: 200,
      body: { userId: 'dev', orgId: 'dev-org', isAdmin: false },
    });
  });

  it('reads no org without X-Org-ID', async () => {
    expect(await me(app, undefined, { 'X-User-ID': 'dev' })).toMatchObject({
      status: 200,
      body: { orgId: null },
    });
  });

  it.each([
    ['empty', ''],
    ['with a space', 'org A'],
    ['with a slash', 'org/A'],
    ['too long', 'o'.repeat(256)],
  ])('refuses an X-Org-ID that is %s with 401 token_invalid_org_claim', async (_name, org) => {
    const res = await me(app, undefined, { 'X-User-ID': 'dev', 'X-Org-ID': org, 'X-User-Role': 'admin' });
    expect(res).toMatchObject({ status: 401, body: { code: 'token_invalid_org_claim' } });
    expect(res.body.message).toContain('X-Org-ID');
  });

  it('refuses an invalid X-User-ID with 401 token_invalid_claims naming the header', async () => {
    const res = await me(app, undefined, { 'X-User-ID': 'dev user' });
    expect(res).toMatchObject({ status: 401, body: { code: 'token_invalid_claims' } });
    expect(res.body.message).toContain('X-User-ID');
  });
});
