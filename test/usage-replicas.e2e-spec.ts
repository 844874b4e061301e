/**
 * One token budget, two replicas spending against it at once: the counters live in PostgreSQL,
 * and a turn is admitted only while what finished turns spent plus what running turns hold is
 * under the budget, so however the turns interleave across processes, what is spent exceeds the
 * budget by at most one turn. Every refused turn got `429 quota_exceeded` with Retry-After and
 * left nothing behind: no thread, no message, no usage.
 *
 * Needs a PostgreSQL server (two processes cannot share the embedded database): registered only
 * when DATABASE_URL is set (jest.config.js), as test/replicas.e2e-spec.ts.
 */
import { Client } from 'pg';
import { parseSse } from 'test/support/chatkit-client';
import { startFakeOpenAI, textTurn, type FakeOpenAI } from 'test/support/fake-openai';
import { startReplica, type Replica } from 'test/support/replica';

/** Every model call reports 100 input and 20 output tokens: an answer and a title, 240 a turn. */
const CALL_TOKENS = 120;
const TURN_TOKENS = 2 * CALL_TOKENS;
const DAY_BUDGET = 1_000;
const TURNS_PER_REPLICA = 12;

const suffix = `${process.pid}${Date.now().toString(36)}`;

async function startTurn(replica: Replica, userId: string, text: string) {
  const res = await fetch(`${replica.url}/chatkit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': userId },
    body: JSON.stringify({
      type: 'threads.create',
      params: { input: { content: [{ type: 'input_text', text }], attachments: [], inference_options: {} } },
    }),
  });
  const raw = await res.text();
  const sse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    events: sse ? parseSse(raw) : [],
    json: !sse && raw ? JSON.parse(raw) : undefined,
  };
}

describe('two replicas spending against one token budget', () => {
  let fake: FakeOpenAI;
  let a: Replica;
  let b: Replica;
  let db: Client;

  beforeAll(async () => {
    // Streamed slowly enough that many turns of both replicas run at the same time.
    fake = await startFakeOpenAI({
      defaultModelTurn: textTurn('An answer in a few words, streamed slowly.', {
        usage: { inputTokens: 100, outputTokens: 20 },
        deltaDelayMs: 30,
      }),
    });
    const env = {
      DATABASE_URL: process.env.DATABASE_URL!,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseURL,
      RATE_LIMIT_MAX: '100000',
      CHATKIT_MAX_STREAMS_PER_USER: '0',
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      USAGE_QUOTA_USER_DAY: String(DAY_BUDGET),
      // A second budget far from its limit: admission locks and settles two counters per turn.
      USAGE_QUOTA_USER_MONTH: '100000000',
      USAGE_QUOTA_TURN_RESERVE: String(TURN_TOKENS),
    };
    // One after the other: the first applies any missing migration.
    a = await startReplica('usage-a', env);
    b = await startReplica('usage-b', env);
    db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  }, 240_000);

  afterAll(async () => {
    await db?.end();
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
  });

  it('never overshoots by more than one turn; refused turns get 429 with Retry-After and store nothing', async () => {
    const user = `spender-${suffix}`;
    const turns = await Promise.all(
      Array.from({ length: 2 * TURNS_PER_REPLICA }, (_, i) =>
        startTurn(i % 2 ? b : a, user, `question ${i}`),
      ),
    );
    const admitted = turns.filter((t) => t.status === 200);
    const refused = turns.filter((t) => t.status !== 200);

    const [{ spent, threads, items }] = (
      await db.query(
        `SELECT (SELECT coalesce(sum(input_tokens + output_tokens), 0)::int FROM token_usage WHERE user_id = $1) AS spent,
                (SELECT count(*)::int FROM threads WHERE user_id = $1) AS threads,
                (SELECT count(*)::int FROM thread_items WHERE user_id = $1 AND type = 'user_message') AS items`,
        [user],
      )
    ).rows;
    process.stdout.write(
      `usage-replicas: ${admitted.length} of ${turns.length} turns admitted, ${spent} tokens spent on a budget of ${DAY_BUDGET}\n`,
    );

    // The bound: at most one turn past the budget, and the budget itself not left unused.
    expect(spent).toBeLessThanOrEqual(DAY_BUDGET + TURN_TOKENS);
    expect(spent).toBeGreaterThanOrEqual(DAY_BUDGET - TURN_TOKENS);
    expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(DAY_BUDGET / TURN_TOKENS));
    // Every admitted turn ran to its end and was counted whole.
    for (const turn of admitted) {
      expect(
        turn.events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message'),
      ).toBe(true);
    }
    expect(spent).toBe(admitted.length * TURN_TOKENS);
    // Every refused turn: 429 with when to retry, and nothing stored.
    expect(refused.length).toBeGreaterThan(0);
    for (const turn of refused) {
      expect(turn.status).toBe(429);
      expect(turn.json.code).toBe('quota_exceeded');
      expect(Number(turn.retryAfter)).toBeGreaterThan(0);
    }
    expect(threads).toBe(admitted.length);
    expect(items).toBe(admitted.length);

    // Once the running turns settled, the budget is spent for both replicas alike.
    for (const replica of [a, b]) {
      const late = await startTurn(replica, user, 'late');
      expect(late.status).toBe(429);
    }
    // No hold is left behind by the refusals or the settled turns.
    const counters = await db.query(
      `SELECT period, used::int, reserved::int FROM usage_counters WHERE user_id = $1 ORDER BY period`,
      [user],
    );
    expect(counters.rows).toEqual([
      { period: 'day', used: spent, reserved: 0 },
      { period: 'month', used: spent, reserved: 0 },
    ]);
  }, 120_000);
});
