import type { MCPServer } from '@openai/agents';
import { ConfiguredMcpServer, RECONNECT_MS } from 'src/tools/mcp-server';
import type { McpServerEntry } from 'src/tools/tools.schema';

const ENTRY: McpServerEntry = {
  name: 'orders',
  transport: 'streamable_http',
  url: 'http://mcp.example/mcp',
  timeout_ms: 1000,
  tools_cache_seconds: 60,
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
        return Promise.resolve(
          name === 'explode'
            ? Object.assign([{ type: 'text', text: 'database down' }], { isError: true })
            : [{ type: 'text', text: 'ok' }],
        );
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
    const server = new ConfiguredMcpServer(ENTRY, fakeClients(state), clock);
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
    const server = new ConfiguredMcpServer(ENTRY, fakeClients(state), clock);
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
    const server = new ConfiguredMcpServer(ENTRY, fakeClients(state), clock);
    expect(server.toolFilter).toEqual({ allowedToolNames: undefined, blockedToolNames: ['secret_admin'] });
    const result = await server.callTool('explode', {});
    expect([...result]).toEqual([{ type: 'text', text: 'The tool explode failed: database down' }]);
    expect(result.isError).toBe(true);
  });

  it('forwards the user only when configured, and never as MCP metadata', async () => {
    const state = { up: true, lists: 0, created: 0, calls: [] as any[] };
    const plain = new ConfiguredMcpServer(ENTRY, fakeClients(state), clock);
    expect(plain.toolMetaResolver).toBeUndefined();
    const forwarding = new ConfiguredMcpServer(
      { ...ENTRY, forward_user: { header: 'X-User-Id' } },
      fakeClients(state),
      clock,
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

  it('says why a call failed, in words for the model', () => {
    const server = new ConfiguredMcpServer(
      ENTRY,
      fakeClients({ up: true, lists: 0, created: 0, calls: [] }),
      clock,
    );
    expect(server.errorFunction({ context: {} as any, error: new Error('timed out') })).toBe(
      'The orders tool server could not run this tool: timed out',
    );
  });
});
