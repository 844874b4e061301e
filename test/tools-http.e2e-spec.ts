/**
 * HTTP tools from the tools file, end to end: the fake model calls tools that reach a real HTTP
 * server on loopback through the real AppModule. The URL template and query/body mapping, the
 * secret header from the environment and the forwarded user, what the model reads back, and the
 * refusals: private destinations unless the entry allows them (loopback is private, so only the
 * entries that say `allow_private_network: true` reach the test server), timeouts, oversized
 * bodies and failing statuses, each as words for the model and never a broken stream.
 */
import { join } from 'node:path';
import { chatkit, createThread, widgetItem } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn } from 'test/support/fake-openai';
import { uniqueUser, type TestApp } from 'test/support/test-app';
import { startLoopbackApi, startToolsApp, type Hit, type ToolsApp } from 'test/support/tool-servers';

/** The shop API: an order as JSON, and on its own paths a late, an oversized and two failing answers. */
const startShopApi = (hits: Hit[]) =>
  startLoopbackApi(hits, (hit, res) => {
    const path = hit.url.split('?')[0];
    if (path === '/slow') {
      setTimeout(() => res.end('too late'), 3000).unref();
      return;
    }
    if (path === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(200_000));
      return;
    }
    if (path === '/orders/missing') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'no such order' }));
      return;
    }
    if (path === '/down') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('maintenance until 10:00');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        method: hit.method,
        path,
        id: decodeURIComponent(path.split('/').at(-1)!),
        status: 'shipped',
        items: [{ name: 'Kettle', qty: 1 }],
        refundable: true,
        received: hit.body ? JSON.parse(hit.body) : null,
      }),
    );
  });

describe('HTTP tools from the tools file', () => {
  const hits: Hit[] = [];
  let api: Awaited<ReturnType<typeof startShopApi>>;
  let gateway: ToolsApp;
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    api = await startShopApi(hits);
    const base = `http://127.0.0.1:${api.port}`;
    const loopback = { allow_private_network: true };
    const orderId = { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] };
    gateway = await startToolsApp(
      'tools-http-',
      {
        http_tools: [
          {
            name: 'get_order',
            description: 'Look up an order',
            parameters: {
              type: 'object',
              properties: { order_id: { type: 'string' }, include: { type: 'string' } },
              required: ['order_id'],
            },
            method: 'GET',
            url: `${base}/orders/{order_id}`,
            headers: { Authorization: 'Bearer ${env:ORDERS_API_TOKEN}' },
            forward_user: { header: 'X-User-Id' },
            display: { progress: 'Fetching the order…', title: 'Fetched an order', icon: 'search' },
            widget: 'order_card',
            ...loopback,
          },
          {
            name: 'add_note',
            description: 'Add a note to an order',
            parameters: {
              type: 'object',
              properties: { order_id: { type: 'string' }, note: { type: 'string' } },
              required: ['order_id', 'note'],
            },
            method: 'post',
            url: `${base}/orders/{order_id}/notes`,
            ...loopback,
          },
          {
            name: 'add_note_api',
            openapi: { spec: 'shop.openapi.yaml', operation_id: 'addNote' },
            ...loopback,
          },
          {
            name: 'slow_call',
            description: 'Slow',
            method: 'GET',
            url: `${base}/slow`,
            timeout_ms: 300,
            ...loopback,
          },
          {
            name: 'big_call',
            description: 'Big',
            method: 'GET',
            url: `${base}/big`,
            max_response_bytes: 1000,
            ...loopback,
          },
          { name: 'down_call', description: 'Down', method: 'GET', url: `${base}/down`, ...loopback },
          // The same server without the permission: refused before any connection.
          {
            name: 'internal_order',
            description: 'Look up an order internally',
            parameters: orderId,
            method: 'GET',
            url: `${base}/orders/{order_id}`,
          },
          // A name that resolves to loopback: refused once resolved.
          {
            name: 'by_name',
            description: 'Look up an order by host name',
            parameters: orderId,
            method: 'GET',
            url: `http://localhost:${api.port}/orders/{order_id}`,
          },
          {
            name: 'metadata',
            description: 'Cloud metadata',
            method: 'GET',
            url: 'http://169.254.169.254/latest/meta-data/',
          },
        ],
      },
      {
        // The OpenAPI document add_note_api names, beside the tools file.
        beside: {
          'shop.openapi.yaml': {
            openapi: '3.0.3',
            info: { title: 'Shop', version: '1' },
            servers: [{ url: base }],
            paths: {
              '/orders/{order_id}/notes': {
                post: {
                  operationId: 'addNote',
                  summary: 'Add a note to an order',
                  parameters: [
                    { name: 'order_id', in: 'path', required: true, schema: { type: 'string' } },
                    { name: 'notify', in: 'query', schema: { type: 'boolean' } },
                  ],
                  requestBody: {
                    content: {
                      'application/json': {
                        schema: {
                          type: 'object',
                          properties: { text: { type: 'string' } },
                          required: ['text'],
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        env: {
          // The example templates: get_order's answer is shown with order_card.json.
          AGENT_WIDGETS_DIR: join(__dirname, '..', 'examples', 'tools', 'widgets'),
          ORDERS_API_TOKEN: 'api-secret',
        },
      },
    );
    ({ app, fake } = gateway);
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });
  beforeEach(() => {
    fake.reset();
    hits.length = 0;
  });
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  /** Runs one turn in which the model calls `name`; returns the stream and what the model read back. */
  async function callTool(user: string, name: string, args: Record<string, unknown>) {
    const before = fake.requests.length;
    fake.enqueue(
      toolCallTurn(name, args, { callId: `call_${name}` }),
      textTurn('Done.'),
      textTurn('A title'),
    );
    const res = await createThread(app, user, 'Please');
    expect(res.status).toBe(200);
    // Whatever the tool did, the turn ends with the model's answer and no error event.
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'Done.' })],
    });
    const output = (fake.requests[before + 1].body as any).input.at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: `call_${name}` });
    return { res, output: typeof output.output === 'string' ? output.output : JSON.stringify(output.output) };
  }

  it('offers the configured tools with their JSON Schema parameters', async () => {
    fake.enqueue(textTurn('Hello.'), textTurn('A title'));
    await createThread(app, uniqueUser(), 'Hi');
    const tools = (fake.requests[0].body as any).tools as any[];
    const getOrder = tools.find((t) => t.name === 'get_order');
    expect(getOrder).toMatchObject({
      type: 'function',
      description: 'Look up an order',
      parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
    });
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['add_note', 'slow_call', 'big_call', 'internal_order', 'metadata']),
    );
  });

  it('fills the URL template, adds the secret header and the user, and gives the model the result', async () => {
    const user = uniqueUser();
    const { res, output } = await callTool(user, 'get_order', { order_id: 'A 17/x', include: 'items' });
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ method: 'GET', url: '/orders/A%2017%2Fx?include=items' });
    expect(hits[0].headers.authorization).toBe('Bearer api-secret');
    expect(hits[0].headers['x-user-id']).toBe(user);
    expect(output).toContain('HTTP 200');
    expect(output).toContain('"status":"shipped"');
    // Shown like the search tool: a progress line, then a task in a workflow.
    expect(res.events.find((e) => e.type === 'progress_update')).toEqual({
      type: 'progress_update',
      text: 'Fetching the order…',
      icon: 'search',
    });
    const workflow = res.events.find((e) => e.type === 'thread.item.done' && e.item.type === 'workflow').item;
    expect(workflow.workflow.tasks).toEqual([
      expect.objectContaining({ title: 'Fetched an order', content: 'order_id: A 17/x; include: items' }),
    ]);
    // The secret stays between the gateway and the API.
    expect(JSON.stringify(fake.requests.map((r) => r.body))).not.toContain('api-secret');
    // The answer's JSON also fills the tool's widget template, streamed and stored as a widget item.
    const shown = widgetItem(res.events);
    expect(JSON.stringify(shown.widget)).toContain('Order A 17/x');
    expect(JSON.stringify(shown.widget)).toContain('Kettle');
    expect(shown.widget.children.at(-1).children[0]).toMatchObject({
      type: 'Button',
      onClickAction: { type: 'order.refund', payload: { order_id: 'A 17/x' } },
    });
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: res.events[0].thread.id, limit: 20 },
    });
    expect(items.json.data.map((i: any) => i.type)).toContain('widget');
  });

  it('shows no widget for a failed call: the model reads the failure, the chat gets no card', async () => {
    const { res, output } = await callTool(uniqueUser(), 'get_order', { order_id: 'missing' });
    expect(output).toContain('HTTP 404 (the call failed)');
    expect(output).toContain('no such order');
    expect(widgetItem(res.events)).toBeUndefined();
  });

  it('sends the other arguments of a POST as a JSON body', async () => {
    const { output } = await callTool(uniqueUser(), 'add_note', {
      order_id: 'B-2',
      note: 'leave at the door',
    });
    expect(hits[0]).toMatchObject({ method: 'POST', url: '/orders/B-2/notes' });
    expect(hits[0].headers['content-type']).toBe('application/json');
    expect(JSON.parse(hits[0].body)).toEqual({ note: 'leave at the door' });
    expect(output).toContain('"received":{"note":"leave at the door"}');
  });

  it('calls an OpenAPI operation: path, query and JSON body as the document describes them', async () => {
    fake.enqueue(textTurn('Hello.'), textTurn('A title'));
    await createThread(app, uniqueUser(), 'Hi');
    expect(
      ((fake.requests[0].body as any).tools as any[]).find((t) => t.name === 'add_note_api'),
    ).toMatchObject({
      description: 'Add a note to an order',
      parameters: { properties: { order_id: {}, notify: {}, text: {} }, required: ['order_id', 'text'] },
    });
    hits.length = 0;
    const { output } = await callTool(uniqueUser(), 'add_note_api', {
      order_id: 'C-3',
      notify: true,
      text: 'hi',
    });
    expect(hits[0]).toMatchObject({ method: 'POST', url: '/orders/C-3/notes?notify=true' });
    expect(JSON.parse(hits[0].body)).toEqual({ text: 'hi' });
    expect(output).toContain('HTTP 200');
  });

  it('refuses a private address unless the entry allows it, by address or by name', async () => {
    const direct = await callTool(uniqueUser(), 'internal_order', { order_id: 'A-17' });
    expect(direct.output).toContain('The internal_order call failed: Refused: 127.0.0.1 is a private');
    const named = await callTool(uniqueUser(), 'by_name', { order_id: 'A-17' });
    expect(named.output).toContain('The by_name call failed: Refused: localhost is a private');
    const metadata = await callTool(uniqueUser(), 'metadata', {});
    expect(metadata.output).toContain('Refused: 169.254.169.254');
    // None of them reached the server.
    expect(hits).toEqual([]);
  });

  it('gives up after the timeout, with a message for the model', async () => {
    const { output } = await callTool(uniqueUser(), 'slow_call', {});
    expect(hits).toHaveLength(1);
    expect(output).toContain('The slow_call call failed: No complete response within 300 ms.');
  });

  it('cuts an oversized body at the limit and says so', async () => {
    const { output } = await callTool(uniqueUser(), 'big_call', {});
    expect(output).toContain('HTTP 200');
    expect(output).toContain('x'.repeat(1000));
    expect(output).not.toContain('x'.repeat(1001));
    expect(output).toContain('longer than 1000 bytes and was cut off');
  });

  it('passes a failing status on as a failed call with its body', async () => {
    const { output } = await callTool(uniqueUser(), 'down_call', {});
    expect(output).toContain('HTTP 503 (the call failed)');
    expect(output).toContain('maintenance until 10:00');
  });
});
