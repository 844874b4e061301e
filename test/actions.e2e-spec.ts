/**
 * Action webhooks end to end: a widget shown by a tool (the order card), its button's action
 * routed by the tools file to a loopback endpoint that checks the signature, and the endpoint's
 * answer replacing the widget, adding a message and starting the agent's answer — through
 * `threads.custom_action` (streamed) and `threads.sync_custom_action` (JSON); a slow, failing or
 * nonsensical endpoint as a readable error event or a 504/502.
 *
 * One app at a time: the embedded test database takes a single connection.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { chatkit, createThread, widgetItem } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn, type RecordedRequest } from 'test/support/fake-openai';
import { agentOnFake, startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const ROOT = join(__dirname, '..');
const SECRET = 'a-webhook-signing-secret-for-tests';
const bodyOf = (request: RecordedRequest): any => request.body;

/** What an endpoint does to check a call, as docs/tools-widgets.part.md shows it. */
function verified(header: string | undefined, body: string): boolean {
  const parts = Object.fromEntries(
    (header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]),
  );
  if (!parts.t || !parts.v1 || Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) return false;
  const expected = createHmac('sha256', SECRET).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

interface Call {
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  signed: boolean;
}

describe('action webhooks', () => {
  let app: TestApp;
  let fake: FakeOpenAI;
  let endpoint: Server;
  let dir: string;
  const calls: Call[] = [];
  /** Per path: what the endpoint answers next. */
  const answers: Record<string, { status?: number; json?: unknown; raw?: string; delayMs?: number }> = {};

  beforeAll(async () => {
    endpoint = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const signed = verified(req.headers['x-chatkit-signature'] as string | undefined, raw);
        calls.push({ path: req.url!, headers: req.headers, body: JSON.parse(raw), signed });
        const answer = answers[req.url!] ?? { json: {} };
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(signed ? (answer.status ?? 200) : 401, { 'Content-Type': 'application/json' });
          res.end(answer.raw ?? JSON.stringify(answer.json ?? {}));
        }, answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}`;

    dir = mkdtempSync(join(tmpdir(), 'actions-'));
    const widgets = join(dir, 'widgets');
    mkdirSync(widgets);
    copyFileSync(
      join(ROOT, 'examples', 'tools', 'widgets', 'order_card.json'),
      join(widgets, 'order_card.json'),
    );
    const toolsFile = join(dir, 'tools.yaml');
    writeFileSync(
      toolsFile,
      [
        'actions:',
        '  - type: order.refund',
        `    url: ${base}/refund`,
        '    secret_env: ACTIONS_WEBHOOK_SECRET',
        '    headers: { X-Shop: north }',
        '  - type: order.slow',
        `    url: ${base}/slow`,
        '    timeout_ms: 300',
        '    secret_env: ACTIONS_WEBHOOK_SECRET',
        '  - type: order.broken',
        `    url: ${base}/broken`,
        '    secret_env: ACTIONS_WEBHOOK_SECRET',
        '',
      ].join('\n'),
    );
    fake = await FakeOpenAI.start();
    app = await startApp({
      ...agentOnFake(fake),
      AGENT_WIDGETS_DIR: widgets,
      AGENT_TOOLS_FILE: toolsFile,
      ACTIONS_WEBHOOK_SECRET: SECRET,
    });
    app.app.get(AgentTools).register({
      name: 'lookup_order',
      description: 'Look up an order by its id',
      parameters: z.object({ order_id: z.string() }),
      execute: (args) => ({
        id: args.order_id,
        status: 'shipped',
        refundable: true,
        items: [{ name: 'Kettle', qty: 1 }],
      }),
      widget: 'order_card',
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.reset();
    calls.length = 0;
  });
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  /** A thread whose last answer shows the order card; its widget item. */
  async function orderCard(user: string): Promise<any> {
    fake.enqueue(
      toolCallTurn('lookup_order', { order_id: 'A-17' }),
      textTurn('Here it is.'),
      textTurn('Order'),
    );
    const res = await createThread(app, user, 'Order A-17?');
    expect(res.status).toBe(200);
    const widget = widgetItem(res.events);
    expect(widget).toBeDefined();
    fake.reset();
    return widget;
  }

  /** The order card's own button action. */
  const refundAction = (widget: any): any =>
    JSON.parse(JSON.stringify(widget.widget.children[3].children[0].onClickAction));

  it('a streamed action: the signed call, then the widget replaced, a message added and the agent answering', async () => {
    const user = uniqueUser();
    const card = await orderCard(user);
    answers['/refund'] = {
      json: {
        replace_widget: {
          template: 'order_card',
          data: { id: 'A-17', status: 'refund requested', items: [] },
        },
        add_message: 'Your refund for order A-17 has been requested.',
        hidden_context: 'The refund of order A-17 was requested; reference R-991.',
        start_turn: true,
      },
    };
    fake.enqueue(textTurn('Anything else about A-17?'));
    const action = refundAction(card);
    const res = await chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: card.thread_id, item_id: card.id, action },
    });
    expect(res.status).toBe(200);

    expect(calls).toHaveLength(1);
    expect(calls[0].signed).toBe(true);
    expect(calls[0].headers['x-shop']).toBe('north');
    expect(calls[0].body).toEqual({
      type: 'order.refund',
      payload: { order_id: 'A-17' },
      thread_id: card.thread_id,
      item_id: card.id,
      user: { id: user, org_id: null },
      widget: card.widget,
      sync: false,
    });

    const replaced = res.events.find((e) => e.type === 'thread.item.replaced');
    expect(replaced.item.id).toBe(card.id);
    expect(replaced.item.widget.children[0].children[2]).toEqual({
      type: 'Badge',
      label: 'refund requested',
      color: 'info',
      pill: true,
    });
    // Not refundable any more: the template's $if left the button out.
    expect(replaced.item.widget.children).toHaveLength(3);
    const messages = res.events
      .filter((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message')
      .map((e) => e.item.content[0].text);
    expect(messages).toEqual(['Your refund for order A-17 has been requested.', 'Anything else about A-17?']);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);

    // The agent's turn saw the action's message and the hidden context.
    const input = JSON.stringify(bodyOf(fake.requests[0]).input);
    expect(input).toContain('reference R-991');
    expect(input).toContain('Your refund for order A-17 has been requested.');

    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: card.thread_id, order: 'asc' },
    });
    const stored = items.json.data;
    expect(stored.find((i: any) => i.id === card.id).widget).toEqual(replaced.item.widget);
    expect(
      stored.filter((i: any) => i.type === 'assistant_message').map((i: any) => i.content[0].text),
    ).toEqual(['Here it is.', 'Your refund for order A-17 has been requested.', 'Anything else about A-17?']);
    // Hidden context is for the model, never listed to the client.
    expect(JSON.stringify(stored)).not.toContain('R-991');
  });

  it('a sync action: the endpoint’s widget comes back as updated_item and is stored', async () => {
    const user = uniqueUser();
    const card = await orderCard(user);
    const widget = { type: 'Card', children: [{ type: 'Text', value: 'Refund requested' }] };
    // start_turn has no stream to answer in here: ignored (no model turn is scripted).
    answers['/refund'] = {
      json: { replace_widget: widget, add_message: 'Refund on its way.', start_turn: true },
    };
    const res = await chatkit(app, user, {
      type: 'threads.sync_custom_action',
      params: {
        thread_id: card.thread_id,
        item_id: card.id,
        action: refundAction(card),
      },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ updated_item: { ...card, widget } });
    expect(calls[0]).toMatchObject({ signed: true, body: { sync: true, item_id: card.id } });
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: card.thread_id, order: 'asc' },
    });
    expect(items.json.data.find((i: any) => i.id === card.id).widget).toEqual(widget);
    // The added message is stored, shown when the thread is next loaded.
    expect(items.json.data.at(-1)).toMatchObject({
      type: 'assistant_message',
      content: [{ type: 'output_text', text: 'Refund on its way.' }],
    });
  });

  it('an endpoint that does not answer in time: an error event the user can read, or 504', async () => {
    const user = uniqueUser();
    const card = await orderCard(user);
    answers['/slow'] = { json: { add_message: 'too late' }, delayMs: 2_000 };
    const params = { thread_id: card.thread_id, item_id: card.id, action: { type: 'order.slow' } };
    const streamed = await chatkit(app, user, { type: 'threads.custom_action', params });
    expect(streamed.status).toBe(200);
    expect(streamed.events.at(-1)).toEqual({
      type: 'error',
      code: 'custom',
      message: 'This action could not be completed: the service did not answer in time. Please try again.',
      allow_retry: true,
    });
    const sync = await chatkit(app, user, { type: 'threads.sync_custom_action', params });
    expect(sync.status).toBe(504);
    expect(sync.json).toMatchObject({ code: 'action_webhook_timeout' });
    expect(sync.json.message).toContain('order.slow');
  });

  it('an endpoint that fails or answers nonsense: an error event, or 502 naming the problem; nothing changes', async () => {
    const user = uniqueUser();
    const card = await orderCard(user);
    const params = { thread_id: card.thread_id, item_id: card.id, action: { type: 'order.broken' } };

    answers['/broken'] = { json: { replace_widget: { type: 'Card', children: [{ type: 'Blink' }] } } };
    const streamed = await chatkit(app, user, { type: 'threads.custom_action', params });
    expect(streamed.events.map((e) => e.type)).toEqual(['stream_options', 'error']);
    expect(streamed.events[1]).toMatchObject({
      code: 'custom',
      message: expect.stringContaining('could not be completed'),
    });

    const sync = await chatkit(app, user, { type: 'threads.sync_custom_action', params });
    expect(sync.status).toBe(502);
    expect(sync.json.code).toBe('action_webhook_failed');
    expect(sync.json.message).toMatch(/replace_widget: children\[0\]\.type: expected one of/);

    answers['/broken'] = { status: 500, json: { error: 'down' } };
    const down = await chatkit(app, user, { type: 'threads.sync_custom_action', params });
    expect(down.status).toBe(502);
    expect(down.json.message).toContain('HTTP 500');

    answers['/broken'] = { raw: 'not json' };
    const garbled = await chatkit(app, user, { type: 'threads.sync_custom_action', params });
    expect(garbled.status).toBe(502);
    expect(garbled.json.message).toContain('not JSON');

    answers['/broken'] = { json: { add_mesage: 'typo' } };
    const unknownKey = await chatkit(app, user, { type: 'threads.sync_custom_action', params });
    expect(unknownKey.status).toBe(502);
    expect(unknownKey.json.message).toContain('unknown key(s) add_mesage');

    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: card.thread_id, order: 'asc' },
    });
    expect(items.json.data.find((i: any) => i.id === card.id).widget).toEqual(card.widget);

    // Counted by action type and outcome, the bad widget as a bad answer.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(
      /chatkit_action_webhook_calls_total\{type="order\.broken",outcome="bad_answer"\} 4\b/,
    );
    expect(metrics).toMatch(
      /chatkit_action_webhook_calls_total\{type="order\.broken",outcome="http_error"\} 1\b/,
    );
  });

  it('an action type nobody configured is still a 400 naming the known ones', async () => {
    const user = uniqueUser();
    const card = await orderCard(user);
    for (const type of ['threads.custom_action', 'threads.sync_custom_action']) {
      const res = await chatkit(app, user, {
        type,
        params: { thread_id: card.thread_id, item_id: card.id, action: { type: 'order.cancel' } },
      });
      expect(res.status).toBe(400);
      expect(res.json.message).toMatch(/no handler for action "order\.cancel" \(known: .*order\.refund/);
    }
    expect(calls).toHaveLength(0);
  });
});
