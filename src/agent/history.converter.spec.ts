import { protocol } from '@openai/agents';
import type { AgentInputItem } from '@openai/agents';
import { ThreadItemSchema } from 'src/protocol/chatkit.schemas';
import type { Attachment, ThreadItem } from 'src/protocol/chatkit.schemas';
import {
  NO_ATTACHMENTS,
  estimateTokens,
  splitHistory,
  toAgentInput,
  withEarlierItems,
  type AttachmentReader,
  type HistoryOptions,
} from 'src/agent/history.converter';

let seq = 0;
function item(fields: Record<string, unknown>): ThreadItem {
  seq++;
  return ThreadItemSchema.parse({
    id: `itm_${seq}`,
    thread_id: 'thr_1',
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    ...fields,
  });
}

const user = (text: string, extra: Record<string, unknown> = {}): ThreadItem =>
  item({ type: 'user_message', content: [{ type: 'input_text', text }], ...extra });
const assistant = (text: string): ThreadItem =>
  item({ type: 'assistant_message', content: [{ type: 'output_text', text }] });

function attachment(id: string, name: string, mime: string): Attachment {
  return mime.startsWith('image/')
    ? { id, name, mime_type: mime, type: 'image', preview_url: `https://files.test/${id}` }
    : { id, name, mime_type: mime, type: 'file' };
}

/** An in-memory reader that records which attachments were read. */
function readerOf(
  files: Record<string, { mimeType: string; data: Buffer }>,
): AttachmentReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: (a) => {
      reads.push(a.id);
      return Promise.resolve(files[a.id] ?? null);
    },
  };
}

function options(overrides: Partial<HistoryOptions> = {}): HistoryOptions {
  return {
    maxMessages: 10,
    tokenBudget: 8000,
    attachmentMaxBytes: 1024,
    attachments: NO_ATTACHMENTS,
    ...overrides,
  };
}

/** Every produced item must be valid Agents SDK input, or the run would reject it. */
function expectValidModelInput(items: AgentInputItem[]): void {
  for (const i of items) expect(() => protocol.ModelItem.parse(i)).not.toThrow();
}

describe('toAgentInput: one item kind at a time', () => {
  it('renders a user message: text with @tags, attachments, quoted text and the tag details', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const pdf = Buffer.from('%PDF-1.4 fake');
    const reader = readerOf({
      a_img: { mimeType: 'image/png', data: png },
      a_pdf: { mimeType: 'application/pdf', data: pdf },
      a_csv: { mimeType: 'text/csv; charset=utf-8', data: Buffer.from('name,age\nAda,36') },
      a_big: { mimeType: 'image/jpeg', data: Buffer.alloc(2048) },
      a_zip: { mimeType: 'application/zip', data: Buffer.from('PK') },
    });
    const message = item({
      type: 'user_message',
      content: [
        { type: 'input_text', text: 'Compare ' },
        { type: 'input_tag', id: 'p1', text: 'Plan A', data: { price: 10 }, group: 'plans' },
        { type: 'input_text', text: ' with ' },
        { type: 'input_tag', id: 'p2', text: 'Plan B', data: { price: 20 } },
        { type: 'input_text', text: ' and ' },
        { type: 'input_tag', id: 'p1', text: 'Plan A', data: { price: 10 }, group: 'plans' },
      ],
      attachments: [
        attachment('a_img', 'chart.png', 'image/png'),
        attachment('a_pdf', 'terms.pdf', 'application/pdf'),
        attachment('a_csv', 'people.csv', 'text/csv'),
        attachment('a_gone', 'old.txt', 'text/plain'),
        attachment('a_big', 'huge.jpg', 'image/jpeg'),
        attachment('a_zip', 'bundle.zip', 'application/zip'),
      ],
      quoted_text: 'the fine print',
    });

    const input = await toAgentInput([message], options({ attachments: reader }));

    expectValidModelInput(input);
    expect(input).toEqual([
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'Compare @Plan A with @Plan B and @Plan A' },
          { type: 'input_image', image: `data:image/png;base64,${png.toString('base64')}`, detail: 'auto' },
          {
            type: 'input_file',
            file: `data:application/pdf;base64,${pdf.toString('base64')}`,
            filename: 'terms.pdf',
          },
          {
            type: 'input_text',
            text: 'Attachment "people.csv" (text/csv):\n<attachment>\nname,age\nAda,36\n</attachment>',
          },
          { type: 'input_text', text: expect.stringMatching(/^\[Attachment "old.txt": no longer available/) },
          {
            type: 'input_text',
            text: expect.stringMatching(/^\[Attachment "huge.jpg": too large .*limit is 0.0 MB/),
          },
          {
            type: 'input_text',
            text: expect.stringMatching(/^\[Attachment "bundle.zip": a application\/zip file/),
          },
        ],
      },
      { role: 'user', content: expect.stringContaining('<quoted_text>\nthe fine print\n</quoted_text>') },
      {
        role: 'user',
        content: [
          { type: 'input_text', text: expect.stringContaining('mentioned these entities') },
          { type: 'input_text', text: '<tag name="Plan A" id="p1" group="plans">{"price":10}</tag>' },
          { type: 'input_text', text: '<tag name="Plan B" id="p2">{"price":20}</tag>' },
        ],
      },
    ]);
    expect(reader.reads).toEqual(['a_img', 'a_pdf', 'a_csv', 'a_gone', 'a_big', 'a_zip']);
  });

  it('mentions quoted text only for the newest item', async () => {
    const input = await toAgentInput(
      [user('first', { quoted_text: 'old quote' }), user('second')],
      options(),
    );
    expect(JSON.stringify(input)).not.toContain('old quote');
  });

  it('tells the reader the limit, so a file over it is never loaded; the note names its size and the limit', async () => {
    const MiB = 1024 * 1024;
    const sizes: Record<string, number> = { a_scan: 3 * MiB, a_note: 12 };
    const asked: Array<[string, number]> = [];
    const loaded: string[] = [];
    const reader: AttachmentReader = {
      read: (a, maxBytes) => {
        asked.push([a.id, maxBytes]);
        const size = sizes[a.id];
        if (size > maxBytes) return Promise.resolve({ mimeType: 'application/pdf', data: null, size });
        loaded.push(a.id);
        return Promise.resolve({ mimeType: 'text/plain', data: Buffer.alloc(size, 'n') });
      },
    };

    const input = await toAgentInput(
      [
        user('both', {
          attachments: [
            attachment('a_scan', 'scan.pdf', 'application/pdf'),
            attachment('a_note', 'note.txt', 'text/plain'),
          ],
        }),
      ],
      options({ attachments: reader, attachmentMaxBytes: 2 * MiB }),
    );

    expectValidModelInput(input);
    expect(input).toEqual([
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'both' },
          {
            type: 'input_text',
            text: '[Attachment "scan.pdf": too large to include (3.0 MB, the limit is 2.0 MB).]',
          },
          {
            type: 'input_text',
            text: expect.stringContaining(`<attachment>\n${'n'.repeat(12)}\n</attachment>`),
          },
        ],
      },
    ]);
    expect(asked).toEqual([
      ['a_scan', 2 * MiB],
      ['a_note', 2 * MiB],
    ]);
    expect(loaded).toEqual(['a_note']);
  });

  it('treats a reader failure like a missing attachment', async () => {
    const reader: AttachmentReader = { read: () => Promise.reject(new Error('disk on fire')) };
    const input = await toAgentInput(
      [user('see file', { attachments: [attachment('a1', 'x.txt', 'text/plain')] })],
      options({ attachments: reader }),
    );
    expect(JSON.stringify(input)).toContain('no longer available');
  });

  it('renders assistant text without annotations, and completed client tool calls as call + result', async () => {
    const input = await toAgentInput(
      [
        user('pick a colour'),
        item({
          type: 'assistant_message',
          content: [
            {
              type: 'output_text',
              text: 'See the docs.',
              annotations: [
                { type: 'annotation', source: { type: 'url', url: 'https://d', title: 'D' }, index: 3 },
              ],
            },
          ],
        }),
        item({ type: 'client_tool_call', status: 'pending', call_id: 'c0', name: 'pick', arguments: {} }),
        item({
          type: 'client_tool_call',
          status: 'completed',
          call_id: 'c1',
          name: 'pick',
          arguments: { palette: ['red'] },
          output: { color: 'red' },
        }),
      ],
      options(),
    );
    expectValidModelInput(input);
    expect(input.slice(1)).toEqual([
      { role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'See the docs.' }] },
      {
        type: 'function_call',
        callId: 'c1',
        name: 'pick',
        arguments: '{"palette":["red"]}',
        status: 'completed',
      },
      {
        type: 'function_call_result',
        callId: 'c1',
        name: 'pick',
        status: 'completed',
        output: '{"color":"red"}',
      },
    ]);
  });

  it('renders widgets, custom workflow tasks, task items, structured input, hidden context and images', async () => {
    const items = [
      item({ type: 'widget', widget: { type: 'Card', children: [{ type: 'Text', value: 'Hi', id: null }] } }),
      item({
        type: 'workflow',
        workflow: {
          type: 'custom',
          tasks: [
            { type: 'custom', title: 'Searched the knowledge base', content: 'query: refunds' },
            { type: 'thought', content: 'private reasoning' },
            { type: 'custom', icon: 'search' },
          ],
        },
      }),
      item({ type: 'task', task: { type: 'custom', title: 'Looked up the order' } }),
      item({ type: 'task', task: { type: 'web_search', title: 'web' } }),
      item({
        type: 'structured_input',
        status: 'answered',
        inputs: [
          {
            id: 'q1',
            type: 'multiple_choice',
            question: 'Plan?',
            options: [{ value: 'A' }, { value: 'B' }],
            answer: { values: ['A'] },
          },
          { id: 'q2', type: 'freeform', question: 'Notes?', answer: { skipped: true } },
          { id: 'q3', type: 'freeform', question: 'Phone?' },
        ],
      }),
      item({ type: 'hidden_context_item', content: 'The user clicked Buy.' }),
      item({ type: 'hidden_context_item', content: { action: 'buy', qty: 2 } }),
      item({ type: 'sdk_hidden_context', content: 'The user cancelled the stream.' }),
      item({ type: 'generated_image', image: { id: 'img1', url: 'https://img.test/1.png' } }),
      item({ type: 'generated_image' }),
      item({ type: 'end_of_turn' }),
    ];

    const input = await toAgentInput(items, options());

    expectValidModelInput(input);
    expect(input).toEqual([
      {
        role: 'user',
        content: `A widget (id: ${items[0].id}) was displayed to the user:\n{"type":"Card","children":[{"type":"Text","value":"Hi"}]}`,
      },
      {
        role: 'user',
        content: expect.stringContaining('<Task>Searched the knowledge base: query: refunds</Task>'),
      },
      { role: 'user', content: expect.stringContaining('<Task>Looked up the order</Task>') },
      {
        role: 'user',
        content: expect.stringContaining(
          '(status: answered):\n<StructuredInput>\n- Plan?\n  answer: A\n- Notes?\n  answer: skipped\n- Phone?\n  answer: unanswered\n</StructuredInput>',
        ),
      },
      {
        role: 'user',
        content: expect.stringContaining(
          'not shown to the user:\n<HiddenContext>\nThe user clicked Buy.\n</HiddenContext>',
        ),
      },
      {
        role: 'user',
        content: expect.stringContaining('<HiddenContext>\n{"action":"buy","qty":2}\n</HiddenContext>'),
      },
      {
        role: 'user',
        content: expect.stringContaining('<HiddenContext>\nThe user cancelled the stream.\n</HiddenContext>'),
      },
      {
        role: 'user',
        content: [
          { type: 'input_text', text: expect.stringContaining('generated') },
          { type: 'input_image', image: 'https://img.test/1.png', detail: 'auto' },
        ],
      },
    ]);
  });
});

describe('toAgentInput: trimming', () => {
  function conversation(turns: number): ThreadItem[] {
    const items: ThreadItem[] = [];
    for (let t = 1; t <= turns; t++) items.push(user(`question ${t}`), assistant(`answer ${t}`));
    return items;
  }

  const texts = (input: AgentInputItem[]): string[] =>
    input.map((i) => {
      const content = (i as { content: unknown }).content;
      return typeof content === 'string'
        ? content
        : (content as Array<{ text: string }>).map((c) => c.text).join('');
    });

  it('keeps the last N messages and the items between them', async () => {
    const items = [
      ...conversation(3),
      item({ type: 'hidden_context_item', content: 'clicked' }),
      user('question 4'),
    ];
    const input = await toAgentInput(items, options({ maxMessages: 4 }));
    expect(texts(input)).toEqual([
      'answer 2',
      'question 3',
      'answer 3',
      expect.stringContaining('clicked'),
      'question 4',
    ]);
  });

  it('drops the oldest turns beyond the token budget without reading their attachments', async () => {
    const reader = readerOf({ old: { mimeType: 'text/plain', data: Buffer.from('x'.repeat(400)) } });
    const items = [
      user('question 1', { attachments: [attachment('old', 'old.txt', 'text/plain')] }),
      assistant('answer 1'),
      user('question 2'),
      assistant('a'.repeat(200)),
      user('question 3'),
    ];
    // Exactly what the three newest items cost, so the fourth no longer fits.
    let budget = 0;
    for (const i of items.slice(2)) budget += estimateTokens(await toAgentInput([i], options()));

    const input = await toAgentInput(items, options({ attachments: reader, tokenBudget: budget }));

    expect(texts(input)).toEqual(['question 2', 'a'.repeat(200), 'question 3']);
    expect(reader.reads).toEqual([]);
  });

  it('always keeps the newest user message and what follows it, even over budget', async () => {
    const items = [
      ...conversation(2),
      user('q'.repeat(4000)),
      item({
        type: 'client_tool_call',
        status: 'completed',
        call_id: 'c',
        name: 'pick',
        arguments: {},
        output: 1,
      }),
    ];
    const input = await toAgentInput(items, options({ tokenBudget: 100 }));
    expect(input).toHaveLength(3);
    expect(texts(input.slice(0, 1))).toEqual(['q'.repeat(4000)]);
    expect(input[1]).toMatchObject({ type: 'function_call', callId: 'c' });
  });

  it('estimates text at about four characters a token and images at a flat cost', () => {
    const text = estimateTokens([{ role: 'user', content: 'x'.repeat(400) }]);
    const image = estimateTokens([
      {
        role: 'user',
        content: [{ type: 'input_image', image: 'data:image/png;base64,AAAA', detail: 'auto' }],
      },
    ]);
    expect(text).toBeGreaterThanOrEqual(100);
    expect(text).toBeLessThan(110);
    expect(image).toBeGreaterThan(500);
  });
});

describe('splitHistory and withEarlierItems', () => {
  const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
  const call: AgentInputItem = { type: 'function_call', callId: 'c1', name: 'lookup', arguments: '{}' };
  const output: AgentInputItem = {
    type: 'function_call_result',
    callId: 'c1',
    name: 'lookup',
    status: 'completed',
    output: 'done',
  };

  it('gives the run the last item only, and nothing apart when there is one', () => {
    const input = [user('a'), user('b'), call, output];
    expect(splitHistory(input)).toEqual({ earlier: [user('a'), user('b'), call], last: [output] });
    expect(splitHistory([user('q')])).toEqual({ earlier: [], last: [user('q')] });
    expect(splitHistory([])).toEqual({ earlier: [], last: [] });
  });

  it('puts the earlier items back in front of every call, instructions untouched', async () => {
    const { earlier, last } = splitHistory([user('a'), user('b'), user('q')]);
    const filter = withEarlierItems(earlier);
    expect(filter.preserveInputIdentity).toBe(true);
    const agent = {} as Parameters<typeof filter>[0]['agent'];
    const first = await filter({
      modelData: { instructions: 'be brief', input: last },
      agent,
      context: undefined,
    });
    expect(first).toEqual({ instructions: 'be brief', input: [user('a'), user('b'), user('q')] });
    // After a tool call the run's own input has grown: the history still comes first, once.
    const second = await filter({
      modelData: { instructions: 'be brief', input: [...last, call, output] },
      agent,
      context: undefined,
    });
    expect(second.input).toEqual([user('a'), user('b'), user('q'), call, output]);
    expect(earlier).toEqual([user('a'), user('b')]);
  });
});
