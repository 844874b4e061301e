import {
  OfflineResponder,
  quotePassage,
  smallTalkKind,
  type KnowledgeSearch,
} from 'src/agent/offline.responder';
import type { KnowledgePassage } from 'src/rag/rag.search.service';
import type {
  AssistantMessageItem,
  ThreadMetadata,
  ThreadStreamEvent,
  UserMessageItem,
} from 'src/protocol/chatkit.schemas';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';
import { applyThreadChange } from 'src/chatkit/stream.pipeline';
import type { RequestContext } from 'src/common/request-context';

const request: RequestContext = { userId: 'user_1', isAdmin: false, requestId: 'req_1', metadata: {} };

function context(history: UserMessageItem[] = []): ResponderContext {
  let ids = 0;
  return {
    request,
    loadHistory: () => Promise.resolve(history),
    saveItem: () => Promise.resolve(),
    generateId: (kind) => `${kind}_${++ids}`,
    now: () => '2026-01-01T00:00:00.000Z',
    updateThread: () => undefined,
    recordUsage: () => undefined,
  };
}

function thread(): ThreadMetadata {
  return { id: 'thr_1', created_at: '2026-01-01T00:00:00.000Z', status: { type: 'active' }, metadata: {} };
}

function question(text: string): UserMessageItem {
  return {
    id: 'msg_q',
    thread_id: 'thr_1',
    created_at: '2026-01-01T00:00:00.000Z',
    type: 'user_message',
    content: [{ type: 'input_text', text }],
    attachments: [],
    inference_options: {},
  };
}

class StubSearch implements KnowledgeSearch {
  readonly calls: Array<{ query: string; userId: string; limit: number }> = [];
  constructor(private readonly result: KnowledgePassage[] | Error) {}
  search(query: string, ctx: RequestContext, limit: number): Promise<KnowledgePassage[]> {
    this.calls.push({ query, userId: ctx.userId, limit });
    return this.result instanceof Error
      ? Promise.reject(this.result)
      : Promise.resolve(this.result.slice(0, limit));
  }
}

async function respond(
  responder: OfflineResponder,
  t: ThreadMetadata,
  input: UserMessageItem | null,
  ctx = context(),
): Promise<ThreadStreamEvent[]> {
  const events: ThreadStreamEvent[] = [];
  // Thread changes land on `t` as the pipeline would apply them.
  const applying: ResponderContext = { ...ctx, updateThread: (change) => void applyThreadChange(t, change) };
  for await (const e of responder.respond(t, input, applying, new AbortController().signal)) events.push(e);
  return events;
}

const finalMessage = (events: ThreadStreamEvent[]): AssistantMessageItem => {
  const done = events.at(-1);
  if (done?.type !== 'thread.item.done' || done.item.type !== 'assistant_message')
    throw new Error('no final message');
  return done.item;
};

describe('OfflineResponder', () => {
  it('says no model is configured and quotes the most relevant passages with their sources', async () => {
    const search = new StubSearch([
      {
        text: 'Refunds are paid   within 5 days\nto the original card.',
        title: 'Refund policy',
        source: 'https://help.test/refunds',
        score: 0.9,
      },
      { text: 'x'.repeat(1000), title: 'Terms', source: 'docs/legal/terms.pdf', score: 0.5 },
      { text: 'Shipping takes a week.', title: 'Shipping', source: 'shipping.md', score: 0.2 },
      { text: 'Never shown', title: 'Fourth', source: 'fourth.md', score: 0.1 },
    ]);
    const t = thread();

    const events = await respond(
      new OfflineResponder(search),
      t,
      question('How do refunds work for card payments?'),
    );

    expect(search.calls).toEqual([
      { query: 'How do refunds work for card payments?', userId: 'user_1', limit: 3 },
    ]);
    expect(events.map((e) => (e.type === 'thread.item.updated' ? e.update.type : e.type))).toEqual([
      'thread.item.added',
      'assistant_message.content_part.added',
      'assistant_message.content_part.text_delta',
      ...Array(3)
        .fill([
          'assistant_message.content_part.text_delta',
          'assistant_message.content_part.annotation_added',
        ])
        .flat(),
      'assistant_message.content_part.done',
      'thread.item.done',
    ]);
    const message = finalMessage(events);
    const [part] = message.content;
    expect(part.text).toMatch(/^No language model is configured on this server/);
    expect(part.text).toContain(
      '1. **Refund policy**\n> Refunds are paid   within 5 days\n> to the original card.',
    );
    expect(part.text).not.toContain('Never shown');
    expect(part.text).toContain(`> ${'x'.repeat(600)}…`);
    expect(part.annotations.map((a) => a.source)).toEqual([
      { type: 'url', url: 'https://help.test/refunds', title: 'Refund policy' },
      { type: 'file', filename: 'terms.pdf', title: 'Terms', description: 'docs/legal/terms.pdf' },
      { type: 'file', filename: 'shipping.md', title: 'Shipping', description: 'shipping.md' },
    ]);
    // Each citation marker sits right after its passage.
    for (const annotation of part.annotations) {
      const before = part.text.slice(0, annotation.index!);
      expect(
        part.text.slice(annotation.index!).startsWith('\n\n') || annotation.index === part.text.length,
      ).toBe(true);
      expect(before.endsWith('…') || before.endsWith('card.') || before.endsWith('week.')).toBe(true);
    }
    expect(events.at(-2)).toMatchObject({ update: { content: part } });
    expect(t.title).toBe('How do refunds work for card payments?');
  });

  it('says the knowledge base is empty when no search is provided', async () => {
    const t = thread();
    const events = await respond(new OfflineResponder(), t, question('Hello there'));
    const [part] = finalMessage(events).content;
    expect(part.text).toMatch(/No language model is configured[^]*knowledge base is empty/);
    expect(part.annotations).toEqual([]);
    expect(t.title).toBe('Hello there');
  });

  it('is honest when the search finds nothing or fails', async () => {
    const nothing = await respond(new OfflineResponder(new StubSearch([])), thread(), question('Anything?'));
    expect(finalMessage(nothing).content[0].text).toMatch(/found nothing in the knowledge base/);
    expect(finalMessage(nothing).content[0].text).toContain('set `OPENAI_API_KEY`');

    const failing = await respond(
      new OfflineResponder(new StubSearch(new Error('db down'))),
      thread(),
      question('Anything?'),
    );
    expect(finalMessage(failing).content[0].text).toMatch(/could not be searched right now/);
    expect(finalMessage(failing).content[0].text).not.toContain('db down');
  });

  it('searches for the last question when called without a new user message, and keeps the title', async () => {
    const search = new StubSearch([{ text: 'Blue.', title: 'Colours', source: 'colours.md', score: 1 }]);
    const t = { ...thread(), title: 'Kept' };
    await respond(new OfflineResponder(search), t, null, context([question('What colour is the logo?')]));
    expect(search.calls.map((c) => c.query)).toEqual(['What colour is the logo?']);
    expect(t.title).toBe('Kept');
  });
});

describe('OfflineResponder small talk', () => {
  it.each(['Hello!', 'hi', 'Hey there 👋', 'Good morning, how are you?', "What's up?", 'hello hello'])(
    'answers the greeting %j without searching, saying it runs without a model and how to add one',
    async (text) => {
      const search = new StubSearch([{ text: 'Hello world.', title: 'Hello', source: 'h.md', score: 1 }]);
      const t = thread();
      const [part] = finalMessage(await respond(new OfflineResponder(search), t, question(text))).content;
      expect(search.calls).toEqual([]);
      expect(part.text).toMatch(
        /^Hello! I’m this gateway’s offline responder: no language model is configured/,
      );
      expect(part.text).toContain('set `OPENAI_API_KEY` (OpenAI) or `OPENAI_BASE_URL`');
      expect(part.text).not.toMatch(/found nothing/);
      expect(part.annotations).toEqual([]);
      expect(t.title).toBe(text);
    },
  );

  it.each<[string, string | undefined]>([
    ['Thanks!', 'thanks'],
    ['thank you so much', 'thanks'],
    ['Bye', 'farewell'],
    ['Who are you?', 'about'],
    ['what can you do', 'about'],
    ['Hi bot, help', 'about'],
    ['Hi, how do I upload a file?', undefined],
    ['hello world program in Rust', undefined],
    ['help with attachments', undefined],
    ['How do refunds work?', undefined],
    ['', undefined],
    ['👋', undefined],
  ])('reads %j as %s', (text, kind) => expect(smallTalkKind(text)).toBe(kind));

  it('answers thanks, farewells and "who are you" in kind', async () => {
    const reply = async (text: string) =>
      finalMessage(await respond(new OfflineResponder(new StubSearch([])), thread(), question(text)))
        .content[0].text;
    expect(await reply('Thanks!')).toMatch(/^You’re welcome!/);
    expect(await reply('Goodbye')).toMatch(/^Goodbye!/);
    expect(await reply('Who are you?')).toMatch(
      /^I’m the offline responder of this ChatKit Gateway\. No language model is configured/,
    );
  });
});

describe('quotePassage', () => {
  it('keeps a table, a list and a code block intact inside the quote', () => {
    const text = [
      '| Setting | Default |',
      '|---|---|',
      '| `PORT` | 3000 |',
      '',
      '- one',
      '  - nested',
      '',
      '```ts',
      'const  x = 1;',
      '```',
    ].join('\n');
    expect(quotePassage(text)).toBe(
      [
        '> | Setting | Default |',
        '> |---|---|',
        '> | `PORT` | 3000 |',
        '>',
        '> - one',
        '>   - nested',
        '>',
        '> ```ts',
        '> const  x = 1;',
        '> ```',
      ].join('\n'),
    );
  });

  it('cuts at a line boundary, closing a code block the cut left open', () => {
    const text = ['Run this:', '```bash', 'echo one', 'echo two', 'echo three', '```', 'After.'].join('\n');
    expect(quotePassage(text, 30)).toBe(
      ['> Run this:', '> ```bash', '> echo one', '> ```', '> …'].join('\n'),
    );
  });

  it('closes a code block that a chunk boundary left open', () => {
    expect(quotePassage('~~~~\ncode')).toBe('> ~~~~\n> code\n> ~~~~');
  });

  it('cuts one long line at a word, and drops blank lines around the passage', () => {
    expect(quotePassage(`\n\n${'word '.repeat(30)}\n\n`, 22)).toBe('> word word word word…');
    expect(quotePassage('Short.\r\nLines.\n')).toBe('> Short.\n> Lines.');
  });
});
