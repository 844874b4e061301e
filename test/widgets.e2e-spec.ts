/**
 * Widgets end to end: a tool's result filled into a template and streamed as a widget item
 * (stored with the turn, the model still given the output), the knowledge-base sources card
 * (RAG_SOURCES_WIDGET), and a template that is not a widget stopping the start.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { KNOWLEDGE_BASE_TOOL } from 'src/agent/prompt';
import { chatkit, createThread, userInput, widgetItem } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn, type RecordedRequest } from 'test/support/fake-openai';
import { agentOnFake, startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const ROOT = join(__dirname, '..');
const bodyOf = (request: RecordedRequest): any => request.body;

describe('tool results shown as widgets', () => {
  let app: TestApp;
  let fake: FakeOpenAI;
  let dir: string;
  const orders: Record<string, unknown> = {
    'A-17': {
      id: 'A-17',
      status: 'shipped',
      refundable: true,
      items: [
        { name: 'Kettle', qty: 1 },
        { name: 'Mug', qty: 4 },
      ],
    },
    // A status the Badge cannot show (a number where its label must be text): no widget, same answer.
    'B-2': { id: 'B-2', status: 404, items: [] },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'widgets-'));
    copyFileSync(join(ROOT, 'examples', 'tools', 'widgets', 'order_card.json'), join(dir, 'order_card.json'));
    fake = await FakeOpenAI.start();
    app = await startApp({
      ...agentOnFake(fake),
      RAG_SOURCES_WIDGET: 'true',
      AGENT_WIDGETS_DIR: dir,
    });
    app.app.get(AgentTools).register({
      name: 'lookup_order',
      description: 'Look up an order by its id',
      parameters: z.object({ order_id: z.string() }),
      execute: (args) => orders[args.order_id],
      widget: 'order_card',
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => fake.reset());
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  it('streams the filled template as a widget item, stores it, and still gives the model the output', async () => {
    const user = uniqueUser();
    fake.enqueue(
      toolCallTurn('lookup_order', { order_id: 'A-17' }),
      textTurn('Order A-17 has shipped.'),
      textTurn('Order A-17'),
    );
    const res = await createThread(app, user, 'Where is order A-17?');
    expect(res.status).toBe(200);
    const done = res.events.filter((e) => e.type === 'thread.item.done').map((e) => e.item);
    const widget = done.find((item) => item.type === 'widget');
    expect(widget).toMatchObject({ id: expect.stringMatching(/^msg_/), thread_id: expect.any(String) });
    expect(widget.widget.type).toBe('Card');
    expect(widget.widget.children[0].children).toEqual([
      { type: 'Title', value: 'Order A-17', size: 'sm' },
      { type: 'Spacer' },
      { type: 'Badge', label: 'shipped', color: 'info', pill: true },
    ]);
    expect(widget.widget.children[2].children.map((row: any) => row.children[0].value)).toEqual([
      'Kettle',
      'Mug',
    ]);
    expect(JSON.stringify(widget.widget)).toContain(
      '"onClickAction":{"type":"order.refund","payload":{"order_id":"A-17"}}',
    );
    // Shown before the answer that follows the call.
    const answerAt = done.findIndex((item) => item.type === 'assistant_message');
    expect(done.indexOf(widget)).toBeLessThan(answerAt);

    const output = (bodyOf(fake.requests[1]).input as any[]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output' });
    expect(JSON.parse(output.output)).toEqual(orders['A-17']);

    const listed = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: widget.thread_id, order: 'asc' },
    });
    expect(listed.json.data.find((item: any) => item.type === 'widget')).toEqual(widget);
  });

  it('skips the widget when the output does not make a valid one; the model gets the output all the same', async () => {
    fake.enqueue(
      toolCallTurn('lookup_order', { order_id: 'B-2' }),
      textTurn('Order B-2 was not found.'),
      textTurn('Order B-2'),
    );
    const res = await createThread(app, uniqueUser(), 'Where is order B-2?');
    expect(res.status).toBe(200);
    expect(widgetItem(res.events)).toBeUndefined();
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    expect(JSON.parse((bodyOf(fake.requests[1]).input as any[]).at(-1).output)).toEqual(orders['B-2']);
  });

  it('shows the knowledge-base sources as a card when RAG_SOURCES_WIDGET=true', async () => {
    const org = `org-widgets-${Date.now().toString(36)}`;
    const admin = await tokenFor(uniqueUser('kb-admin'), { org, roles: ['admin'] });
    const ingest = await fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        source: 'handbook/expenses.md',
        title: 'Travel expenses',
        content: '# Travel expenses\n\nTrain tickets are refunded within thirty days of the trip.\n',
      }),
    });
    expect(ingest.status).toBe(201);
    fake.enqueue(
      toolCallTurn(KNOWLEDGE_BASE_TOOL, { query: 'train tickets refunded' }),
      textTurn('Within thirty days [1].'),
      textTurn('Train tickets'),
    );
    const res = await chatkit(
      app,
      uniqueUser(),
      { type: 'threads.create', params: { input: userInput('When are train tickets refunded?') } },
      { org },
    );
    const widget = widgetItem(res.events);
    expect(widget).toBeDefined();
    const text = JSON.stringify(widget.widget);
    expect(text).toContain('"label":"[1]"');
    expect(text).toContain('Travel expenses');
    expect(text).toContain('handbook/expenses.md');
    expect((bodyOf(fake.requests[1]).input as any[]).at(-1).output).toContain('thirty days');
  });

  it('refuses a tool that names a template that does not exist', () => {
    expect(() =>
      app.app.get(AgentTools).register({
        name: 'no_card',
        description: 'x',
        parameters: z.object({}),
        execute: () => ({}),
        widget: 'missing_card',
      }),
    ).toThrow(/widget template "missing_card", which does not exist/);
  });
});

describe('a widget template that is not a widget', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'widgets-bad-'));
    writeFileSync(
      join(dir, 'status_card.json'),
      JSON.stringify({
        type: 'Card',
        children: [{ type: 'Row', children: [{ type: 'Badge', text: '{{status}}' }] }],
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops the start with a message naming the file and the bad node', async () => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'src/main.ts'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          HOST: '127.0.0.1',
          PORT: '0',
          AUTH_DEV_MODE: 'true',
          AGENT_WIDGETS_DIR: dir,
          DATABASE_URL: process.env.DATABASE_URL,
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(join(dir, 'status_card.json'));
    expect(stderr).toContain('children[0].children[0].label: required');
    expect(stderr).toContain('children[0].children[0]: unknown key(s) text');
    // Reported as a setting's problem, not as a crash.
    expect(stderr).toContain('See docs/configuration.md');
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 90_000);
});
