/**
 * What a front-end developer meets on a fresh clone: the REST thread routes at /chatkit/threads
 * with /api/threads as a deprecated alias, CORS for pages served by a local development server
 * (and not beyond development mode) and `npm run token`, whose tokens the real app accepts
 * (`npm run start:dev`: test/start-dev.e2e-spec.ts).
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chatkit, parseSse, userInput } from 'test/support/chatkit-client';
import { startApp, TEST_JWT_SECRET, uniqueUser, type TestApp } from 'test/support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');

/** A browser's preflight for a cross-origin request with a bearer token and a JSON body. */
function preflight(app: TestApp, path: string, origin: string, method = 'POST'): Promise<Response> {
  return fetch(`${app.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'authorization,content-type,x-user-id',
    },
  });
}

const devHeaders = (user: string) => ({ 'X-User-ID': user, 'Content-Type': 'application/json' });

describe('development mode (AUTH_DEV_MODE=true)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({
      AUTH_DEV_MODE: 'true',
      CORS_ORIGINS: 'https://app.example.com',
      CHATKIT_HEARTBEAT_MS: '0',
      RAG_SEED_DOCS: 'false',
      OPENAI_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
    });
  });
  afterAll(() => app?.close());

  describe('thread routes', () => {
    it('serves the same threads at /chatkit/threads and at the /api/threads alias', async () => {
      const user = uniqueUser();
      const created = await fetch(`${app.url}/chatkit/threads`, {
        method: 'POST',
        headers: devHeaders(user),
        body: JSON.stringify({ input: userInput('Where do threads live now?') }),
      });
      expect(created.status).toBe(200);
      expect(created.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = parseSse(await created.text());
      const id = events[0].thread.id as string;

      const added = await fetch(`${app.url}/chatkit/threads/${id}/messages`, {
        method: 'POST',
        headers: devHeaders(user),
        body: JSON.stringify({ input: userInput('And messages?') }),
      });
      expect(added.status).toBe(200);
      expect(parseSse(await added.text()).at(-1)).toMatchObject({
        type: 'thread.item.done',
        item: { type: 'assistant_message', thread_id: id },
      });

      for (const path of [`/${id}`, `/${id}/items?order=asc`, '?limit=5']) {
        const [current, alias] = await Promise.all(
          ['/chatkit/threads', '/api/threads'].map((base) =>
            fetch(`${app.url}${base}${path}`, { headers: { 'X-User-ID': user } }),
          ),
        );
        expect([current.status, alias.status]).toEqual([200, 200]);
        expect(await alias.json()).toEqual(await current.json());
      }
      const protocol = await fetch(`${app.url}/chatkit`, {
        method: 'POST',
        headers: devHeaders(user),
        body: JSON.stringify({ type: 'items.list', params: { thread_id: id, order: 'asc' } }),
      });
      const rest = await fetch(`${app.url}/chatkit/threads/${id}/items?order=asc`, {
        headers: { 'X-User-ID': user },
      });
      expect(await rest.json()).toEqual(await protocol.json());
      expect(rest.headers.get('deprecation')).toBeNull();
    });

    it('marks the alias deprecated with Deprecation and Link headers naming the new path', async () => {
      const user = uniqueUser();
      const alias = await fetch(`${app.url}/api/threads?limit=1`, { headers: { 'X-User-ID': user } });
      expect(alias.status).toBe(200);
      expect(alias.headers.get('deprecation')).toMatch(/^@\d+$/);
      expect(alias.headers.get('link')).toBe('</chatkit/threads>; rel="successor-version"');

      const missing = await fetch(`${app.url}/api/threads/thr_missing/items`, {
        headers: { 'X-User-ID': user },
      });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('link')).toBe(
        '</chatkit/threads/thr_missing/items>; rel="successor-version"',
      );

      // A path that could break out of the Link header's URI reference is not echoed.
      const odd = await fetch(`${app.url}/api/threads/a%3E,%3Cb/items`, { headers: { 'X-User-ID': user } });
      expect(odd.headers.get('link')).toBe('</chatkit/threads>; rel="successor-version"');

      const current = await fetch(`${app.url}/chatkit/threads?limit=1`, { headers: { 'X-User-ID': user } });
      expect(current.headers.get('deprecation')).toBeNull();
      expect(current.headers.get('link')).toBeNull();
    });

    it('lists both in the OpenAPI document, only the alias as deprecated', async () => {
      const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as { paths: Record<string, any> };
      const operations = (prefix: string) =>
        Object.entries(doc.paths)
          .filter(([path]) => path === prefix || path.startsWith(`${prefix}/`))
          .flatMap(([path, item]) =>
            Object.entries(item as Record<string, any>).map(([method, op]) => ({ path, method, op })),
          );
      const current = operations('/chatkit/threads');
      const alias = operations('/api/threads');
      expect(current.map((o) => `${o.method} ${o.path}`).sort()).toEqual([
        'delete /chatkit/threads/{id}',
        'get /chatkit/threads',
        'get /chatkit/threads/{id}',
        'get /chatkit/threads/{id}/items',
        'patch /chatkit/threads/{id}',
        'post /chatkit/threads',
        'post /chatkit/threads/{id}/messages',
        'post /chatkit/threads/{id}/stop',
      ]);
      expect(alias.map((o) => `${o.method} ${o.path.replace('/api/', '/chatkit/')}`).sort()).toEqual(
        current.map((o) => `${o.method} ${o.path}`).sort(),
      );
      expect(current.every((o) => o.op.deprecated !== true)).toBe(true);
      expect(alias.every((o) => o.op.deprecated === true)).toBe(true);
      expect(doc.paths['/chatkit'].post.deprecated).toBeUndefined();
      expect(doc.paths['/chatkit/attachments'].post).toBeDefined();
    });

    it('leaves POST /chatkit and the attachment routes where they were', async () => {
      const user = uniqueUser();
      const list = await chatkit(app, user, { type: 'threads.list', params: {} });
      expect(list.status).toBe(200);
      const form = new FormData();
      form.append('file', new Blob(['plain notes\n'], { type: 'text/plain' }), 'notes.txt');
      const upload = await fetch(`${app.url}/chatkit/attachments`, {
        method: 'POST',
        headers: { 'X-User-ID': user },
        body: form,
      });
      expect(upload.status).toBe(200);
      const attachment = (await upload.json()) as { id: string };
      const download = await fetch(`${app.url}/chatkit/attachments/${attachment.id}`, {
        headers: { 'X-User-ID': user },
      });
      expect(await download.text()).toBe('plain notes\n');
    });
  });

  describe('CORS', () => {
    it.each(['http://localhost:5173', 'http://127.0.0.1:8080', 'http://localhost'])(
      'lets a page on %s call POST /chatkit with a token',
      async (origin) => {
        const res = await preflight(app, '/chatkit', origin);
        expect(res.status).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('access-control-allow-methods')).toContain('POST');
        expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type,x-user-id');

        const call = await fetch(`${app.url}/chatkit`, {
          method: 'POST',
          headers: { ...devHeaders(uniqueUser()), Origin: origin },
          body: JSON.stringify({ type: 'threads.list', params: {} }),
        });
        expect(call.status).toBe(200);
        expect(call.headers.get('access-control-allow-origin')).toBe(origin);
        expect(call.headers.get('access-control-expose-headers')).toContain('X-Request-ID');
      },
    );

    it('lets the page send a two-phase upload and a direct one', async () => {
      const put = await preflight(
        app,
        '/chatkit/attachments/atc_x/upload?exp=1&sig=x',
        'http://localhost:5173',
        'PUT',
      );
      expect(put.status).toBe(204);
      expect(put.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(put.headers.get('access-control-allow-methods')).toContain('PUT');
      const direct = await preflight(app, '/chatkit/attachments', 'http://localhost:5173');
      expect(direct.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    });

    it('still allows the configured origins, and no other', async () => {
      const configured = await preflight(app, '/chatkit', 'https://app.example.com');
      expect(configured.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      for (const origin of [
        'https://localhost:5173',
        'http://localhost.evil.example',
        'http://evil.example',
        'http://127.0.0.1.evil.example:80',
        'null',
      ]) {
        const res = await preflight(app, '/chatkit', origin);
        expect([origin, res.headers.get('access-control-allow-origin')]).toEqual([origin, null]);
      }
    });
  });

  describe('npm run token', () => {
    async function token(args: string[], env: Record<string, string | undefined> = {}) {
      const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        NODE_ENV: 'test',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        AUTH_ORG_CLAIM: 'org',
        ...env,
      };
      for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
      try {
        const { stdout, stderr } = await run('npm', ['run', '--silent', 'token', '--', ...args], {
          cwd: ROOT,
          env: childEnv,
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
      }
    }

    const me = async (bearer: string) =>
      fetch(`${app.url}/api/me`, { headers: { Authorization: `Bearer ${bearer}` } });

    it('mints a token the app accepts as that user in that org; --admin makes an admin', async () => {
      const user = uniqueUser('alice');
      const plain = await token(['--sub', user, '--org', 'acme']);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect(plain.stderr).toContain(`token for user "${user}" in org "acme"`);
      const asUser = await me(plain.stdout.trim());
      expect(await asUser.json()).toEqual({ userId: user, orgId: 'acme', isAdmin: false });
      expect(
        (
          await fetch(`${app.url}/api/documents`, {
            headers: { Authorization: `Bearer ${plain.stdout.trim()}` },
          })
        ).status,
      ).toBe(403);

      const admin = await token(['--sub', user, '--admin', '--ttl', '120']);
      expect(admin.code).toBe(0);
      const bearer = admin.stdout.trim();
      expect(await (await me(bearer)).json()).toEqual({ userId: user, orgId: null, isAdmin: true });
      const documents = await fetch(`${app.url}/api/documents`, {
        headers: { Authorization: `Bearer ${bearer}` },
      });
      expect(documents.status).toBe(200);
    });

    it('says how to configure a secret when there is none, printing no token', async () => {
      const res = await token(['--sub', 'alice'], { AUTH_JWT_SECRET: undefined });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('No AUTH_JWT_SECRET is configured');
      expect(res.stderr).toContain('openssl rand -hex 32');
    });

    it('names a bad option', async () => {
      const res = await token(['--sub', 'alice', '--ttl', 'forever']);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('--ttl must be a number of seconds');
      expect(res.stderr).toContain('usage: npm run --silent token');
    });

    it('is refused by a server with another secret', async () => {
      const other = await token(['--sub', 'alice'], {
        AUTH_JWT_SECRET: 'another-secret-that-is-long-enough-0123456789',
      });
      const res = await me(other.stdout.trim());
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'token_invalid_signature' });
    });
  });
});

describe('outside development mode', () => {
  it('allows only CORS_ORIGINS', async () => {
    const app = await startApp({ AUTH_DEV_MODE: 'false', CORS_ORIGINS: 'https://app.example.com' });
    try {
      const local = await preflight(app, '/chatkit', 'http://localhost:5173');
      expect(local.headers.get('access-control-allow-origin')).toBeNull();
      const configured = await preflight(app, '/chatkit', 'https://app.example.com');
      expect(configured.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    } finally {
      await app.close();
    }
  });

  it('keeps CORS off in production without CORS_ORIGINS', async () => {
    const app = await startApp({
      NODE_ENV: 'production',
      AUTH_DEV_MODE: undefined,
      CORS_ORIGINS: undefined,
      ATTACHMENTS_SIGNING_KEY: 'a-signing-key-for-the-production-shaped-test-0123456789',
    });
    try {
      const res = await preflight(app, '/chatkit', 'http://localhost:5173');
      expect(res.status).toBe(404);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await app.close();
    }
  });
});
