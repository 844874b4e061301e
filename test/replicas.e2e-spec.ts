/**
 * Several replicas on one PostgreSQL server and one Redis, as a Deployment runs them: each replica
 * is the real server in its own process (test/support/replica.ts), the model is the fake OpenAI
 * server on loopback. What must hold across replicas: one running answer per thread whichever
 * replica is asked, rate-limit budgets shared, a replica killed mid-answer leaves the user's message
 * stored and the thread usable again once its lease runs out, a rolling restart loses nothing, and
 * the attachment cleanup sweeps on one replica at a time.
 *
 * Needs a PostgreSQL server (the embedded database takes one connection, so two processes cannot
 * share it): registered only when DATABASE_URL is set (jest.config.js), which CI's server pass does.
 */
import { Client } from 'pg';
import { parseSse } from 'test/support/chatkit-client';
import { startFakeOpenAI, type FakeOpenAI } from 'test/support/fake-openai';
import {
  followStream,
  lastStreamedModelCall,
  pacedAnswers,
  type FollowedStream,
} from 'test/support/paced-stream';
import { startReplica, type Replica } from 'test/support/replica';

const LEASE_TTL_S = 5;
const SHUTDOWN_GRACE_MS = 4_000;
const RATE_LIMIT_MAX = 60;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const suffix = `${process.pid}${Date.now().toString(36)}`;
const user = (name: string) => `${name}-${suffix}`;

/** A streaming ChatKit request to one replica, followed until the answer's first words. */
function openStream(replica: Replica, userId: string, request: unknown): Promise<FollowedStream> {
  return followStream((signal) =>
    fetch(`${replica.url}/chatkit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': userId },
      body: JSON.stringify(request),
      signal,
    }),
  );
}

async function post(
  replica: Replica,
  userId: string,
  request: unknown,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${replica.url}/chatkit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': userId },
    body: JSON.stringify(request),
  });
  const raw = await res.text();
  const sse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  return { status: res.status, json: sse ? parseSse(raw) : raw ? JSON.parse(raw) : undefined };
}

const message = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});
const threadIdOf = (events: any[]): string => events.find((e) => e.type === 'thread.created')!.thread.id;

async function items(replica: Replica, userId: string, threadId: string): Promise<any[]> {
  const res = await post(replica, userId, {
    type: 'items.list',
    params: { thread_id: threadId, order: 'asc' },
  });
  expect(res.status).toBe(200);
  return res.json.data;
}

const textOf = (item: any): string => (item.content ?? []).map((c: any) => c.text ?? '').join('');

describe('several replicas on one PostgreSQL server and one Redis', () => {
  let fake: FakeOpenAI;
  let a: Replica;
  let b: Replica;
  let env: Record<string, string>;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultModelTurn: pacedAnswers() });
    env = {
      DATABASE_URL: process.env.DATABASE_URL!,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseURL,
      CHATKIT_RUN_LOCK_TTL_S: String(LEASE_TTL_S),
      SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      CHATKIT_MAX_STREAMS_PER_USER: '0',
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
    };
    // One after the other: the first applies any missing migration.
    a = await startReplica('a', env);
    b = await startReplica('b', env);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
  });

  it('runs one answer per thread: a second run on another replica gets 409 until the first ends', async () => {
    const u = user('one-run');
    const first = await openStream(a, u, {
      type: 'threads.create',
      params: { input: message('slow-25 first') },
    });
    expect(first.status).toBe(200);
    const threadId = threadIdOf(first.events);

    const second = await post(b, u, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('second while the first streams') },
    });
    expect(second.status).toBe(409);
    expect(second.json.code).toBe('thread_busy');

    const events = await first.ended;
    expect(events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message')).toBe(
      true,
    );

    const third = await post(b, u, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('third, after the first ended') },
    });
    expect(third.status).toBe(200);
    const stored = await items(a, u, threadId);
    expect(stored.map((i) => i.type)).toEqual([
      'user_message',
      'assistant_message',
      'user_message',
      'assistant_message',
    ]);
    // The refused message was never stored.
    expect(stored.map(textOf)).not.toContain('second while the first streams');
  });

  it('shares rate-limit budgets: a user gets RATE_LIMIT_MAX requests in all, not per replica', async () => {
    const u = user('budget');
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT_MAX * 1.5; i++) {
      const res = await post(i % 2 ? b : a, u, { type: 'threads.list', params: { limit: 1 } });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(RATE_LIMIT_MAX);
    expect(statuses.filter((s) => s === 429)).toHaveLength(RATE_LIMIT_MAX / 2);
    // Both replicas refuse once the shared budget is spent.
    expect(statuses.slice(RATE_LIMIT_MAX).every((s) => s === 429)).toBe(true);
  });

  it('a replica killed mid-answer leaves the message stored and the thread free once the lease runs out', async () => {
    const c = await startReplica('c', env);
    const u = user('killed');
    const created = await post(b, u, { type: 'threads.create', params: { input: message('hello') } });
    expect(created.status).toBe(200);
    const threadId = threadIdOf(created.json);

    const doomed = await openStream(c, u, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('slow-200 answer that will be cut') },
    });
    expect(doomed.status).toBe(200);
    c.signal('SIGKILL');
    const killedAt = Date.now();
    expect((await c.exited).signal).toBe('SIGKILL');
    await doomed.ended;

    // The user's message was stored before the model ran.
    expect((await items(b, u, threadId)).map(textOf)).toContain('slow-200 answer that will be cut');

    // The dead replica's lease still holds the thread, then expires.
    const attempt = () =>
      post(b, u, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: message('again') },
      });
    const busy = await attempt();
    expect(busy.status).toBe(409);
    let retry = busy;
    while (retry.status === 409 && Date.now() - killedAt < LEASE_TTL_S * 1000 + 5_000) {
      await sleep(250);
      retry = await attempt();
    }
    const freedAfterMs = Date.now() - killedAt;
    expect(retry.status).toBe(200);
    // The bound: a lease lives CHATKIT_RUN_LOCK_TTL_S past its last heartbeat (docs/operations.md).
    expect(freedAfterMs).toBeLessThanOrEqual(LEASE_TTL_S * 1000 + 2_000);
    process.stdout.write(
      `replicas: a killed replica's thread was usable again after ${freedAfterMs} ms (lease ${LEASE_TTL_S} s)\n`,
    );
    const after = await items(b, u, threadId);
    expect(after.map(textOf)).toEqual(expect.arrayContaining(['again']));
  }, 120_000);

  it('stops an answer from any replica: a stop sent to B ends the stream on A, keeping the partial answer', async () => {
    const u = user('stop');
    const running = await openStream(a, u, {
      type: 'threads.create',
      params: { input: message('slow-200 stop me') },
    });
    expect(running.status).toBe(200);
    const threadId = threadIdOf(running.events);

    const asked = Date.now();
    const res = await fetch(`${b.url}/chatkit/threads/${threadId}/stop`, {
      method: 'POST',
      headers: { 'x-user-id': u },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stopped: true });
    const events = await running.ended;
    const tookMs = Date.now() - asked;
    process.stdout.write(`replicas: a stop sent to another replica ended the stream in ${tookMs} ms\n`);
    // Through LISTEN/NOTIFY, not the lease polling (every 5 s while the listener is up).
    expect(tookMs).toBeLessThan(3_000);
    expect(events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message')).toBe(
      false,
    );

    // The lease is free at once, and the partial answer is stored.
    const next = await post(b, u, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('after the stop') },
    });
    expect(next.status).toBe(200);
    const stored = await items(b, u, threadId);
    expect(stored[1].type).toBe('assistant_message');
    expect(textOf(stored[1]).split(' ').length).toBeLessThan(200);
    // The model is told the previous answer was cut short.
    const lastModelCall = lastStreamedModelCall(fake);
    expect(JSON.stringify(lastModelCall.body)).toContain('The user cancelled the stream');
  });

  it('sweeps attachments on one replica at a time: a second sweep elsewhere is told it is running', async () => {
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      const owner = user('sweep');
      const expired = 600;
      // Uploads started three days ago and never finished: enough for a sweep that takes a while.
      await db.query(
        `INSERT INTO attachments (id, user_id, name, mime_type, size, storage_kind, storage_key, status, created_at, updated_at)
         SELECT 'atc_sweep' || $2 || 'x' || g, $1, 'f.txt', 'text/plain', 10, 'postgres',
                'sweep/' || $2 || '/' || g, 'pending', now() - interval '3 days', now() - interval '3 days'
           FROM generate_series(1, $3::int) g`,
        [owner, suffix, expired],
      );
      const admin = { 'x-user-id': user('admin'), 'x-user-role': 'admin' };
      const purge = async (replica: Replica) => {
        const res = await fetch(`${replica.url}/api/admin/attachments/purge`, {
          method: 'POST',
          headers: admin,
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const [fromA, fromB] = await Promise.all([purge(a), purge(b)]);
      const ran = [fromA, fromB].filter((r) => r.status === 200);
      const refused = [fromA, fromB].filter((r) => r.status === 409);
      expect(ran).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0].body.code).toBe('attachment_cleanup_in_progress');
      expect(ran[0].body.pending_expired.count).toBeGreaterThanOrEqual(expired);
      const left = await db.query(`SELECT count(*)::int AS n FROM attachments WHERE user_id = $1`, [owner]);
      expect(left.rows[0].n).toBe(0);
      // Released when done: the next sweep runs wherever it is asked.
      expect((await purge(fromA.status === 200 ? b : a)).status).toBe(200);
    } finally {
      await db.end();
    }
  });

  it('a rolling restart loses no message: streams finish within the grace period or keep their partial answers', async () => {
    const u = user('rolling');
    const short = await Promise.all(
      [1, 2, 3].map((n) =>
        openStream(a, u, { type: 'threads.create', params: { input: message(`slow-15 short ${n}`) } }),
      ),
    );
    const long = await openStream(a, u, {
      type: 'threads.create',
      params: { input: message('slow-300 long') },
    });
    [...short, long].forEach((s) => expect(s.status).toBe(200));

    a.signal('SIGTERM');
    // A stopping replica takes no new work; the other one does.
    await sleep(200);
    await expect(fetch(`${a.url}/health/live`)).rejects.toThrow();
    const elsewhere = await post(b, u, {
      type: 'threads.create',
      params: { input: message('during the restart') },
    });
    expect(elsewhere.status).toBe(200);

    const shortEvents = await Promise.all(short.map((s) => s.ended));
    for (const events of shortEvents) {
      // Finished normally: the whole answer, then the end of the stream.
      const done = events.find((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message');
      expect(textOf(done.item)).toMatch(/^word0 .* word14$/);
    }
    const longEvents = await long.ended;
    expect(longEvents.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message')).toBe(
      false,
    );
    expect((await a.exited).code).toBe(0);

    for (const events of [...shortEvents, longEvents]) {
      const stored = await items(b, u, threadIdOf(events));
      expect(stored[0].type).toBe('user_message');
      expect(stored[1]?.type).toBe('assistant_message');
      expect(textOf(stored[1])).toMatch(/^word0/);
    }
    const partial = (await items(b, u, threadIdOf(longEvents)))[1];
    expect(textOf(partial).split(' ').length).toBeLessThan(300);

    a = await startReplica('a', env);
  }, 120_000);
});
