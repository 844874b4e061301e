/**
 * How many database round trips one agent turn costs, from the request to the end of its stream.
 * Every round trip is a wait on the database and a write on its socket, and on the embedded
 * database every one of them queues behind all other requests on its single connection, so the
 * count is part of what a turn costs. The pg driver is wrapped in this process (the app runs in
 * it, test/support/round-trips.ts): every `Client.query` call is one round trip, whatever its text
 * holds.
 *
 * Runs on the embedded database by default and on a server with DATABASE_URL.
 */
import { KnowledgeBaseStartup } from 'src/rag/rag.startup';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn } from 'test/support/fake-openai';
import { RoundTrips } from 'test/support/round-trips';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

/** Round trips allowed for one `threads.add_user_message` turn: open (with the history) + finish. */
const ADD_MESSAGE_MAX_ROUND_TRIPS = 2;
/** The same for `threads.create`, whose first answer also names the thread. */
const CREATE_MAX_ROUND_TRIPS = 2;

const short = (text: string): string => text.slice(0, 160);

describe('database round trips of one agent turn', () => {
  let trips: RoundTrips;
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    trips = new RoundTrips();
    fake = await FakeOpenAI.start();
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-test',
      CHATKIT_HEARTBEAT_MS: '0',
      RAG_SEED_DOCS: 'false',
      RAG_EMBEDDINGS_MODEL: undefined,
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    trips?.restore();
  });

  it('costs at most two for threads.create and for threads.add_user_message, answer and title stored', async () => {
    const user = uniqueUser('trips');
    // The app's own start-up statements (the knowledge base's index checks, in the background)
    // are not a turn's: wait for them, then a first turn, unmeasured, warms the connection.
    await app.app.get(KnowledgeBaseStartup).settled();
    fake.enqueue(textTurn('Warm.'), textTurn('Warm-up'));
    await chatkit(app, user, { type: 'threads.create', params: { input: userInput('Warm up') } });
    fake.enqueue(textTurn('Hello there, how can I help?'), textTurn('Greeting'));
    let created!: Awaited<ReturnType<typeof chatkit>>;
    const createTrips = await trips.during(async () => {
      created = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('Hi') } });
    });
    expect(created.status).toBe(200);
    const threadId: string = created.events[0].thread.id;
    expect(created.events.at(-1)).toMatchObject({ type: 'thread.updated', thread: { title: 'Greeting' } });

    fake.enqueue(textTurn('Refunds take five days.'));
    let added!: Awaited<ReturnType<typeof chatkit>>;
    const addTrips = await trips.during(async () => {
      added = await chatkit(app, user, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: userInput('How long do refunds take?') },
      });
    });
    expect(added.status).toBe(200);
    // The history read with the turn's first statement is the whole conversation, in order.
    const asked = JSON.stringify((fake.requests.at(-1)!.body as { input: unknown }).input);
    const order = ['Hi', 'Hello there, how can I help?', 'How long do refunds take?'].map((t) =>
      asked.indexOf(t),
    );
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]))).toBe(true);
    expect(added.events.map((e) => e.type)).toContain('thread.item.done');
    expect(added.events.some((e) => e.type === 'error')).toBe(false);

    // Reported with every run: the numbers this test guards.
    console.log(
      `round trips per turn: threads.create ${createTrips.length}, threads.add_user_message ${addTrips.length}\n` +
        `create:\n  ${createTrips.map(short).join('\n  ')}\nadd_user_message:\n  ${addTrips.map(short).join('\n  ')}`,
    );

    // What the two turns stored is all there once the streams ended: both questions, both
    // answers, the title, and the thread free for the next turn.
    const thread = await chatkit(app, user, { type: 'threads.get_by_id', params: { thread_id: threadId } });
    expect(thread.json.title).toBe('Greeting');
    const texts = thread.json.items.data.map((item: any) =>
      item.content.map((part: any) => part.text).join(''),
    );
    expect(texts).toEqual([
      'Hi',
      'Hello there, how can I help?',
      'How long do refunds take?',
      'Refunds take five days.',
    ]);
    fake.enqueue(textTurn('Still here.'));
    const next = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('Still there?') },
    });
    expect(next.status).toBe(200);

    expect(addTrips.length).toBeLessThanOrEqual(ADD_MESSAGE_MAX_ROUND_TRIPS);
    expect(createTrips.length).toBeLessThanOrEqual(CREATE_MAX_ROUND_TRIPS);
  });

  it('reads only what the model is sent: the last AGENT_HISTORY_MESSAGES (10) messages of a longer thread', async () => {
    const user = uniqueUser('trips');
    fake.enqueue(textTurn('answer 0'), textTurn('Counting'));
    const created = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('question 0') },
    });
    const threadId: string = created.events[0].thread.id;
    const ask = (text: string) =>
      chatkit(app, user, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: userInput(text) },
      });
    for (let i = 1; i < 8; i++) {
      fake.enqueue(textTurn(`answer ${i}`));
      expect((await ask(`question ${i}`)).status).toBe(200);
    }
    fake.enqueue(textTurn('answer 8'));
    const lastTrips = await trips.during(async () => {
      const res = await ask('question 8');
      expect(res.status).toBe(200);
    });
    expect(lastTrips.length).toBeLessThanOrEqual(ADD_MESSAGE_MAX_ROUND_TRIPS);
    // Seventeen messages stored; the model gets the newest ten, oldest first, as before.
    const input = (fake.requests.at(-1)!.body as { input: Array<{ role?: string; content: unknown }> }).input;
    const texts = input.map((item) =>
      typeof item.content === 'string'
        ? item.content
        : (item.content as Array<{ text: string }>).map((part) => part.text).join(''),
    );
    expect(texts).toEqual([
      'answer 3',
      ...[4, 5, 6, 7].flatMap((i) => [`question ${i}`, `answer ${i}`]),
      'question 8',
    ]);
    // The turn's first statement read the nine stored items among them (the new message is added
    // to them), not the 49 newest items the read is capped at.
    const [opened] = (await trips.rowsOf(0)) as Array<{ history: unknown[] }>;
    expect(opened.history).toHaveLength(9);
  });

  it('answers a busy thread with 409 and stores nothing of the refused message', async () => {
    const user = uniqueUser('trips');
    fake.enqueue(textTurn('First answer.'), textTurn('A title'));
    const created = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('One') } });
    const threadId: string = created.events[0].thread.id;
    // A second turn started while the first streams: hold the model's answer back.
    const slowRequest = fake.requests.length;
    fake.enqueue(textTurn('This slow answer takes a while.', { deltaDelayMs: 60 }));
    const slow = chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('Two') },
    });
    await fake.waitForRequest(slowRequest);
    const busy = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('Three') },
    });
    expect(busy.status).toBe(409);
    expect(busy.json.code).toBe('thread_busy');
    expect((await slow).status).toBe(200);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    const texts = items.json.data.map((item: any) => item.content.map((part: any) => part.text).join(''));
    expect(texts).toEqual(['One', 'First answer.', 'Two', 'This slow answer takes a while.']);
  });
});
