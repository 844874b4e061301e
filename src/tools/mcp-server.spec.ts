import type { MCPServer } from '@openai/agents';
import { ConfiguredMcpServer, RECONNECT_MS } from 'src/tools/mcp-server';
import { APPROVAL_PENDING_OUTPUT, pendingCallOf } from 'src/tools/tool-approval';
import type { McpServerEntry } from 'src/tools/tools.schema';

const ENTRY: McpServerEntry = {
  name: 'orders',
  transport: 'streamable_http',
  url: 'http://mcp.example/mcp',
  timeout_ms: 1000,
  tools_cache_seconds: 60,
  max_response_bytes: 65_536,
  require_approval: false,
  deny_tools: ['secret_admin'],
};

/** An SDK client stand-in: `up` says whether connecting works; counts list calls. */
function fakeClients(state: { up: boolean; lists: number; created: number; calls: unknown[] }) {
  return (): MCPServer =>
    ({
      name: 'orders',
      cacheToolsList: false,
      connect: () => {
        state.created++;
        return state.up ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED'));
      },
      close: () => Promise.resolve(),
      listTools: () => {
        state.lists++;
        return Promise.resolve([{ name: 'lookup_order', inputSchema: { type: 'object', properties: {} } }]);
      },
      callTool: (name: string, args: unknown, meta: unknown) => {
        state.calls.push({ name, args, meta });
        if (name === 'explode')
          return Promise.resolve(Object.assign([{ type: 'text', text: 'database down' }], { isError: true }));
        if (name === 'dump')
          return Promise.resolve([
            { type: 'text', text: 'y'.repeat(500) },
            { type: 'image', data: 'A'.repeat(5000), mimeType: 'image/png' },
          ]);
        return Promise.resolve([{ type: 'text', text: 'ok' }]);
      },
      invalidateToolsCache: () => Promise.resolve(),
    }) as unknown as MCPServer;
}

describe('ConfiguredMcpServer', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it('starts without a server that is down, offers no tools, and reconnects later', async () => {
    const state = { up: false, lists: 0, created: 0, calls: [] };
    const server = new ConfiguredMcpServer(ENTRY, { create: fakeClients(state), now: clock });
    await expect(server.connect()).resolves.toBeUndefined();
    expect(server.connected).toBe(false);
    await expect(server.listTools()).resolves.toEqual([]);
    // Not retried on every turn.
    expect(state.created).toBe(1);
    state.up = true;
    now += RECONNECT_MS;
    await expect(server.listTools()).resolves.toEqual([expect.objectContaining({ name: 'lookup_order' })]);
    expect(server.connected).toBe(true);
  });

  it('caches the tool list for tools_cache_seconds', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] };
    const server = new ConfiguredMcpServer(ENTRY, { create: fakeClients(state), now: clock });
    await server.connect();
    await server.listTools();
    await server.listTools();
    expect(state.lists).toBe(1);
    now += 60_000;
    await server.listTools();
    expect(state.lists).toBe(2);
    await server.invalidateToolsCache();
    await server.listTools();
    expect(state.lists).toBe(3);
  });

  it('turns the deny list into the SDK filter and an error result into a failure the model reads as one', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] };
    const server = new ConfiguredMcpServer(ENTRY, { create: fakeClients(state), now: clock });
    const filter = server.toolFilter as (context: any, tool: any) => Promise<boolean>;
    const agent = { tools: [{ type: 'function', name: 'get_order' }] };
    await expect(filter({ agent }, { name: 'lookup_order' })).resolves.toBe(true);
    await expect(filter({ agent }, { name: 'secret_admin' })).resolves.toBe(false);
    // Named like one of the agent's own tools: the agent's wins.
    await expect(filter({ agent }, { name: 'get_order' })).resolves.toBe(false);
    const calls: string[] = [];
    server.onCall = (name, outcome) => calls.push(`${name}:${outcome}`);
    await server.callTool('lookup_order', {});
    const result = await server.callTool('explode', {});
    expect(calls).toEqual(['lookup_order:ok', 'explode:error']);
    expect([...result]).toEqual([{ type: 'text', text: 'The tool explode failed: database down' }]);
    expect(result.isError).toBe(true);
  });

  it('cuts a result larger than max_response_bytes to its text, with a note', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] };
    const server = new ConfiguredMcpServer(
      { ...ENTRY, max_response_bytes: 100 },
      { create: fakeClients(state), now: clock },
    );
    expect([...(await server.callTool('lookup_order', {}))]).toEqual([{ type: 'text', text: 'ok' }]);
    const [part, ...rest] = await server.callTool('dump', {});
    expect(rest).toEqual([]);
    expect(part.text).toBe(
      `${'y'.repeat(100)}\n[The result was longer than 100 bytes and was cut off here.]`,
    );
  });

  it('forwards the user only when configured, and never as MCP metadata', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] as any[] };
    const plain = new ConfiguredMcpServer(ENTRY, { create: fakeClients(state), now: clock });
    expect(plain.toolMetaResolver).toBeUndefined();
    const forwarding = new ConfiguredMcpServer(
      { ...ENTRY, forward_user: { header: 'X-User-Id' } },
      { create: fakeClients(state), now: clock },
    );
    const meta = await forwarding.toolMetaResolver!({
      runContext: { context: { request: { userId: 'u-1' } } } as any,
      serverName: 'orders',
      toolName: 'lookup_order',
      arguments: {},
    });
    await forwarding.callTool('lookup_order', {}, meta);
    expect(state.calls).toEqual([{ name: 'lookup_order', args: {}, meta: undefined }]);
  });

  it('shows a tool that needs approval for approval instead of calling it, and calls it once approved', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] as any[] };
    const server = new ConfiguredMcpServer(
      {
        ...ENTRY,
        forward_user: { header: 'X-User-Id' },
        require_approval: ['lookup_order'],
        display: { lookup_order: { title: 'Look up an order' } },
      },
      { create: fakeClients(state), now: clock },
    );
    expect(server.needsApproval('lookup_order')).toBe(true);
    expect(server.needsApproval('explode')).toBe(false);
    const emitted: any[] = [];
    const context = {
      request: { userId: 'u-1' },
      thread: { id: 'thr_1' },
      responder: { generateId: () => 'msg_1', now: () => '2026-01-01T00:00:00.000Z' },
      emit: (event: unknown) => emitted.push(event),
    };
    const metaFor = (toolName: string) =>
      server.toolMetaResolver!({
        runContext: { context } as any,
        serverName: 'orders',
        toolName,
        arguments: {},
      }) as Record<string, unknown>;

    const asked = await server.callTool('lookup_order', { order_id: 'A-1' }, metaFor('lookup_order'));
    expect(asked).toEqual([{ type: 'text', text: APPROVAL_PENDING_OUTPUT }]);
    expect(state.calls).toEqual([]);
    expect(pendingCallOf(emitted[0].item)).toEqual({
      kind: 'mcp',
      source: 'orders',
      tool: 'lookup_order',
      title: 'Look up an order',
      arguments: { order_id: 'A-1' },
      status: 'pending',
    });
    // Without the run context there is nobody to ask: refused, not run.
    await expect(server.callTool('lookup_order', { order_id: 'A-1' })).rejects.toThrow(/approval/);
    expect(state.calls).toEqual([]);

    // Another tool of the server runs as usual, and so does the approved call.
    await server.callTool('explode', {}, metaFor('explode'));
    await expect(server.runApproved('lookup_order', { order_id: 'A-1' }, 'u-1')).resolves.toEqual([
      { type: 'text', text: 'ok' },
    ]);
    expect(state.calls.map((c) => [c.name, c.args, c.meta])).toEqual([
      ['explode', {}, undefined],
      ['lookup_order', { order_id: 'A-1' }, undefined],
    ]);
  });

  it('leaves out a tool another server already offers under the same name', async () => {
    const claims = new Map<string, string>();
    const state = { up: true, lists: 0, created: 0, calls: [] };
    const first = new ConfiguredMcpServer(ENTRY, { claims, create: fakeClients(state), now: clock });
    const second = new ConfiguredMcpServer(
      { ...ENTRY, name: 'orders-copy' },
      { claims, create: fakeClients(state), now: clock },
    );
    await expect(first.listTools()).resolves.toHaveLength(1);
    await expect(second.listTools()).resolves.toEqual([]);
    now += 60_000;
    await expect(first.listTools()).resolves.toHaveLength(1);
  });

  it('says why a call failed, in words for the model', () => {
    const server = new ConfiguredMcpServer(ENTRY, {
      create: fakeClients({ up: true, lists: 0, created: 0, calls: [] }),
      now: clock,
    });
    expect(server.errorFunction({ context: {} as any, error: new Error('timed out') })).toBe(
      'The orders tool server could not run this tool: timed out',
    );
  });
});
