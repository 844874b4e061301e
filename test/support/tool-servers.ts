/**
 * What the tools e2e tests call and run: an HTTP API on loopback that records every request it
 * gets, a stateless MCP server over streamable HTTP with the orders tools (test/fixtures/mcp), the
 * tools file that points the gateway at them, and the real app reading that file with the fake
 * model. The servers listen on a free loopback port; their `close()` drops open connections too,
 * so a test's keep-alive sockets never hold its teardown up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { stringify } from 'yaml';
import { FakeOpenAI } from 'test/support/fake-openai';
import { agentOnFake, startApp, type TestApp } from 'test/support/test-app';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ordersServer } = require('../fixtures/mcp/mcp-test-servers.cjs') as {
  ordersServer(seen: unknown[]): { connect(t: unknown): Promise<void>; close(): Promise<void> };
};

/** One request the loopback API got, with its whole body. */
export interface Hit {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** `METHOD /path?query` of a hit, to compare a list of calls at a glance. */
export const requestLine = (hit: Hit): string => `${hit.method} ${hit.url}`;

async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * An HTTP API on loopback: each request is read to its end and pushed to `hits` before `answer`
 * responds to it (at once or later, as the test needs).
 */
export async function startLoopbackApi(
  hits: Hit[],
  answer: (hit: Hit, res: ServerResponse) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: Hit = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      hits.push(hit);
      answer(hit, res);
    });
  });
  const port = await listenOnLoopback(server);
  return { port, close: () => closeServer(server) };
}

/**
 * A streamable HTTP MCP server on loopback with the orders tools, stateless: one MCP server object
 * per request. Every call of a tool is pushed to `seen` (lookup_order with the headers it got).
 */
export async function startMcpHttp(seen: unknown[]): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const server = ordersServer(seen);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      void server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
  });
  const port = await listenOnLoopback(http);
  return { url: `http://127.0.0.1:${port}/mcp`, close: () => closeServer(http) };
}

/**
 * Writes `content` as tools.yaml in a new temporary folder (its name starts with `prefix`); the
 * caller removes `dir` when done. Files the tools file refers to (an OpenAPI document) go beside it.
 */
export function writeToolsFile(
  prefix: string,
  content: Record<string, unknown>,
): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'tools.yaml');
  writeFileSync(file, stringify(content));
  return { dir, file };
}

export interface ToolsApp {
  app: TestApp;
  fake: FakeOpenAI;
  /** Stops the app and the fake model, and removes the tools file's folder. */
  close(): Promise<void>;
}

/**
 * The real app with `content` as its tools file, on the fake model over the Responses API, with
 * no heartbeat and no knowledge base. `beside` writes more YAML files next to the tools file (an
 * OpenAPI document an entry names); `env` adds settings or overrides these.
 */
export async function startToolsApp(
  prefix: string,
  content: Record<string, unknown>,
  options: { env?: Record<string, string | undefined>; beside?: Record<string, unknown> } = {},
): Promise<ToolsApp> {
  const fake = await FakeOpenAI.start();
  const { dir, file } = writeToolsFile(prefix, content);
  for (const [name, doc] of Object.entries(options.beside ?? {}))
    writeFileSync(join(dir, name), stringify(doc));
  const removeAll = async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let app: TestApp;
  try {
    app = await startApp({
      ...agentOnFake(fake),
      AGENT_REQUEST_TIMEOUT_MS: '5000',
      AGENT_TOOLS_FILE: file,
      ...options.env,
    });
  } catch (err) {
    await removeAll();
    throw err;
  }
  return {
    app,
    fake,
    close: async () => {
      await app.close();
      await removeAll();
    },
  };
}
