/**
 * HTTP tools from the tools file: a name, a description and JSON Schema parameters the model
 * fills in (or an OpenAPI operation), turned into one outbound call. `{param}` placeholders in
 * the URL take URL-encoded arguments; the other arguments go in the query string (GET, DELETE,
 * and those the entry lists in `query`) or as a JSON body.
 *
 * What the model gets back is the status and the body (truncated at `max_response_bytes`, with a
 * note). A failure without a response (refused destination, timeout, unreachable server) throws
 * a ToolCallError whose message is written for the model; it never breaks the stream. Headers
 * (the secrets) are never part of what the model sees.
 */
import { z } from 'zod';
import { outboundRequest, OutboundHttpError } from 'src/tools/outbound-http';
import type { HttpToolEntry } from 'src/tools/tools.schema';

/** A tool failure whose message is meant for the model (no secrets, no stack). */
export class ToolCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolCallError';
  }
}

/** Who a call is made for; forwarded only when the entry says so. */
export interface ToolCaller {
  userId: string;
}

export interface HttpToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments, as written in the tools file. */
  parameters: { type: 'object'; properties: Record<string, unknown>; [key: string]: unknown };
  display?: { progress?: string; title?: string; icon?: string };
  widget?: string;
  /** A call runs only once the user approves it (tool-approval.ts). */
  requireApproval: boolean;
  /**
   * Throws the ToolCallError `execute` would for arguments that cannot make a request: checked
   * before a call is shown for approval, so the user is never asked about one that cannot run.
   */
  checkArguments(args: Record<string, unknown>): void;
  /**
   * `output` is what the model reads (status and body); `data` is the parsed body of a successful
   * JSON answer, for the tool's widget.
   */
  execute(
    args: Record<string, unknown>,
    caller: ToolCaller,
    signal?: AbortSignal,
  ): Promise<{ output: string; data?: unknown }>;
}

const PLACEHOLDER = /\{([a-zA-Z0-9_]+)\}/g;

const asText = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);

/** The request an entry makes for some arguments (exported for the unit spec). */
export function buildHttpRequest(
  entry: Pick<HttpToolEntry, 'name' | 'method' | 'url' | 'query'>,
  args: Record<string, unknown>,
): { url: string; body?: string } {
  const used = new Set<string>();
  const url = entry.url.replace(PLACEHOLDER, (_, key: string) => {
    const value = args[key];
    if (value === undefined || value === null || value === '')
      throw new ToolCallError(`Missing the "${key}" argument, which the ${entry.name} tool needs.`);
    used.add(key);
    return encodeURIComponent(asText(value));
  });
  const rest = Object.entries(args).filter(
    ([key, value]) => !used.has(key) && value !== undefined && value !== null,
  );
  const inQuery = entry.method === 'GET' || entry.method === 'DELETE';
  const target = new URL(url);
  for (const [key, value] of rest)
    if (inQuery || entry.query?.includes(key)) target.searchParams.append(key, asText(value));
  if (inQuery) return { url: target.toString() };
  const body = Object.fromEntries(rest.filter(([key]) => !entry.query?.includes(key)));
  return { url: target.toString(), body: JSON.stringify(body) };
}

/** What the model reads: the status line and the body, pretty JSON when it is JSON. */
export function describeHttpResult(
  status: number,
  contentType: string | undefined,
  body: Buffer,
  truncated: boolean,
  limit: number,
): string {
  let text = body.toString('utf8');
  if (!truncated && /\bjson\b/i.test(contentType ?? '')) {
    try {
      text = JSON.stringify(JSON.parse(text));
    } catch {
      // Not the JSON it claims to be: pass it on as text.
    }
  }
  const ok = status >= 200 && status < 300;
  const head = ok ? `HTTP ${status}` : `HTTP ${status} (the call failed)`;
  const note = truncated ? `\n[The response was longer than ${limit} bytes and was cut off here.]` : '';
  return `${head}\n${text}${note}`;
}

/** A successful, whole JSON answer's body: what a widget template can be filled from. */
function widgetData(response: {
  status: number;
  contentType?: string;
  body: Buffer;
  truncated: boolean;
}): unknown {
  if (response.status < 200 || response.status >= 300 || response.truncated) return undefined;
  if (!/\bjson\b/i.test(response.contentType ?? '')) return undefined;
  try {
    return JSON.parse(response.body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Checks arguments against the entry's JSON Schema: the model API does not enforce a schema that
 * is not strict, and a wrong argument is better explained to the model than sent on. A schema
 * zod cannot read is left to the API to enforce.
 */
function argumentsCheck(entry: HttpToolEntry): ((args: Record<string, unknown>) => void) | undefined {
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(entry.parameters as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return undefined;
  }
  return (args) => {
    const result = schema.safeParse(args);
    if (result.success) return;
    const problems = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`);
    throw new ToolCallError(`The arguments do not fit the ${entry.name} tool: ${problems.join('; ')}.`);
  };
}

export function httpToolDefinition(entry: HttpToolEntry): HttpToolDefinition {
  const check = argumentsCheck(entry);
  return {
    name: entry.name,
    description: entry.description,
    parameters: entry.parameters,
    display: entry.display,
    widget: entry.widget,
    requireApproval: entry.require_approval,
    checkArguments(args) {
      check?.(args);
      buildHttpRequest(entry, args);
    },
    async execute(args, caller, signal) {
      check?.(args);
      const { url, body } = buildHttpRequest(entry, args);
      try {
        const response = await outboundRequest({
          url,
          method: entry.method,
          body,
          headers: {
            accept: 'application/json, text/plain;q=0.9, */*;q=0.5',
            ...entry.headers,
            ...(entry.forward_user ? { [entry.forward_user.header]: caller.userId } : {}),
          },
          timeoutMs: entry.timeout_ms,
          maxResponseBytes: entry.max_response_bytes,
          allowPrivateNetwork: entry.allow_private_network,
          signal,
        });
        return {
          output: describeHttpResult(
            response.status,
            response.contentType,
            response.body,
            response.truncated,
            entry.max_response_bytes,
          ),
          data: widgetData(response),
        };
      } catch (error) {
        if (error instanceof OutboundHttpError)
          throw new ToolCallError(`The ${entry.name} call failed: ${error.message}`);
        throw error;
      }
    },
  };
}
