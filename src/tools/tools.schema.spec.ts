import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { actionWebhooksFrom } from 'src/actions/actions.config';
import { ConfigValidationError } from 'src/config/env.schema';
import { loadToolsFile } from 'src/config/extensions.config';
import { parseToolsConfig } from 'src/tools/tools.schema';

const FILE = '/etc/gateway/tools.yaml';

function problemsOf(file: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseToolsConfig(file, FILE, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('expected the tools file to be refused');
}

const httpTool = {
  name: 'get_order',
  description: 'Look up an order',
  parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  method: 'GET',
  url: 'https://api.example.com/orders/{order_id}',
};

describe('parseToolsConfig', () => {
  it('accepts both kinds of MCP server and an HTTP tool, with defaults and secrets from the environment', () => {
    const config = parseToolsConfig(
      {
        mcp_servers: [
          {
            name: 'orders',
            transport: 'streamable_http',
            url: 'https://mcp.example.com/mcp',
            headers: { Authorization: 'Bearer ${env:ORDERS_TOKEN}' },
            deny_tools: ['delete_order'],
          },
          { name: 'files', transport: 'stdio', command: 'node', env: { TOKEN: '${env:FILES_TOKEN}' } },
        ],
        http_tools: [{ ...httpTool, headers: { 'X-Api-Key': '${env:API_KEY}' }, widget: 'order_card' }],
        actions: [{ belongs: 'to another feature' }],
      },
      FILE,
      { ORDERS_TOKEN: 'o-1', FILES_TOKEN: 'f-1', API_KEY: 'k-1' },
    );
    expect(config.mcpServers[0]).toMatchObject({
      headers: { Authorization: 'Bearer o-1' },
      timeout_ms: 30_000,
      tools_cache_seconds: 300,
      require_approval: false,
    });
    expect(config.mcpServers[0]).not.toHaveProperty('forward_user');
    expect(config.mcpServers[1]).toMatchObject({ env: { TOKEN: 'f-1' }, args: [] });
    expect(config.httpTools[0]).toMatchObject({
      headers: { 'X-Api-Key': 'k-1' },
      timeout_ms: 10_000,
      max_response_bytes: 65_536,
      allow_private_network: false,
      widget: 'order_card',
    });
  });

  it('is empty without the sections', () => {
    expect(parseToolsConfig({}, FILE, {})).toEqual({ mcpServers: [], httpTools: [] });
  });

  it('names the file, the section, the entry and the field of every problem', () => {
    expect(
      problemsOf({
        mcp_servers: [
          { name: 'orders', transport: 'websocket', url: 'wss://x' },
          { name: 'files', transport: 'stdio', command: 'node', timeout_ms: 5 },
        ],
        http_tools: [
          { ...httpTool, url: 'https://api.example.com/{id}' },
          { ...httpTool, method: 'TRACE' },
        ],
      }),
    ).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[0] "orders" transport: transport must be "streamable_http" or "stdio"`,
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[1] "files" timeout_ms: Too small: expected number to be >=100`,
      expect.stringMatching(
        /^AGENT_TOOLS_FILE \(\/etc\/gateway\/tools.yaml\): http_tools\[1\] "get_order" method: /,
      ),
      `AGENT_TOOLS_FILE (${FILE}): http_tools[0] "get_order" url: placeholder {id} is not one of the parameters (order_id)`,
    ]);
  });

  it('refuses unknown fields, duplicate names, missing secrets and a section that is not a list', () => {
    expect(problemsOf({ http_tools: [{ ...httpTool, secret: 'x' }] })).toEqual([
      expect.stringContaining('http_tools[0] "get_order": Unrecognized key: "secret"'),
    ]);
    expect(problemsOf({ http_tools: [httpTool, httpTool] })).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): http_tools[1] "get_order": the name is used twice`,
    ]);
    expect(
      problemsOf({ http_tools: [{ ...httpTool, headers: { Authorization: 'Bearer ${env:NOPE}' } }] }),
    ).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): http_tools[0] "get_order": environment variable NOPE is not set`,
    ]);
    expect(problemsOf({ mcp_servers: { name: 'x' } })).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers must be a list`,
    ]);
    expect(
      problemsOf({
        mcp_servers: [
          { name: 'a', transport: 'stdio', command: 'node', allow_tools: ['x'], deny_tools: ['x'] },
        ],
      }),
    ).toEqual([`AGENT_TOOLS_FILE (${FILE}): mcp_servers[0] "a": "x" is both allowed and denied`]);
  });

  it('takes require_approval for an HTTP tool, and for a whole MCP server or some of its tools', () => {
    const config = parseToolsConfig(
      {
        mcp_servers: [
          { name: 'orders', transport: 'stdio', command: 'node', require_approval: true },
          {
            name: 'files',
            transport: 'stdio',
            command: 'node',
            deny_tools: ['wipe'],
            require_approval: ['delete_file', 'move_file'],
          },
        ],
        http_tools: [{ ...httpTool, require_approval: true }],
      },
      FILE,
      {},
    );
    expect(config.mcpServers.map((s) => s.require_approval)).toEqual([true, ['delete_file', 'move_file']]);
    expect(config.httpTools[0].require_approval).toBe(true);
  });

  it('refuses a require_approval that is not a yes/no or a list of tools the model can see', () => {
    expect(problemsOf({ http_tools: [{ ...httpTool, require_approval: ['get_order'] }] })).toEqual([
      expect.stringMatching(/http_tools\[0\] "get_order" require_approval: Invalid input: expected boolean/),
    ]);
    const server = { name: 'files', transport: 'stdio', command: 'node' };
    expect(problemsOf({ mcp_servers: [{ ...server, require_approval: 'yes' }] })).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[0] "files" require_approval: must be true, false or a list of tool names`,
    ]);
    expect(problemsOf({ mcp_servers: [{ ...server, require_approval: [] }] })).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[0] "files" require_approval: Too small: expected array to have >=1 items`,
    ]);
    expect(
      problemsOf({
        mcp_servers: [
          { ...server, deny_tools: ['wipe'], require_approval: ['wipe'] },
          { ...server, name: 'docs', allow_tools: ['read'], require_approval: ['read', 'write'] },
        ],
      }),
    ).toEqual([
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[0] "files" require_approval: "wipe" never reaches the model (see allow_tools/deny_tools)`,
      `AGENT_TOOLS_FILE (${FILE}): mcp_servers[1] "docs" require_approval: "write" never reaches the model (see allow_tools/deny_tools)`,
    ]);
  });
});

describe('HTTP tools from an OpenAPI operation', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tools-openapi-'));
    writeFileSync(
      join(dir, 'shop.yaml'),
      stringify({
        openapi: '3.0.3',
        info: { title: 'Shop', version: '1' },
        servers: [{ url: 'https://api.shop.example/v1' }],
        paths: {
          '/orders/{order_id}/notes': {
            parameters: [{ name: 'order_id', in: 'path', required: true, schema: { type: 'string' } }],
            post: {
              operationId: 'addNote',
              summary: 'Add a note to an order',
              parameters: [
                {
                  name: 'notify',
                  in: 'query',
                  schema: { type: 'boolean' },
                  description: 'Tell the customer',
                },
                { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
              ],
              requestBody: {
                required: true,
                content: { 'application/json': { schema: { $ref: '#/components/schemas/Note' } } },
              },
            },
          },
          '/admin': {
            get: {
              operationId: 'admin',
              parameters: [{ name: 'X-Admin', in: 'header', required: true, schema: { type: 'string' } }],
            },
          },
        },
        components: {
          schemas: {
            Note: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
          },
        },
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes method, URL, parameters and description from the operation', () => {
    const config = parseToolsConfig(
      { http_tools: [{ name: 'add_note', openapi: { spec: 'shop.yaml', operation_id: 'addNote' } }] },
      join(dir, 'tools.yaml'),
      {},
    );
    expect(config.httpTools[0]).toMatchObject({
      name: 'add_note',
      description: 'Add a note to an order',
      method: 'POST',
      url: 'https://api.shop.example/v1/orders/{order_id}/notes',
      query: ['notify'],
      parameters: {
        type: 'object',
        properties: {
          order_id: { type: 'string' },
          notify: { type: 'boolean', description: 'Tell the customer' },
          text: { type: 'string' },
        },
        required: ['order_id', 'text'],
      },
    });
  });

  it('names what it cannot use', () => {
    const tools = join(dir, 'tools.yaml');
    const refused = (openapi: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] => {
      try {
        parseToolsConfig({ http_tools: [{ name: 't', openapi, ...extra }] }, tools, {});
      } catch (error) {
        return (error as ConfigValidationError).problems;
      }
      throw new Error('expected a refusal');
    };
    expect(refused({ spec: 'shop.yaml', operation_id: 'nope' })).toEqual([
      `AGENT_TOOLS_FILE (${tools}): http_tools[0] "t" openapi: shop.yaml has no operation "nope"`,
    ]);
    expect(refused({ spec: 'shop.yaml', operation_id: 'admin' })).toEqual([
      expect.stringContaining('parameter "X-Admin" in header is required, which a tool cannot send'),
    ]);
    expect(refused({ spec: 'missing.yaml', operation_id: 'x' })).toEqual([
      expect.stringContaining('the OpenAPI document missing.yaml cannot be read: ENOENT'),
    ]);
    expect(refused({ spec: 'shop.yaml', operation_id: 'addNote' }, { method: 'GET' })).toEqual([
      expect.stringContaining('method: comes from the OpenAPI operation'),
    ]);
  });
});

describe('examples/tools/tools.yaml', () => {
  it('is a valid tools file', () => {
    const path = join(__dirname, '..', '..', 'examples', 'tools', 'tools.yaml');
    const config = parseToolsConfig(loadToolsFile(path), path, {
      ORDERS_MCP_TOKEN: 'o',
      INVENTORY_TOKEN: 'i',
      SHOP_API_TOKEN: 's',
    });
    expect(config.mcpServers.map((s) => s.name)).toEqual(['orders', 'inventory']);
    expect(config.httpTools).toEqual([
      expect.objectContaining({ name: 'get_order_status', widget: 'order_card' }),
    ]);
    const webhooks = actionWebhooksFrom(
      { toolsFile: loadToolsFile(path), toolsFilePath: path },
      { ACTIONS_WEBHOOK_SECRET: 'a-signing-key-of-32-characters!!' },
    );
    expect(webhooks.map((w) => w.type)).toEqual(['order.refund']);
  });
});
