/**
 * Token accounting and token budgets on the real app: every model call's tokens (answer and
 * title) stored per turn and model in the turn's final statement, GET /api/usage for a user and
 * for an org admin with cost estimates, its validation, and budgets refusing a turn with 429
 * before its message is stored. Runs on the embedded database by default and on a server with
 * DATABASE_URL; two replicas on one budget are in usage-replicas.e2e-spec.ts.
 */
import { DataSource } from 'typeorm';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn } from 'test/support/fake-openai';
import { RoundTrips } from 'test/support/round-trips';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';
import { KnowledgeBaseStartup } from 'src/rag/rag.startup';

const MODEL_ENV = {
  OPENAI_API: 'responses',
  OPENAI_API_KEY: 'test',
  AGENT_MODEL: 'gpt-test',
  AGENT_TITLE_MODEL: 'gpt-title',
  CHATKIT_HEARTBEAT_MS: '0',
  RAG_SEED_DOCS: 'false',
  RAG_EMBEDDINGS_MODEL: undefined,
};

/** An answer and a title with fixed token counts: 120 and 40 total tokens. */
const answer = (text = 'Refunds take five days.') =>
  textTurn(text, { usage: { inputTokens: 100, cachedTokens: 40, outputTokens: 20, reasoningTokens: 5 } });
const title = () => textTurn('Refunds', { usage: { inputTokens: 30, outputTokens: 10 } });

const today = () => new Date().toISOString().slice(0, 10);
const nextUtcMidnight = () => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
};

async function usage(app: TestApp, user: string, query = '', org?: string, roles?: string[]) {
  const token = await tokenFor(user, { org, roles });
  const res = await fetch(`${app.url}/api/usage${query}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as any };
}

async function createThread(app: TestApp, user: string, org?: string) {
  const res = await chatkit(
    app,
    user,
    { type: 'threads.create', params: { input: userInput('Refunds?') } },
    { org },
  );
  expect(res.status).toBe(200);
  return { res, threadId: res.events[0].thread.id as string };
}

const addMessage = (app: TestApp, user: string, threadId: string, text: string, org?: string) =>
  chatkit(
    app,
    user,
    { type: 'threads.add_user_message', params: { thread_id: threadId, input: userInput(text) } },
    { org },
  );

describe('token usage', () => {
  let trips: RoundTrips;
  let fake: FakeOpenAI;
  let app: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    trips = new RoundTrips();
    fake = await FakeOpenAI.start();
    app = await startApp({
      ...MODEL_ENV,
      OPENAI_BASE_URL: fake.baseURL,
      AGENT_MODEL_PRICES: JSON.stringify({
        'gpt-test': { input: 2, cached_input: 0.5, output: 8 },
      }),
    });
    db = app.app.get(DataSource);
    await app.app.get(KnowledgeBaseStartup).settled();
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    trips?.restore();
  });

  it("stores every model call's tokens per turn and model in the turn's final statement, no extra round trip", async () => {
    const user = uniqueUser('usage');
    fake.enqueue(answer('Warm.'), title());
    await createThread(app, user); // warms the connection, unmeasured

    fake.enqueue(answer(), title());
    let threadId = '';
    const createTrips = await trips.during(async () => {
      threadId = (await createThread(app, user)).threadId;
    });
    fake.enqueue(answer('And to the original card.'));
    const addTrips = await trips.during(async () => {
      expect((await addMessage(app, user, threadId, 'Where to?')).status).toBe(200);
    });

    // Without budgets a turn is still two statements: the usage rides on the final one.
    expect(createTrips).toHaveLength(2);
    expect(addTrips).toHaveLength(2);
    expect(createTrips[1]).toContain('INSERT INTO token_usage');
    expect(createTrips[1]).toContain('DELETE FROM thread_runs');
    expect(addTrips.join('\n')).not.toContain('usage_counters');

    const rows = await db.query(
      `SELECT model, input_tokens::int, cached_input_tokens::int, output_tokens::int, reasoning_tokens::int,
              requests, org_id, to_char(day, 'YYYY-MM-DD') AS day
         FROM token_usage WHERE thread_id = $1 AND user_id = $2 ORDER BY created_at, model`,
      [threadId, user],
    );
    expect(rows).toEqual([
      // threads.create: the answer and the title, one row per model
      {
        model: 'gpt-test',
        input_tokens: 100,
        cached_input_tokens: 40,
        output_tokens: 20,
        reasoning_tokens: 5,
        requests: 1,
        org_id: '',
        day: today(),
      },
      {
        model: 'gpt-title',
        input_tokens: 30,
        cached_input_tokens: 0,
        output_tokens: 10,
        reasoning_tokens: 0,
        requests: 1,
        org_id: '',
        day: today(),
      },
      // threads.add_user_message: the answer only
      {
        model: 'gpt-test',
        input_tokens: 100,
        cached_input_tokens: 40,
        output_tokens: 20,
        reasoning_tokens: 5,
        requests: 1,
        org_id: '',
        day: today(),
      },
    ]);
  });

  it('reports the caller’s usage by day and model with cost estimates where a price is known', async () => {
    const user = uniqueUser('report');
    fake.enqueue(answer(), title());
    const { threadId } = await createThread(app, user);
    fake.enqueue(answer());
    await addMessage(app, user, threadId, 'More?');

    const { status, json } = await usage(app, user);
    expect(status).toBe(200);
    const now = new Date();
    expect(json.from).toBe(
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10),
    );
    expect(json.to).toBe(
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0)).toISOString().slice(0, 10),
    );
    expect(json.scope).toBe('user');
    expect(json.user_id).toBe(user);
    // gpt-test: 2 calls of 100 in (40 cached), 20 out: (60×2 + 40×0.5 + 20×8) / 1e6 × 2 calls
    const answerCost = (2 * (60 * 2 + 40 * 0.5 + 20 * 8)) / 1e6;
    expect(json.days).toEqual([
      {
        day: today(),
        model: 'gpt-test',
        input_tokens: 200,
        cached_input_tokens: 80,
        output_tokens: 40,
        reasoning_tokens: 10,
        total_tokens: 240,
        requests: 2,
        cost_usd: answerCost,
      },
      // No price for the title model: no cost.
      {
        day: today(),
        model: 'gpt-title',
        input_tokens: 30,
        cached_input_tokens: 0,
        output_tokens: 10,
        reasoning_tokens: 0,
        total_tokens: 40,
        requests: 1,
      },
    ]);
    expect(json.totals).toEqual({
      input_tokens: 230,
      cached_input_tokens: 80,
      output_tokens: 50,
      reasoning_tokens: 10,
      total_tokens: 280,
      requests: 3,
      cost_usd: answerCost,
    });
    expect(json.quotas).toEqual([]);

    // A period without today: nothing.
    const past = await usage(app, user, '?from=2020-01-01&to=2020-01-31');
    expect(past.status).toBe(200);
    expect(past.json.days).toEqual([]);
    expect(past.json.totals.total_tokens).toBe(0);
    expect(past.json.totals.cost_usd).toBeUndefined();
  });

  it("gives an org admin the org's usage by user, never another org's; others get 403", async () => {
    const org = uniqueUser('org');
    const [ann, bob, admin, outsider] = ['ann', 'bob', 'admin', 'outsider'].map((n) => uniqueUser(n));
    fake.enqueue(answer(), title());
    await createThread(app, ann, org);
    fake.enqueue(answer(), title());
    await createThread(app, bob, org);
    fake.enqueue(answer(), title());
    await createThread(app, outsider, uniqueUser('other-org'));

    const report = await usage(app, admin, '?scope=org', org, ['admin']);
    expect(report.status).toBe(200);
    expect(report.json.scope).toBe('org');
    expect(report.json.org_id).toBe(org);
    expect(report.json.user_id).toBeNull();
    const byUser = report.json.days.map((r: any) => [r.user_id, r.model, r.total_tokens]);
    expect(byUser).toEqual(
      [
        [ann, 'gpt-test', 120],
        [ann, 'gpt-title', 40],
        [bob, 'gpt-test', 120],
        [bob, 'gpt-title', 40],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))),
    );
    expect(report.json.totals.total_tokens).toBe(320);

    // The admin's own report (scope=user) holds only the admin's usage: none.
    expect((await usage(app, admin, '', org, ['admin'])).json.days).toEqual([]);
    // A member of the org is not an admin; an admin without an org has no org to report on.
    const member = await usage(app, ann, '?scope=org', org);
    expect(member.status).toBe(403);
    expect(member.json.code).toBe('forbidden');
    expect((await usage(app, admin, '?scope=org', undefined, ['admin'])).status).toBe(403);
  });

  it.each([
    ['?from=2026-13-01', 'from'],
    ['?from=yesterday', 'from'],
    ['?to=2026-02-30', 'to'],
    ['?from=2026-03-01&to=2026-02-01', 'to: must not be before from'],
    ['?from=2024-01-01&to=2025-01-02', 'to: the period may cover at most 366 days'],
    ['?scope=team', 'scope'],
    ['?limit=5', 'limit'],
  ])('answers 400 naming the bad parameter: %s', async (query, named) => {
    const { status, json } = await usage(app, uniqueUser('bad'), query);
    expect(status).toBe(400);
    expect(json.code).toBe('validation_failed');
    expect(json.message).toContain(named);
  });

  it('accepts a whole leap year, 366 days', async () => {
    const { status, json } = await usage(app, uniqueUser('leap'), '?from=2024-01-01&to=2024-12-31');
    expect(status).toBe(200);
    expect(json).toMatchObject({ from: '2024-01-01', to: '2024-12-31' });
  });
});

describe('token usage over Chat Completions', () => {
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    app = await startApp({ ...MODEL_ENV, OPENAI_API: 'chat_completions', OPENAI_BASE_URL: fake.baseURL });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('stores cached input and reasoning tokens from the chat API too, the title call included', async () => {
    const user = uniqueUser('chat-usage');
    fake.enqueue(
      answer(),
      textTurn('Refunds', { usage: { inputTokens: 30, cachedTokens: 10, outputTokens: 10 } }),
    );
    await createThread(app, user);
    const { json } = await usage(app, user);
    expect(
      json.days.map((r: any) => [
        r.model,
        r.input_tokens,
        r.cached_input_tokens,
        r.output_tokens,
        r.reasoning_tokens,
      ]),
    ).toEqual([
      ['gpt-test', 100, 40, 20, 5],
      ['gpt-title', 30, 10, 10, 0],
    ]);
  });
});

describe('token budgets', () => {
  let trips: RoundTrips;
  let fake: FakeOpenAI;
  let app: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    trips = new RoundTrips();
    fake = await FakeOpenAI.start();
    app = await startApp({
      ...MODEL_ENV,
      OPENAI_BASE_URL: fake.baseURL,
      USAGE_QUOTA_USER_DAY: '300',
      USAGE_QUOTA_USER_MONTH: '100000',
      USAGE_QUOTA_ORG_DAY: '500',
      USAGE_QUOTA_TURN_RESERVE: '100',
    });
    db = app.app.get(DataSource);
    await app.app.get(KnowledgeBaseStartup).settled();
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    trips?.restore();
  });

  const itemCount = async (user: string, threadId: string) => {
    const res = await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId, limit: 100 } });
    return res.json.data.length as number;
  };

  it('admits turns while the day budget lasts, with the remaining budget in headers, then refuses with 429 and stores nothing', async () => {
    const user = uniqueUser('budget');
    fake.enqueue(answer(), title());
    const { res: created, threadId } = await createThread(app, user);
    // Nothing spent before this turn: the whole daily budget (the tightest) was left.
    expect(created.headers.get('x-quota-budget')).toBe('user_day');
    expect(created.headers.get('x-quota-remaining-tokens')).toBe('300');
    expect(created.headers.get('x-quota-reset')).toBe(nextUtcMidnight().toISOString());

    fake.enqueue(answer());
    let second!: Awaited<ReturnType<typeof addMessage>>;
    const admitted = await trips.during(async () => {
      second = await addMessage(app, user, threadId, 'Where to?');
    });
    expect(second.status).toBe(200);
    expect(second.headers.get('x-quota-remaining-tokens')).toBe('140'); // 300 − 160
    // With budgets, one statement more: the admission, before the turn's own two.
    expect(admitted).toHaveLength(3);
    expect(admitted[0]).toContain('INSERT INTO usage_counters');
    expect(admitted[2]).toContain('UPDATE usage_counters');

    // 280 spent: the next turn is admitted (280 < 300) and overshoots, by one turn.
    fake.enqueue(answer());
    expect((await addMessage(app, user, threadId, 'And then?')).status).toBe(200);
    const before = await itemCount(user, threadId);
    const spentBefore = await db.query(`SELECT count(*)::int AS n FROM token_usage WHERE user_id = $1`, [
      user,
    ]);

    const refused = await addMessage(app, user, threadId, 'One more?');
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({
      code: 'quota_exceeded',
      details: { budget: 'user_day', limit_tokens: 300, resets_at: nextUtcMidnight().toISOString() },
    });
    expect(refused.json.message).toContain('daily token budget');
    expect(refused.json.message).toContain(nextUtcMidnight().toISOString());
    const retryAfter = Number(refused.headers.get('retry-after'));
    const expected = (nextUtcMidnight().getTime() - Date.now()) / 1000;
    expect(Math.abs(retryAfter - expected)).toBeLessThanOrEqual(3);
    expect(refused.json.details.retry_after_s).toBe(retryAfter);
    expect(refused.headers.get('x-quota-remaining-tokens')).toBe('0');
    expect(refused.headers.get('x-quota-reset')).toBe(nextUtcMidnight().toISOString());
    // Refused before anything was stored or asked of the model: the message is not in the thread.
    expect(fake.pendingModelTurns).toBe(0);
    expect(await itemCount(user, threadId)).toBe(before);
    expect(await db.query(`SELECT count(*)::int AS n FROM token_usage WHERE user_id = $1`, [user])).toEqual(
      spentBefore,
    );

    // A new thread is refused the same way, and no thread is made.
    const fresh = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('Hello?') },
    });
    expect(fresh.status).toBe(429);
    const threads = await chatkit(app, user, { type: 'threads.list', params: {} });
    expect(threads.json.data).toHaveLength(1);

    // The usage report shows the budget used up, and when it resets.
    const report = await usage(app, user);
    expect(report.json.quotas).toEqual([
      {
        budget: 'user_day',
        limit_tokens: 300,
        used_tokens: 400,
        remaining_tokens: 0,
        resets_at: nextUtcMidnight().toISOString(),
      },
      {
        budget: 'user_month',
        limit_tokens: 100000,
        used_tokens: 400,
        remaining_tokens: 99600,
        resets_at: new Date(
          Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1),
        ).toISOString(),
      },
    ]);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^chatkit_quota_refusals_total\{scope="user_day"\} [1-9]/m);
  });

  it("refuses a turn when the organization's day budget is used up by its users together", async () => {
    const org = uniqueUser('budget-org');
    const [ann, bob] = [uniqueUser('ann'), uniqueUser('bob')];
    for (const member of [ann, bob]) {
      fake.enqueue(answer(), title());
      const { threadId } = await createThread(app, member, org);
      fake.enqueue(answer());
      expect((await addMessage(app, member, threadId, 'More?', org)).status).toBe(200);
    }
    // 560 spent by the org; each of them spent 280, under their own 300.
    const refused = await chatkit(
      app,
      bob,
      { type: 'threads.create', params: { input: userInput('Hi') } },
      { org },
    );
    expect(refused.status).toBe(429);
    expect(refused.json.details.budget).toBe('org_day');
    expect(refused.json.message).toContain("organization's daily token budget");

    const report = await usage(app, bob, '', org);
    expect(report.json.quotas.map((q: any) => [q.budget, q.used_tokens, q.remaining_tokens])).toEqual([
      ['org_day', 560, 0],
      ['user_day', 280, 20],
      ['user_month', 280, 99720],
    ]);
  });
});
