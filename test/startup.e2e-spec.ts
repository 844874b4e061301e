/**
 * What an operator sees at the edges of the process: whether the API documentation is served,
 * and what the server says when it cannot take its port.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startApp, type TestApp } from 'test/support/test-app';

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  ATTACHMENTS_SIGNING_KEY: 'a-signing-key-for-the-production-docs-test-0123456789',
};

describe('API documentation switch', () => {
  const cases: Array<[string, Record<string, string>, number]> = [
    ['off by default in production', PRODUCTION_ENV, 404],
    ['on in production when DOCS_ENABLED=true', { ...PRODUCTION_ENV, DOCS_ENABLED: 'true' }, 200],
    ['off outside production when DOCS_ENABLED=false', { DOCS_ENABLED: 'false' }, 404],
    ['on by default outside production', {}, 200],
  ];

  it.each(cases)('Swagger UI and /docs-json are %s', async (_name, env, status) => {
    let app: TestApp | undefined;
    try {
      app = await startApp(env);
      const json = await fetch(`${app.url}/docs-json`);
      expect(json.status).toBe(status);
      const ui = await fetch(`${app.url}/docs`);
      expect(ui.status).toBe(status);
      if (status === 404) {
        // Nothing of the document leaks through the 404 either.
        expect(await json.text()).not.toContain('openapi');
      }
      // The API itself is unaffected.
      expect((await app.fetch('/api/me', { user: 'docs-switch-user' })).status).toBe(200);
    } finally {
      await app?.close();
    }
  });
});

describe('starting on a port that is taken', () => {
  let blocker: Server;
  let port: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    port = (blocker.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  it('exits with status 1 and says which port is in use and what to do', async () => {
    const root = join(__dirname, '..');
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'src/main.ts'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          HOST: '127.0.0.1',
          PORT: String(port),
          AUTH_DEV_MODE: 'true',
          // The port is checked at listen time; the database is not needed to get there.
          DATABASE_URL: process.env.DATABASE_URL,
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(stderr).toContain('already in use');
    expect(stderr).not.toMatch(/Unhandled rejection/i);
  }, 90_000);
});
