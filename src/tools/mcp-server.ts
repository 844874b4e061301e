/**
 * One MCP server from the tools file, as the Agents SDK sees it (an `MCPServer` passed to the
 * agent's `mcpServers`). The SDK's own client (MCPServerStreamableHttp / MCPServerStdio) does the
 * talking; this wrapper adds what a long-running gateway needs around it:
 *
 * - a server that is down never fails a turn: its tools are simply missing (the last known list
 *   while it is away), and the connection is retried at most every RECONNECT_MS, on demand;
 * - the tool list is cached here for `tools_cache_seconds` and refetched after that (the SDK's
 *   own cache would keep an empty list from a server that was down forever);
 * - the allow/deny lists become the SDK's static tool filter;
 * - a failed call becomes a readable message for the model (the SDK's errorFunction);
 * - with `forward_user`, each call carries the id of the user it is made for in a header. The
 *   connection is shared by all users, so the id cannot sit in fixed headers: it travels with
 *   the call (through the SDK's per-call metadata hook, then an AsyncLocalStorage scope around
 *   the call) to the transport's fetch, which adds the header to that request only;
 * - a tool that needs the user's approval (`require_approval`) is not called when the model asks:
 *   the same hook hands the call the turn's run context, and the call shows the confirmation
 *   instead (tool-approval.ts); `runApproved` makes the call once the user approves it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@nestjs/common';
import { MCPServerStdio, MCPServerStreamableHttp } from '@openai/agents';
import type {
  CallToolResultContent,
  MCPCallToolOptions,
  MCPServer,
  MCPToolErrorFunction,
  MCPToolMetaResolver,
} from '@openai/agents';
import { toolCallSpan } from 'src/telemetry/tracer';
import { requestApproval, type ApprovalRunContext } from 'src/tools/tool-approval';
import type { McpServerEntry, ToolDisplayEntry } from 'src/tools/tools.schema';

/** How soon a server that could not be reached is tried again. */
export const RECONNECT_MS = 15_000;

/** The part of the run context this feature reads: who the turn is for. */
interface CallerContext {
  request?: { userId?: unknown };
}

/** Carries the user id from the SDK's metadata hook to `callTool` without it reaching the server. */
const CALLER = Symbol('caller');
/** Carries the run context the same way, to a call that must ask for approval instead. */
const RUN = Symbol('run');
const forwardedUser = new AsyncLocalStorage<string>();

type Clock = () => number;

/** Tool name → the MCP server that offers it: the first to list it; shared by all servers. */
export type ToolNameClaims = Map<string, string>;
type MCPTool = Awaited<ReturnType<MCPServer['listTools']>>[number];

/** Builds the SDK client for an entry; a new one for every connection attempt. */
export function sdkServerFor(entry: McpServerEntry): MCPServer {
  // The client's own messages go to the debug log: the wrapper below reports what matters (once,
  // without the client's extra arguments, which may hold tool data).
  const nest = new Logger(`McpClient:${entry.name}`);
  const logger = {
    namespace: `mcp:${entry.name}`,
    debug: (message: string) => nest.debug(message),
    warn: (message: string) => nest.debug(message),
    error: (message: string) => nest.debug(message),
    dontLogModelData: true,
    dontLogToolData: true,
  };
  const common = {
    name: entry.name,
    logger,
    cacheToolsList: false,
    timeout: entry.timeout_ms,
    clientSessionTimeoutSeconds: Math.max(1, Math.ceil(entry.timeout_ms / 1000)),
  };
  if (entry.transport === 'stdio')
    return new MCPServerStdio({
      ...common,
      command: entry.command,
      args: entry.args,
      env: entry.env,
      cwd: entry.cwd,
    });
  const header = entry.forward_user?.header;
  return new MCPServerStreamableHttp({
    ...common,
    url: entry.url,
    requestInit: { headers: { ...entry.headers } },
    fetch: header
      ? (input: string | URL | Request, init?: RequestInit) => {
          const user = forwardedUser.getStore();
          if (user === undefined) return fetch(input, init);
          const headers = new Headers(init?.headers);
          headers.set(header, user);
          return fetch(input, { ...init, headers });
        }
      : undefined,
  });
}

export class ConfiguredMcpServer implements MCPServer {
  /** Cached here instead, see the file comment. */
  readonly cacheToolsList = false;
  readonly toolFilter: MCPServer['toolFilter'];
  readonly errorFunction: MCPToolErrorFunction;
  readonly toolMetaResolver?: MCPToolMetaResolver;
  private readonly logger: Logger;
  private inner: MCPServer | undefined;
  private connecting: Promise<boolean> | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private tools: MCPTool[] | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  private readonly create: (entry: McpServerEntry) => MCPServer;
  private readonly now: Clock;
  private readonly claims: ToolNameClaims;
  private readonly clashes = new Set<string>();
  /** Told of every finished call (for metrics: the tool name and whether it worked). */
  onCall?: (toolName: string, outcome: 'ok' | 'error') => void;

  constructor(
    readonly entry: McpServerEntry,
    options: { claims?: ToolNameClaims; create?: (entry: McpServerEntry) => MCPServer; now?: Clock } = {},
  ) {
    this.create = options.create ?? sdkServerFor;
    this.now = options.now ?? Date.now;
    this.claims = options.claims ?? new Map();
    this.logger = new Logger(`McpServer:${entry.name}`);
    // The allow/deny lists, and no tool named like one of the agent's own: the model API refuses
    // two tools of one name, and the gateway's tool wins.
    this.toolFilter = ({ agent }, tool) => {
      if (!this.allows(tool.name)) return Promise.resolve(false);
      if (agent.tools.some((own) => 'name' in own && own.name === tool.name)) {
        this.clash(tool.name, 'a tool of the gateway');
        return Promise.resolve(false);
      }
      return Promise.resolve(true);
    };
    this.errorFunction = ({ error }) => this.describeFailure(error);
    const forwards = entry.transport === 'streamable_http' && entry.forward_user !== undefined;
    if (forwards || entry.require_approval !== false)
      this.toolMetaResolver = ({ runContext, toolName }) => {
        const context = runContext.context as (CallerContext & ApprovalRunContext) | undefined;
        const userId = context?.request?.userId;
        const meta: Record<symbol, unknown> = {};
        if (forwards && typeof userId === 'string') meta[CALLER] = userId;
        if (context && this.needsApproval(toolName)) meta[RUN] = context;
        return Object.getOwnPropertySymbols(meta).length ? (meta as Record<string, unknown>) : null;
      };
  }

  /** What the model reads when a call fails. */
  describeFailure(error: unknown): string {
    return `The ${this.entry.name} tool server could not run this tool: ${reason(error)}`;
  }

  /** Whether the allow/deny lists let this tool reach the model (checked again at approval). */
  allows(toolName: string): boolean {
    if (this.entry.allow_tools && !this.entry.allow_tools.includes(toolName)) return false;
    return !this.entry.deny_tools?.includes(toolName);
  }

  /** Whether a call of this tool waits for the user's approval. */
  needsApproval(toolName: string): boolean {
    const rule = this.entry.require_approval;
    return rule === true || (Array.isArray(rule) && rule.includes(toolName));
  }

  get name(): string {
    return this.entry.name;
  }

  /** Tool name → how its calls look in the chat, from the entry's `display`. */
  get displays(): Record<string, ToolDisplayEntry> {
    return this.entry.display ?? {};
  }

  get connected(): boolean {
    return this.inner !== undefined;
  }

  /** Connects, or says why not in the log; never throws (a missing server must not stop the boot). */
  async connect(): Promise<void> {
    await this.ensureConnected(true);
  }

  async listTools(): Promise<MCPTool[]> {
    const fresh = this.now() - this.fetchedAt < this.entry.tools_cache_seconds * 1000;
    if (this.tools && fresh) return this.tools;
    const inner = await this.ensureConnected();
    if (!inner) return this.tools ?? [];
    try {
      this.tools = (await inner.listTools()).filter((tool) => {
        const owner = this.claims.get(tool.name);
        if (owner !== undefined && owner !== this.name) {
          this.clash(tool.name, `the tool of the MCP server "${owner}"`);
          return false;
        }
        this.claims.set(tool.name, this.name);
        return true;
      });
      this.fetchedAt = this.now();
    } catch (error) {
      this.logger.warn(`Listing tools failed, reconnecting on next use: ${reason(error)}`);
      await this.drop(inner);
    }
    return this.tools ?? [];
  }

  async callTool(
    toolName: string,
    args: Record<string, unknown> | null,
    meta?: Record<string, unknown> | null,
    options?: MCPCallToolOptions,
  ): Promise<CallToolResultContent> {
    const run = meta?.[RUN as unknown as string] as ApprovalRunContext | undefined;
    if (this.needsApproval(toolName)) {
      // Without the run context there is nobody to ask: refused, never run unasked.
      if (!run) throw new Error('this tool needs the user\u2019s approval, which cannot be asked here');
      const output = requestApproval(run, {
        kind: 'mcp',
        source: this.name,
        tool: toolName,
        title: this.displays[toolName]?.title ?? toolName,
        arguments: args ?? {},
      });
      return [{ type: 'text', text: output }];
    }
    const user = meta?.[CALLER as unknown as string] as string | undefined;
    const rest = meta ? { ...meta } : undefined;
    if (rest) {
      delete rest[CALLER as unknown as string];
      delete rest[RUN as unknown as string];
    }
    const forwarded = rest && Object.keys(rest).length > 0 ? rest : undefined;
    return this.call(toolName, args, forwarded, user, options);
  }

  /**
   * Makes a call the user approved: the same call the model's would have been (the server's
   * timeout, the forwarded user, the span, the metric, the size cap).
   */
  runApproved(
    toolName: string,
    args: Record<string, unknown>,
    userId: string,
    signal?: AbortSignal,
  ): Promise<CallToolResultContent> {
    const forwards = this.entry.transport === 'streamable_http' && this.entry.forward_user !== undefined;
    return this.call(
      toolName,
      args,
      undefined,
      forwards ? userId : undefined,
      signal ? { signal } : undefined,
    );
  }

  private async call(
    toolName: string,
    args: Record<string, unknown> | null,
    forwarded: Record<string, unknown> | undefined,
    user: string | undefined,
    options: MCPCallToolOptions | undefined,
  ): Promise<CallToolResultContent> {
    const inner = await this.ensureConnected();
    if (!inner) {
      this.onCall?.(toolName, 'error');
      throw new Error('the server is unavailable right now');
    }
    const call = (): Promise<CallToolResultContent> => inner.callTool(toolName, args, forwarded, options);
    try {
      // A result the server marks as an error is a failed call, for the span as for the metric.
      const result = await toolCallSpan(
        toolName,
        () => (user !== undefined ? forwardedUser.run(user, call) : call()),
        { type: 'extension', failed: (answer) => Boolean(answer.isError) },
      );
      this.onCall?.(toolName, result.isError ? 'error' : 'ok');
      return capped(result.isError ? failure(toolName, result) : result, this.entry.max_response_bytes);
    } catch (error) {
      this.onCall?.(toolName, 'error');
      // Perhaps a timeout, perhaps a dead session: the next tool listing finds out.
      this.fetchedAt = Number.NEGATIVE_INFINITY;
      throw error;
    }
  }

  async invalidateToolsCache(): Promise<void> {
    this.fetchedAt = Number.NEGATIVE_INFINITY;
    await this.inner?.invalidateToolsCache();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const inner = this.inner;
    this.inner = undefined;
    await inner?.close().catch(() => undefined);
  }

  private clash(toolName: string, other: string): void {
    if (this.clashes.has(toolName)) return;
    this.clashes.add(toolName);
    this.logger.warn(`Tool "${toolName}" is left out: its name is taken by ${other}`);
  }

  /** The connected client, connecting first when allowed; undefined while the server is away. */
  private async ensureConnected(force = false): Promise<MCPServer | undefined> {
    if (this.inner) return this.inner;
    if (this.closed) return undefined;
    if (!this.connecting) {
      if (!force && this.now() - this.lastAttempt < RECONNECT_MS) return undefined;
      this.lastAttempt = this.now();
      this.connecting = this.attempt().finally(() => (this.connecting = undefined));
    }
    await this.connecting;
    return this.inner;
  }

  private async attempt(): Promise<boolean> {
    const candidate = this.create(this.entry);
    try {
      await candidate.connect();
      if (this.closed) {
        await candidate.close().catch(() => undefined);
        return false;
      }
      this.inner = candidate;
      this.fetchedAt = Number.NEGATIVE_INFINITY;
      this.logger.log('Connected');
      return true;
    } catch (error) {
      this.logger.warn(
        `Cannot connect (its tools are left out; retrying in ${RECONNECT_MS / 1000} s at the earliest): ${reason(error)}`,
      );
      await candidate.close().catch(() => undefined);
      return false;
    }
  }

  private async drop(inner: MCPServer): Promise<void> {
    if (this.inner === inner) this.inner = undefined;
    this.lastAttempt = Number.NEGATIVE_INFINITY;
    await inner.close().catch(() => undefined);
  }
}

export const textOf = (result: CallToolResultContent): string =>
  result
    .map((part) =>
      part.type === 'text' && typeof part.text === 'string' ? part.text : `[${part.type} left out]`,
    )
    .join('\n');

/**
 * A result the server marked as an error, as one text part that says so: the SDK hands the
 * content to the model as it is, and a bare message could pass for a successful answer.
 */
function failure(toolName: string, result: CallToolResultContent): CallToolResultContent {
  const text = textOf(result);
  return Object.assign(
    [{ type: 'text', text: `The tool ${toolName} failed: ${text || 'no details given'}` }],
    {
      isError: true,
    },
  );
}

/** A result larger than the limit, as its text cut at the limit, so one call cannot flood the model. */
function capped(result: CallToolResultContent, maxBytes: number): CallToolResultContent {
  if (Buffer.byteLength(JSON.stringify(result)) <= maxBytes) return result;
  const text = Buffer.from(textOf(result))
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return Object.assign(
    [
      {
        type: 'text',
        text: `${text}\n[The result was longer than ${maxBytes} bytes and was cut off here.]`,
      },
    ],
    { isError: result.isError },
  );
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
