/**
 * MCP servers from the tools file, end to end: real MCP servers built with the official SDK (one
 * over streamable HTTP on loopback, one over stdio started by the gateway), the real AppModule,
 * and the fake model calling their tools. What the model is offered, what a call looks like in
 * the stream, what the model reads back, what a failing tool and a hidden tool do, and that a
 * server that is not there does not stop the gateway.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createThread } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn, type RecordedRequest } from 'test/support/fake-openai';
import { uniqueUser, type TestApp } from 'test/support/test-app';
import { startMcpHttp, startToolsApp, writeToolsFile, type ToolsApp } from 'test/support/tool-servers';

const STDIO_SERVER = join(__dirname, 'fixtures', 'mcp', 'mcp-test-servers.cjs');

const shape = (events: any[]): string[] =>
  events.map((e) => (e.type === 'thread.item.updated' ? `updated:${e.update.type}` : e.type));
const toolNames = (request: RecordedRequest): string[] =>
  ((request.body as any).tools ?? []).map((t: any) => t.name as string);
const inputOf = (request: RecordedRequest): any[] => (request.body as any).input;

describe('MCP servers from the tools file', () => {
  const seen: any[] = [];
  let mcp: Awaited<ReturnType<typeof startMcpHttp>>;
  let gateway: ToolsApp;
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    mcp = await startMcpHttp(seen);
    gateway = await startToolsApp(
      'tools-mcp-',
      {
        mcp_servers: [
          {
            name: 'orders',
            transport: 'streamable_http',
            url: mcp.url,
            headers: { Authorization: 'Bearer ${env:ORDERS_MCP_TOKEN}' },
            forward_user: { header: 'X-User-Id' },
            allow_tools: ['lookup_order', 'explode'],
            timeout_ms: 5000,
            display: {
              lookup_order: {
                progress: 'Looking up the order…',
                title: 'Looked up an order',
                icon: 'search',
              },
            },
          },
          {
            name: 'inventory',
            transport: 'stdio',
            command: process.execPath,
            args: [STDIO_SERVER, 'stdio'],
            env: { INVENTORY_TOKEN: '${env:INVENTORY_TOKEN}' },
            deny_tools: ['reset_inventory'],
          },
          // Nothing listens there: the gateway starts anyway and offers the other servers' tools.
          { name: 'gone', transport: 'streamable_http', url: 'http://127.0.0.1:9/mcp', timeout_ms: 1000 },
        ],
      },
      {
        env: {
          ORDERS_MCP_TOKEN: 'orders-secret',
          INVENTORY_TOKEN: 'inv-secret',
        },
      },
    );
    ({ app, fake } = gateway);
  });
  afterAll(async () => {
    await gateway?.close();
    await mcp?.close();
  });
  beforeEach(() => {
    fake.reset();
    seen.length = 0;
  });
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  async function ask(user: string, text: string, ...turns: Parameters<FakeOpenAI['enqueue']>) {
    fake.enqueue(...turns, textTurn('A title'));
    const res = await createThread(app, user, text);
    expect(res.status).toBe(200);
    return res;
  }

  it('offers the allowed tools of every reachable server, never a hidden one', async () => {
    const res = await ask(uniqueUser(), 'What can you do?', textTurn('I can look up orders.'));
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    const offered = toolNames(fake.requests[0]);
    expect(offered).toEqual(expect.arrayContaining(['lookup_order', 'explode', 'check_stock']));
    // Not on the HTTP server's allow-list; on the stdio server's deny-list.
    expect(offered).not.toContain('secret_admin');
    expect(offered).not.toContain('reset_inventory');
    expect(seen).toEqual([]);
  });

  it('calls a tool over streamable HTTP, shows it as a workflow and gives the model its result', async () => {
    const user = uniqueUser();
    const res = await ask(
      user,
      'Where is my order A-17?',
      toolCallTurn('lookup_order', { order_id: 'A-17' }, { callId: 'call_mcp' }),
      textTurn('Order A-17 has shipped.'),
    );
    expect(shape(res.events).slice(0, 7)).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'progress_update',
      'thread.item.added',
      'updated:workflow.task.updated',
      'thread.item.done',
    ]);
    expect(res.events[3]).toEqual({ type: 'progress_update', text: 'Looking up the order…', icon: 'search' });
    expect(res.events[4].item.workflow.tasks).toEqual([
      expect.objectContaining({ type: 'custom', title: 'Looked up an order', content: 'order_id: A-17' }),
    ]);
    expect(res.events[6].item.workflow.tasks).toEqual([
      expect.objectContaining({ title: 'Looked up an order', status_indicator: 'complete' }),
    ]);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);

    // The server got the call once, with the credential from the environment and the user's id.
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ tool: 'lookup_order', order_id: 'A-17' });
    expect(seen[0].headers.authorization).toBe('Bearer orders-secret');
    expect(seen[0].headers['x-user-id']).toBe(user);

    // The model's next request carries the call and the server's answer.
    const next = inputOf(fake.requests[1]);
    expect(next.at(-2)).toMatchObject({ type: 'function_call', call_id: 'call_mcp', name: 'lookup_order' });
    expect(next.at(-1)).toMatchObject({ type: 'function_call_output', call_id: 'call_mcp' });
    expect(JSON.stringify(next.at(-1).output)).toContain('shipped');
    // The credential never reaches the model.
    expect(JSON.stringify(fake.requests.map((r) => r.body))).not.toContain('orders-secret');
  });

  it('calls a tool of a stdio server, which got its credential through its environment', async () => {
    const res = await ask(
      uniqueUser(),
      'Is SKU-9 in stock?',
      toolCallTurn('check_stock', { sku: 'SKU-9' }, { callId: 'call_stock' }),
      textTurn('Yes, 7 units.'),
    );
    expect(res.events.find((e) => e.type === 'progress_update')).toEqual({
      type: 'progress_update',
      text: 'Using check_stock…',
      icon: 'bolt',
    });
    const output = inputOf(fake.requests[1]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: 'call_stock' });
    const text = JSON.stringify(output.output);
    expect(text).toContain('\\"in_stock\\":7');
    expect(text).toContain('\\"authorized\\":true');
  });

  it('never runs a hidden tool, even when the model calls it by name', async () => {
    const res = await ask(
      uniqueUser(),
      'Open the back door',
      toolCallTurn('secret_admin', {}, { callId: 'call_hidden' }),
      textTurn('I cannot do that.'),
    );
    expect(seen).toEqual([]);
    const output = inputOf(fake.requests[1]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: 'call_hidden' });
    expect(JSON.stringify(output.output)).toContain('secret_admin');
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    expect(res.events.filter((e) => e.type === 'thread.item.done').at(-1).item).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'I cannot do that.' })],
    });
  });

  it('tells the model a tool failed, in words, and the answer still streams', async () => {
    const res = await ask(
      uniqueUser(),
      'Break something',
      toolCallTurn('explode', {}, { callId: 'call_boom' }),
      textTurn('Sorry, the warehouse system is down.'),
    );
    expect(seen).toEqual([{ tool: 'explode' }]);
    const output = inputOf(fake.requests[1]).at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: 'call_boom' });
    const text = JSON.stringify(output.output);
    expect(text).toContain('explode failed');
    expect(text).toContain('the warehouse database is down');
    // Counted like any tool call, by name and outcome.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/chatkit_agent_tool_calls_total\{tool="explode",outcome="error"\} [1-9]/);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    const answer = res.events.filter((e) => e.type === 'thread.item.done').at(-1).item;
    expect(answer).toMatchObject({
      type: 'assistant_message',
      content: [expect.objectContaining({ text: 'Sorry, the warehouse system is down.' })],
    });
  });
});

describe('a tools file with a bad entry', () => {
  it('stops the start with a message naming the file, the section, the entry and the field', async () => {
    const { dir, file } = writeToolsFile('tools-bad-', {
      mcp_servers: [
        { name: 'orders', transport: 'streamable_http', url: 'http://127.0.0.1:9/mcp' },
        {
          name: 'files',
          transport: 'stdio',
          command: 'node',
          deny_tools: ['wipe'],
          require_approval: ['wipe'],
        },
      ],
    });
    try {
      const child = spawn(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'src/main.ts'],
        {
          cwd: join(__dirname, '..'),
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            AUTH_DEV_MODE: 'true',
            AGENT_TOOLS_FILE: file,
          },
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain(
        `AGENT_TOOLS_FILE (${file}): mcp_servers[1] "files" require_approval: "wipe" never reaches the model (see allow_tools/deny_tools)`,
      );
      // The valid entry is not reported; no stack trace either.
      expect(stderr).not.toContain('mcp_servers[0]');
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
