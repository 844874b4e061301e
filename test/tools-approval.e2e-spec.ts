/**
 * Tool calls that wait for the user's approval (`require_approval`), end to end: the real
 * AppModule, the fake model, an HTTP API on loopback and a real MCP server over streamable HTTP.
 * A call the model makes does not run; a confirmation card streams and is stored with the call;
 * the model reads that it waits. Approve runs the stored call once (whatever the action's payload
 * says) and the model answers with the result; Deny never runs it; a second click is refused.
 */
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { chatkit, createThread, widgetItem } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn, type RecordedRequest } from 'test/support/fake-openai';
import { uniqueUser, type TestApp } from 'test/support/test-app';
import {
  startLoopbackApi,
  startMcpHttp,
  startToolsApp,
  type Hit,
  type ToolsApp,
} from 'test/support/tool-servers';

/** The refund API: answers after a short pause, so two clicks at once overlap. */
const startRefundApi = (hits: Hit[]) =>
  startLoopbackApi(hits, (hit, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const id = decodeURIComponent(hit.url.split('/')[2] ?? '');
      res.end(
        JSON.stringify({
          id,
          status: 'refunded',
          items: [{ name: 'Kettle', qty: 1 }],
          refunded: true,
          received: JSON.parse(hit.body || 'null'),
        }),
      );
    }, 300);
  });

const inputOf = (request: RecordedRequest): any[] => (request.body as any).input;
const textOfInput = (request: RecordedRequest): string => JSON.stringify(inputOf(request));

/** Every Button of a widget tree. */
function buttons(node: any): any[] {
  if (typeof node !== 'object' || node === null) return [];
  const own = node.type === 'Button' ? [node] : [];
  return [...own, ...(Array.isArray(node.children) ? node.children.flatMap(buttons) : [])];
}

describe('tool calls that need the user\u2019s approval', () => {
  const hits: Hit[] = [];
  const seen: any[] = [];
  let api: Awaited<ReturnType<typeof startRefundApi>>;
  let mcp: Awaited<ReturnType<typeof startMcpHttp>>;
  let gateway: ToolsApp;
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    api = await startRefundApi(hits);
    mcp = await startMcpHttp(seen);
    gateway = await startToolsApp(
      'tools-approval-',
      {
        http_tools: [
          {
            name: 'refund_order',
            description: 'Refund an order',
            parameters: {
              type: 'object',
              properties: { order_id: { type: 'string' }, amount: { type: 'number' } },
              required: ['order_id', 'amount'],
            },
            method: 'POST',
            url: `http://127.0.0.1:${api.port}/orders/{order_id}/refund`,
            forward_user: { header: 'X-User-Id' },
            allow_private_network: true,
            require_approval: true,
            display: { title: 'Refund an order' },
            // Once the call has run, its answer is shown with this template, as for any call.
            widget: 'order_card',
          },
        ],
        mcp_servers: [
          {
            name: 'orders',
            transport: 'streamable_http',
            url: mcp.url,
            forward_user: { header: 'X-User-Id' },
            allow_tools: ['lookup_order', 'explode'],
            // Only this tool asks; explode runs as usual.
            require_approval: ['lookup_order'],
            timeout_ms: 5000,
          },
        ],
      },
      {
        env: {
          AGENT_WIDGETS_DIR: join(__dirname, '..', 'examples', 'tools', 'widgets'),
        },
      },
    );
    ({ app, fake } = gateway);
  });
  afterAll(async () => {
    await gateway?.close();
    await mcp?.close();
    await api?.close();
  });
  beforeEach(() => {
    fake.reset();
    hits.length = 0;
    seen.length = 0;
  });
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  /** A turn in which the model calls `name`; returns the confirmation card as the client got it. */
  async function askFor(user: string, name: string, args: Record<string, unknown>) {
    fake.enqueue(
      toolCallTurn(name, args, { callId: `call_${name}` }),
      textTurn('I asked for your approval.'),
      textTurn('A title'),
    );
    const res = await createThread(app, user, 'Please');
    expect(res.status).toBe(200);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    const card = widgetItem(res.events);
    expect(card).toBeDefined();
    // The model read that the call waits, and answered.
    const output = inputOf(fake.requests[1]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: `call_${name}` });
    expect(JSON.stringify(output.output)).toContain('needs the user\u2019s approval');
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'I asked for your approval.' })],
    });
    return card;
  }

  const decide = (user: string, card: any, type: string, payload: Record<string, unknown> = {}) =>
    chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: card.thread_id, item_id: card.id, action: { type, payload } },
    });

  const storedPayload = async (id: string): Promise<any> => {
    const rows: Array<{ payload: any }> = await app.app
      .get(DataSource)
      .query('SELECT payload FROM thread_items WHERE id = $1', [id]);
    return rows[0].payload;
  };

  it('shows a confirmation instead of calling the API, with the call stored on the server only', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'refund_order', { order_id: 'A-17', amount: 12 });
    expect(hits).toHaveLength(0);
    expect(JSON.stringify(card.widget)).toContain('Allow Refund an order?');
    expect(JSON.stringify(card.widget)).toContain('order_id: A-17');
    expect(buttons(card.widget).map((b) => b.onClickAction)).toEqual([
      { type: 'tool.deny', payload: {} },
      { type: 'tool.approve', payload: {} },
    ]);
    // The client never gets the stored call: not in the stream, not when the thread is loaded.
    expect(card).not.toHaveProperty('metadata');
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: card.thread_id, order: 'asc' },
    });
    const listed = items.json.data.find((i: any) => i.id === card.id);
    expect(listed.widget).toEqual(card.widget);
    expect(listed).not.toHaveProperty('metadata');
    expect((await storedPayload(card.id)).metadata.tool_approval).toEqual({
      kind: 'http',
      source: 'refund_order',
      tool: 'refund_order',
      title: 'Refund an order',
      arguments: { order_id: 'A-17', amount: 12 },
      call_id: 'call_refund_order',
      status: 'pending',
    });
  });

  it('does not ask about a call whose arguments cannot make a request: the model reads why', async () => {
    fake.enqueue(
      toolCallTurn('refund_order', { order_id: 'A-17' }, { callId: 'call_bad' }),
      textTurn('I need the amount.'),
      textTurn('A title'),
    );
    const res = await createThread(app, uniqueUser(), 'Refund A-17');
    expect(res.status).toBe(200);
    expect(widgetItem(res.events)).toBeUndefined();
    const output = inputOf(fake.requests[1]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: 'call_bad' });
    expect(JSON.stringify(output.output)).toContain('The arguments do not fit the refund_order tool');
    expect(hits).toHaveLength(0);
  });

  it('approve runs the stored call once, whatever the payload says, and the model answers with the result', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'refund_order', { order_id: 'A-17', amount: 12 });
    const before = fake.requests.length;
    fake.enqueue(textTurn('The refund is done.'));
    const res = await decide(user, card, 'tool.approve', {
      order_id: 'B-99',
      amount: 9999,
      arguments: { order_id: 'B-99', amount: 9999 },
    });
    expect(res.status).toBe(200);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);

    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ method: 'POST', url: '/orders/A-17/refund' });
    expect(JSON.parse(hits[0].body)).toEqual({ amount: 12 });
    expect(hits[0].headers['x-user-id']).toBe(user);

    const replaced = res.events.filter((e) => e.type === 'thread.item.replaced');
    expect(replaced.length).toBeGreaterThan(0);
    const final = replaced.at(-1).item;
    expect(final.id).toBe(card.id);
    expect(final).not.toHaveProperty('metadata');
    expect(JSON.stringify(final.widget)).toContain('Approved \u2014 Refund an order');
    expect(buttons(final.widget)).toEqual([]);
    // The result's own widget, from the tool's template.
    const resultCard = widgetItem(res.events);
    expect(JSON.stringify(resultCard.widget)).toContain('Order A-17');

    // The model's next request carries the result; its answer streams.
    expect(fake.requests.length).toBe(before + 1);
    const input = textOfInput(fake.requests[before]);
    expect(input).toContain('The user approved the call of refund_order');
    expect(input).toContain('\\"refunded\\":true');
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'The refund is done.' })],
    });
    expect((await storedPayload(card.id)).metadata.tool_approval.status).toBe('approved');

    // A second click (approve again, or deny after approve) is refused and runs nothing.
    for (const type of ['tool.approve', 'tool.deny']) {
      const again = await decide(user, card, type);
      expect(again.status).toBe(200);
      expect(again.events.find((e) => e.type === 'error')).toMatchObject({
        message: expect.stringContaining('already approved'),
      });
      expect(again.events.some((e) => e.type === 'thread.item.replaced')).toBe(false);
    }
    expect(hits).toHaveLength(1);
  });

  it('deny never calls the API and tells the model', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'refund_order', { order_id: 'A-18', amount: 5 });
    const before = fake.requests.length;
    fake.enqueue(textTurn('Understood, no refund.'));
    const res = await decide(user, card, 'tool.deny');
    expect(res.status).toBe(200);
    expect(hits).toHaveLength(0);
    const final = res.events.filter((e) => e.type === 'thread.item.replaced').at(-1).item;
    expect(JSON.stringify(final.widget)).toContain('Denied \u2014 Refund an order');
    expect(buttons(final.widget)).toEqual([]);
    expect(textOfInput(fake.requests[before])).toContain('The user denied the call of refund_order');
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
    });

    const approveAfterDeny = await decide(user, card, 'tool.approve');
    expect(approveAfterDeny.events.find((e) => e.type === 'error')).toMatchObject({
      message: expect.stringContaining('already denied'),
    });
    expect(hits).toHaveLength(0);
  });

  it('two clicks at once run the call once', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'refund_order', { order_id: 'A-19', amount: 3 });
    fake.enqueue(textTurn('Done.'));
    const [a, b] = await Promise.all([
      decide(user, card, 'tool.approve'),
      decide(user, card, 'tool.approve'),
    ]);
    expect(hits).toHaveLength(1);
    // One ran; the other found the thread busy (409) or the call decided (an error event).
    const ran = [a, b].filter((r) => r.events.some((e) => e.type === 'thread.item.replaced'));
    expect(ran).toHaveLength(1);
    const other = ran[0] === a ? b : a;
    expect(other.status === 409 || other.events.some((e) => e.type === 'error')).toBe(true);
  });

  it('refuses other widgets, another user\u2019s thread, and the JSON action', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'refund_order', { order_id: 'A-20', amount: 1 });
    // Another user cannot reach the thread at all.
    const stranger = await decide(uniqueUser(), card, 'tool.approve');
    expect(stranger.status).toBe(404);
    // An action that is not sent by a confirmation card.
    const noSender = await chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: card.thread_id, action: { type: 'tool.approve', payload: {} } },
    });
    expect(noSender.events.find((e) => e.type === 'error')).toMatchObject({
      message: expect.stringContaining('not a call waiting for approval'),
    });
    const sync = await chatkit(app, user, {
      type: 'threads.sync_custom_action',
      params: { thread_id: card.thread_id, item_id: card.id, action: { type: 'tool.approve', payload: {} } },
    });
    expect(sync.status).toBe(400);
    expect(sync.json.message).toContain('threads.custom_action');
    expect(hits).toHaveLength(0);
    expect((await storedPayload(card.id)).metadata.tool_approval.status).toBe('pending');
  });

  it('an MCP tool listed in require_approval waits too, and runs on the server once approved', async () => {
    const user = uniqueUser();
    const card = await askFor(user, 'lookup_order', { order_id: 'M-5' });
    expect(seen).toHaveLength(0);
    expect(JSON.stringify(card.widget)).toContain('Allow lookup_order?');
    expect((await storedPayload(card.id)).metadata.tool_approval).toMatchObject({
      kind: 'mcp',
      source: 'orders',
      tool: 'lookup_order',
      arguments: { order_id: 'M-5' },
      status: 'pending',
    });

    const before = fake.requests.length;
    fake.enqueue(textTurn('It shipped with Parcelo.'));
    const res = await decide(user, card, 'tool.approve', { order_id: 'X-1' });
    expect(res.status).toBe(200);
    expect(seen).toEqual([
      expect.objectContaining({
        tool: 'lookup_order',
        order_id: 'M-5',
        headers: expect.objectContaining({ 'x-user-id': user }),
      }),
    ]);
    const final = res.events.filter((e) => e.type === 'thread.item.replaced').at(-1).item;
    expect(JSON.stringify(final.widget)).toContain('Approved \u2014 lookup_order');
    expect(textOfInput(fake.requests[before])).toContain('Parcelo');
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'It shipped with Parcelo.' })],
    });
  });

  it('a tool of the same server that is not listed runs without asking', async () => {
    const user = uniqueUser();
    fake.enqueue(
      toolCallTurn('explode', {}, { callId: 'call_explode' }),
      textTurn('It failed.'),
      textTurn('T'),
    );
    const res = await createThread(app, user, 'Go');
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ tool: 'explode' }]);
    expect(widgetItem(res.events)).toBeUndefined();
  });
});
