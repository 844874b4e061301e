/**
 * Boots the real AppModule with the production setup on a loopback port, with an environment
 * made for the test, and gives back its URL plus small helpers for authenticated calls.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { SignJWT } from 'jose';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestApp {
  app: NestExpressApplication;
  url: string;
  close(): Promise<void>;
  /** fetch against the app with a bearer token for `user` (when given). */
  fetch(
    path: string,
    init?: RequestInit & { user?: string; org?: string; json?: unknown },
  ): Promise<Response>;
}

const BASE_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.TEST_LOGS ? 'debug' : 'silent',
  AUTH_JWT_SECRET: TEST_JWT_SECRET,
  AUTH_ORG_CLAIM: 'org',
  RATE_LIMIT_MAX: '100000',
  // Suites that test refusals send many bad tokens; the failure budget has its own test.
  RATE_LIMIT_AUTH_FAILURES_MAX: '100000',
  SHUTDOWN_GRACE_MS: '1000',
};

/**
 * The settings of an app whose agent talks to `fake` over the Responses API, with no heartbeat
 * frames in its streams and no knowledge base (nothing seeded, no embeddings model).
 */
export const agentOnFake = (fake: { baseURL: string }): Record<string, string | undefined> => ({
  OPENAI_BASE_URL: fake.baseURL,
  OPENAI_API_KEY: 'test',
  OPENAI_API: 'responses',
  AGENT_MODEL: 'gpt-test',
  CHATKIT_HEARTBEAT_MS: '0',
  RAG_SEED_DOCS: 'false',
  RAG_EMBEDDINGS_MODEL: undefined,
});

/** How long startApp waits for the first connection (the app itself retries in the background). */
const DATABASE_WAIT_MS = 60_000;

export async function startApp(
  env: Record<string, string | undefined> = {},
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder,
  options: { waitForDatabase?: boolean } = {},
): Promise<TestApp> {
  const saved = { ...process.env };
  const merged = { ...BASE_ENV, ...env };
  for (const [k, v] of Object.entries(merged)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let app: NestExpressApplication;
  try {
    let builder = Test.createTestingModule({ imports: [AppModule] });
    if (override) builder = override(builder);
    const moduleRef = await builder.compile();
    // TEST_LOGS=1 shows the app's logs when a test needs debugging.
    app = moduleRef.createNestApplication<NestExpressApplication>({
      logger: process.env.TEST_LOGS ? undefined : false,
      bufferLogs: true,
    });
    configureApp(app);
    await app.listen(0, '127.0.0.1');
  } finally {
    process.env = saved;
  }
  // The app starts even when its first connection attempt fails (a loaded machine, the previous
  // test file's app still letting go of the embedded database's one connection) and connects on
  // a retry; a test starts once it has, unless it is about the database being away.
  if (options.waitForDatabase ?? true) {
    const lifecycle = app.get(DatabaseLifecycle);
    const deadline = Date.now() + DATABASE_WAIT_MS;
    while (!lifecycle.ready) {
      if (Date.now() > deadline) {
        await app.close();
        throw new Error(`the database did not become ready within ${DATABASE_WAIT_MS / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    url,
    close: () => app.close(),
    fetch: async (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (init.user) headers.set('Authorization', `Bearer ${await tokenFor(init.user, { org: init.org })}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('Content-Type', 'application/json');
        body = JSON.stringify(init.json);
      }
      return fetch(`${url}${path}`, { ...init, headers, body });
    },
  };
}

export async function tokenFor(
  userId: string,
  opts: {
    org?: string;
    roles?: string[];
    /** `exp`: a lifetime such as '10m' (the default) or an absolute epoch second; null leaves it out. */
    expiresIn?: string | number | null;
    /** `iat` as an epoch second; null leaves it out. Default: now. */
    issuedAt?: number | null;
    secret?: string;
    claims?: Record<string, unknown>;
  } = {},
): Promise<string> {
  const jwt = new SignJWT({
    ...(opts.org ? { org: opts.org } : {}),
    ...(opts.roles ? { roles: opts.roles } : {}),
    ...opts.claims,
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId);
  if (opts.issuedAt !== null) jwt.setIssuedAt(opts.issuedAt ?? undefined);
  if (opts.expiresIn !== null) jwt.setExpirationTime(opts.expiresIn ?? '10m');
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}

/** A user id no other test uses, so tests never see each other's rows in the shared database. */
export function uniqueUser(prefix = 'user'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
