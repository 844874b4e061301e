/**
 * A fresh install with no model configured (no OPENAI_* variables): the real AppModule over HTTP
 * answers every turn with the offline responder, which says so and quotes the knowledge-base
 * passages that match the question, each annotated with its source.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { chatkit, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

/** Letters and digits only, so full-text search keeps it as one word nobody else's document has. */
const RUN = `q${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const NO_MODEL = 'No language model is configured on this server';

const HANDBOOK = `# Travel policy

## Booking trains

Book ${RUN} trains through the travel desk at least five days ahead. First class is allowed for
journeys longer than four hours.

## Hotel limits

Hotels may cost up to 180 euros a night in capital cities and 120 euros elsewhere.
`;

const FAQ = `# Expenses FAQ

Receipts for ${RUN} trains and taxis are uploaded in the expenses app within thirty days.
`;

const answerOf = (events: any[]) =>
  events.find((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message')?.item;

describe('offline responder (no model configured)', () => {
  let app: TestApp;
  const org = `org-offline-${RUN}`;

  beforeAll(async () => {
    app = await startApp({
      OPENAI_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
      OPENAI_API: undefined,
      AGENT_TRANSCRIBE_MODEL: undefined,
      RAG_EMBEDDINGS_MODEL: undefined,
      RAG_SEED_DOCS: 'false',
      CHATKIT_HEARTBEAT_MS: '0',
    });
  });
  afterAll(() => app?.close());

  async function ingest(source: string, content: string, title?: string): Promise<void> {
    const token = await tokenFor(uniqueUser('kb-admin'), { org, roles: ['admin'] });
    const res = await fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source, content, title, mime_type: 'text/markdown' }),
    });
    expect(res.status).toBe(201);
  }

  it('says no model is configured when the knowledge base has nothing for the question', async () => {
    const user = uniqueUser();
    const res = await chatkit(
      app,
      user,
      { type: 'threads.create', params: { input: userInput(`zz${RUN} quasar mitochondria`) } },
      { org: `${org}-empty` },
    );
    expect(res.status).toBe(200);
    expect(res.events.map((e) => e.type)).not.toContain('error');
    const answer = answerOf(res.events);
    expect(answer.content).toHaveLength(1);
    expect(answer.content[0].text.startsWith(NO_MODEL)).toBe(true);
    expect(answer.content[0].text).toContain('nothing in the knowledge base');
    expect(answer.content[0].annotations).toEqual([]);
    // The thread is still named, from the question.
    expect(res.events.at(-1)).toMatchObject({
      type: 'thread.updated',
      thread: { title: `zz${RUN} quasar mitochondria` },
    });
  });

  it('quotes the most relevant passages with annotations pointing at their sources', async () => {
    await ingest('https://intranet.example/policies/travel', HANDBOOK, 'Travel policy');
    await ingest('faq/expenses.md', FAQ);

    const user = uniqueUser();
    const res = await chatkit(
      app,
      user,
      { type: 'threads.create', params: { input: userInput(`How do I book ${RUN} trains?`) } },
      { org },
    );
    expect(res.status).toBe(200);
    const types = res.events.map((e) => (e.type === 'thread.item.updated' ? e.update.type : e.type));
    expect(types.slice(0, 5)).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'thread.item.added',
      'assistant_message.content_part.added',
    ]);
    expect(types).toContain('assistant_message.content_part.annotation_added');
    expect(types).not.toContain('error');

    const answer = answerOf(res.events);
    const [part] = answer.content;
    expect(part.text.startsWith(NO_MODEL)).toBe(true);
    // The booking passage comes first and is quoted, not paraphrased.
    // Each quote is the passage's Markdown, line by line, in a blockquote.
    const quotes = [...part.text.matchAll(/\n\n(\d)\. \*\*(.+?)\*\*((?:\n>[^\n]*)+)/g)];
    expect(quotes.length).toBeGreaterThanOrEqual(2);
    expect(quotes[0][3]).toContain(`Book ${RUN} trains through the travel desk at least five days ahead.`);
    expect(quotes.some((q) => q[3].includes(`Receipts for ${RUN} trains and taxis`))).toBe(true);

    // One annotation per quoted passage, at the end of its quote, pointing at its document.
    expect(part.annotations).toHaveLength(quotes.length);
    const web = part.annotations.find((a: any) => a.source.type === 'url');
    expect(web).toMatchObject({
      type: 'annotation',
      source: { type: 'url', url: 'https://intranet.example/policies/travel' },
    });
    const file = part.annotations.find((a: any) => a.source.type === 'file');
    expect(file).toMatchObject({
      type: 'annotation',
      source: { type: 'file', filename: 'expenses.md', description: 'faq/expenses.md' },
    });
    for (const [i, annotation] of part.annotations.entries()) {
      const quote = quotes[i];
      expect(annotation.index).toBe(quote.index! + quote[0].length);
    }

    // Stored exactly as streamed.
    const items = await chatkit(
      app,
      user,
      { type: 'items.list', params: { thread_id: res.events[0].thread.id, order: 'asc' } },
      { org },
    );
    expect(items.json.data.map((i: any) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect(items.json.data[1]).toEqual(answer);
  });

  it('answers a greeting by saying it runs without a model and how to configure one', async () => {
    const res = await chatkit(app, uniqueUser(), {
      type: 'threads.create',
      params: { input: userInput('Hello!') },
    });
    const [part] = answerOf(res.events).content;
    expect(part.text).toMatch(/^Hello! .*no language model is configured/);
    expect(part.text).toContain('`OPENAI_API_KEY`');
    expect(part.text).not.toContain('found nothing');
  });

  it('never shows another org its documents', async () => {
    const res = await chatkit(
      app,
      uniqueUser(),
      { type: 'threads.create', params: { input: userInput(`How do I book ${RUN} trains?`) } },
      { org: `${org}-elsewhere` },
    );
    const answer = answerOf(res.events);
    expect(answer.content[0].text).not.toContain(RUN);
    expect(answer.content[0].text).toContain('nothing in the knowledge base');
  });

  it('input.transcribe answers 501 without a transcription model', async () => {
    const res = await chatkit(app, uniqueUser(), {
      type: 'input.transcribe',
      params: { audio_base64: Buffer.from('audio').toString('base64'), mime_type: 'audio/webm' },
    });
    expect(res.status).toBe(501);
  });
});
