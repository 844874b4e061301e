/**
 * Seeded fuzzing of every entry point a client reaches with a body, a route parameter or a query
 * value: POST /chatkit (every request type, valid-looking bodies with mutated fields) and the REST
 * routes of threads, search, documents and attachments. The bodies carry NUL characters, unpaired
 * surrogates, huge strings, 10,000-level nesting, prototype keys and wrong types. Whatever the
 * answer, it must not be a 5xx, and the server must still answer normally afterwards.
 *
 * The seed is printed; `FUZZ_SEED=<n>` replays a run. Without a model key the app answers with
 * the offline responder, so the streaming requests that get through validation stay fast.
 */
import fc from 'fast-check';
import { INPUT_LIMITS } from 'src/common/input-limits';
import { GOOD_REQUESTS } from 'test/fixtures/bad-requests';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2_147_483_647;
const CHATKIT_BODIES = 1_300;
const REST_REQUESTS = 800;
/** Requests in flight at once; a few, so that a run stays short on a small machine. */
const CONCURRENCY = 4;

/** Placeholder replaced after serialization: JSON.stringify cannot write 10,000 levels itself. */
const DEEP = '\u0001deep\u0001';
const DEEP_JSON = '{"a":'.repeat(10_000) + '[]' + '}'.repeat(10_000);
const DEEP_ARRAY_JSON = '['.repeat(10_000) + ']'.repeat(10_000);

const hostileString = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udbff',
    '\udc00y',
    '\udfff\ud800',
    '\ud83d\ude00',
    '',
    ' ',
    '__proto__',
    'constructor',
    'prototype',
    'thr_1',
    "'; drop table threads; --",
    '%00',
    '\\u0000',
    '\u202e\ufeff\u200b',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.constantFrom(
    'x'.repeat(INPUT_LIMITS.titleChars + 1),
    'x'.repeat(INPUT_LIMITS.messageTextChars + 1),
    'y'.repeat(400_000),
    'z'.repeat(2_000_000),
  ),
);

const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'a\u0000', '\ud800'),
  fc.string({ maxLength: 12 }),
);

const scalar = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(-1, 0, 2 ** 53, 1e308, 0.5),
);

const { value: hostileValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.constant(DEEP),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
}));

type Path = Array<string | number>;

/** Every path of an object tree, containers included, the root as `[]`. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  const out: Path[] = [path];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...path, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...path, k]));
  return out;
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  Object.defineProperty(node, path[path.length - 1], {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return root;
}

interface Mutation {
  kind: 'replace' | 'add-key' | 'remove';
  pick: number;
  key: string;
  value: unknown;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace', 'replace', 'add-key', 'remove'),
  pick: fc.nat(),
  key: hostileKey,
  value: hostileValue,
});

/** A valid body of one request type with a few fields replaced, added or removed. */
function mutate(base: unknown, mutations: Mutation[]): unknown {
  let body = structuredClone(base);
  for (const m of mutations) {
    const paths = pathsOf(body);
    const path = paths[m.pick % paths.length];
    if (m.kind === 'replace') body = setAt(body, path, m.value);
    else if (m.kind === 'remove' && path.length) {
      const parent = path.slice(0, -1).reduce<any>((n, s) => n[s], body);
      if (Array.isArray(parent)) parent.splice(Number(path[path.length - 1]), 1);
      else delete parent[path[path.length - 1]];
    } else {
      const target = path.reduce<any>((n, s) => n[s], body);
      if (target && typeof target === 'object' && !Array.isArray(target)) setAt(target, [m.key], m.value);
    }
  }
  return body;
}

/** Serializes a generated body, writing the deep-nesting placeholder as 10,000 levels. */
function serialize(body: unknown, useArray: boolean): string {
  return (JSON.stringify(body) ?? 'null')
    .split(JSON.stringify(DEEP))
    .join(useArray ? DEEP_ARRAY_JSON : DEEP_JSON);
}

const chatkitBody = fc.record({
  base: fc.constantFrom(...GOOD_REQUESTS.map((g) => g.body)),
  realThread: fc.boolean(),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
  deepArray: fc.boolean(),
});

/** encodeURIComponent, or undefined for strings it cannot encode (unpaired surrogates). */
function encoded(s: string): string | undefined {
  try {
    return encodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** A route parameter as it appears in the URL: percent-encoded, or raw hostile escapes. */
const pathSegment = fc.oneof(
  fc.constantFrom(
    '%00',
    'a%00b',
    '%ED%A0%80',
    '%C0%80',
    '%FF',
    '%',
    '%zz',
    '..%2F..%2Fetc',
    '__proto__',
    'x'.repeat(5000),
  ),
  hostileString.map((s) => (s.length < 3000 && encoded(s)) || 'x'),
  fc.constant('REAL'),
);

const queryValue = fc.oneof(
  fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%FF', '-1', '0', '1e9', 'asc', 'hybrid', 'x'.repeat(3000)),
  hostileString.map((s) => (s.length < 3000 && encoded(s)) || ''),
);

const query = fc
  .dictionary(
    fc.constantFrom(
      'q',
      'limit',
      'after',
      'order',
      'mode',
      'exp',
      'sig',
      'disp',
      'download',
      '__proto__',
      'a[b]',
      'x[]',
    ),
    queryValue,
    { maxKeys: 4 },
  )
  .map((q) =>
    Object.entries(q)
      .map(([k, v]) => `${encodeURIComponent(k)}=${v}`)
      .join('&'),
  );

interface RestRequest {
  method: string;
  path: string;
  /** Serialized only when sent, for the same reason as the POST /chatkit bodies. */
  body: () => string | undefined;
  contentType?: string;
  admin?: boolean;
}

const restRequest: fc.Arbitrary<RestRequest> = fc
  .record({
    route: fc.constantFrom(
      'GET /api/threads',
      'POST /api/threads',
      'GET /api/threads/:id',
      'PATCH /api/threads/:id',
      'DELETE /api/threads/:id',
      'GET /api/threads/:id/items',
      'POST /api/threads/:id/messages',
      'GET /api/search',
      'GET /api/documents',
      'POST /api/documents',
      'DELETE /api/documents/:id',
      'GET /chatkit/attachments/:id',
      'GET /chatkit/attachments/:id/content',
      'DELETE /chatkit/attachments/:id',
      'PUT /chatkit/attachments/:id/upload',
    ),
    id: pathSegment,
    query,
    base: fc.constantFrom<unknown>(
      { input: userInput('hello') },
      { input: userInput('hello'), metadata: { page: '/x' } },
      { title: 'Renamed' },
      { source: 'notes.md', content: '# Notes\nhello', title: 'Notes' },
    ),
    mutations: fc.array(mutation, { maxLength: 3 }),
    deepArray: fc.boolean(),
    rawBody: fc.option(fc.constantFrom('{', '"x"', 'null', '[]', '{"__proto__":{"x":1}}', '\u0000'), {
      freq: 8,
    }),
  })
  .map(({ route, id, query: q, base, mutations, deepArray, rawBody }) => {
    const [method, template] = route.split(' ');
    const path = template.replace(':id', id) + (q ? `?${q}` : '');
    const hasBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
    return {
      method,
      path,
      admin: template.startsWith('/api/documents'),
      contentType: hasBody ? 'application/json' : undefined,
      body: () => (hasBody ? (rawBody ?? serialize(mutate(base, mutations), deepArray)) : undefined),
    };
  });

/**
 * A 5xx other than `501 not_implemented`, which is the documented answer for a feature this
 * server is not configured for (input.transcribe without a transcription model).
 */
function isServerFault(res: { status: number; text: string }): boolean {
  return res.status >= 500 && !(res.status === 501 && res.text.includes('"not_implemented"'));
}

/** How many answers had each status, printed so a run shows how deep its requests got. */
function tally(statuses: Map<number, number>, status: number): void {
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

function report(name: string, statuses: Map<number, number>): void {
  const counts = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
  process.stdout.write(`fuzz ${name}: ${counts.join(' ')}\n`);
}

async function inBatches<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
}

const describeBody = (s: string | undefined) =>
  s && s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;

describe(`fuzzing the HTTP entry points (FUZZ_SEED=${SEED})`, () => {
  let app: TestApp;
  const user = uniqueUser('fuzz');
  const org = uniqueUser('fuzz-org');
  let userAuth: string;
  let adminAuth: string;
  let threadId: string;

  beforeAll(async () => {
    process.stdout.write(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})\n`);
    app = await startApp({ OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, RAG_SEED_DOCS: 'false' });
    userAuth = `Bearer ${await tokenFor(user, { org })}`;
    adminAuth = `Bearer ${await tokenFor(uniqueUser('fuzz-admin'), { org, roles: ['admin'] })}`;
    const created = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('hi') } });
    expect(created.status).toBe(200);
    threadId = created.events[0].thread.id;
  });
  afterAll(() => app.close());

  async function send(
    method: string,
    path: string,
    body: string | undefined,
    auth: string,
    contentType?: string,
  ) {
    const headers: Record<string, string> = { Authorization: auth };
    if (contentType) headers['Content-Type'] = contentType;
    const res = await fetch(`${app.url}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, text };
  }

  it('never answers POST /chatkit with a 5xx', async () => {
    const cases = fc.sample(chatkitBody, { seed: SEED, numRuns: CHATKIT_BODIES });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    await inBatches(cases, async (c) => {
      // Serialized only when sent: a few thousand bodies of up to 2 MB must not sit in memory.
      const text = serialize(mutate(c.base, c.mutations), c.deepArray);
      const body = c.realThread ? text.split('"thr_1"').join(JSON.stringify(threadId)) : text;
      const res = await send('POST', '/chatkit', body, userAuth, 'application/json');
      tally(statuses, res.status);
      if (isServerFault(res))
        failures.push(`${res.status} ${res.text.slice(0, 200)} ← ${describeBody(body)}`);
    });
    report('POST /chatkit', statuses);
    expect(failures).toEqual([]);
    // Some requests must get through validation, or the run proved little.
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('never answers a REST route with a 5xx', async () => {
    const requests = fc.sample(restRequest, { seed: SEED + 1, numRuns: REST_REQUESTS });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    await inBatches(requests, async (r) => {
      // DELETE of the real thread would leave later requests nothing real to reach.
      const path = r.path.replace('/REAL', `/${r.method === 'DELETE' ? 'thr_gone' : threadId}`);
      const body = r.body();
      const res = await send(r.method, path, body, r.admin ? adminAuth : userAuth, r.contentType);
      tally(statuses, res.status);
      if (isServerFault(res))
        failures.push(
          `${res.status} ${res.text.slice(0, 200)} ← ${r.method} ${describeBody(path)} ${describeBody(body)}`,
        );
    });
    report('REST', statuses);
    expect(failures).toEqual([]);
    // Some requests must get through validation, or the run proved little.
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('still answers normally afterwards', async () => {
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
    const list = await chatkit(app, user, { type: 'threads.list', params: {} });
    expect(list.status).toBe(200);
    expect(list.json.data.map((t: { id: string }) => t.id)).toContain(threadId);
    const added = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('still there?') },
    });
    expect(added.status).toBe(200);
    expect(
      added.events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message'),
    ).toBe(true);
  });
});
