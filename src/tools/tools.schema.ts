/**
 * The `mcp_servers` and `http_tools` sections of the tools file (AGENT_TOOLS_FILE): their shape,
 * described once with zod, and the check run at boot. A bad entry stops the boot with an error
 * naming the file, the section, the entry (index and name) and the field.
 *
 * Secrets never live in the file: a header or environment value may say `${env:NAME}`, resolved
 * here from the gateway's own environment, and a missing variable is a boot error too. The
 * resolved values stay in memory; nothing here logs them.
 */
import { z } from 'zod';
import { ConfigValidationError } from 'src/config/env.schema';
import { extensionsConfig, type ToolsFile } from 'src/config/extensions.config';
import { openApiTool } from 'src/tools/openapi-operation';

/** Same rule as the agent's tool registry and the Responses API. */
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;
const PLACEHOLDER = /\{([a-zA-Z0-9_]+)\}/g;

const name = z.string().regex(NAME, 'use 1-64 letters, digits, _ or -');
/** A larger answer reaches the model as text cut at this size, with a note. */
const maxResponseBytes = z
  .number()
  .int()
  .min(1)
  .max(10 * 1024 * 1024)
  .default(64 * 1024);

const toolNames = z.array(name).min(1);

const display = z
  .object({
    progress: z.string().min(1).optional(),
    title: z.string().min(1).optional(),
    icon: z.string().min(1).optional(),
  })
  .strict();

const forwardUser = z
  .object({
    /** The header that carries the id of the user the call is made for. */
    header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'),
  })
  .strict();

const headers = z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'), z.string());

/**
 * A call of a tool that needs approval does not run when the model asks: the user is shown a
 * confirmation and the call runs only once they approve it (src/tools/tool-approval.ts).
 */
const approval = z.boolean().default(false);

const mcpCommon = {
  name,
  /** Only these tools of the server reach the model (all when absent). */
  allow_tools: toolNames.optional(),
  /** These tools of the server never reach the model. */
  deny_tools: toolNames.optional(),
  timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
  max_response_bytes: maxResponseBytes,
  /** How long the server's tool list is reused before it is asked again. */
  tools_cache_seconds: z.number().int().min(0).max(86_400).default(300),
  /** Every tool of the server (true), or only the tools listed, waits for the user's approval. */
  require_approval: z
    .union([z.boolean(), toolNames], { error: 'must be true, false or a list of tool names' })
    .default(false),
  /** How each tool's calls look in the chat, by tool name. */
  display: z.record(name, display).optional(),
};

const mcpHttpServer = z
  .object({
    ...mcpCommon,
    transport: z.literal('streamable_http'),
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    headers: headers.optional(),
    /** Off by default: the server learns who is asking only when this is set. */
    forward_user: forwardUser.optional(),
  })
  .strict();

const mcpStdioServer = z
  .object({
    ...mcpCommon,
    transport: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name'), z.string())
      .optional(),
    cwd: z.string().min(1).optional(),
  })
  .strict();

const mcpServer = z.discriminatedUnion('transport', [mcpHttpServer, mcpStdioServer], {
  error: 'transport must be "streamable_http" or "stdio"',
});

const jsonSchemaObject = z
  .object({
    type: z.literal('object'),
    properties: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    required: z.array(z.string()).optional(),
  })
  .loose();

const httpMethod = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL');

/** An HTTP tool as written: either method, url and parameters, or an OpenAPI operation. */
const httpToolInFile = z
  .object({
    name,
    description: z.string().min(1).optional(),
    parameters: jsonSchemaObject.optional(),
    method: httpMethod.optional(),
    /** `{param}` placeholders are filled with URL-encoded arguments. */
    url: httpUrl.optional(),
    /** Arguments sent in the query string whatever the method (GET and DELETE send all there). */
    query: z.array(z.string().min(1)).optional(),
    /** Take method, URL, parameters and description from an operation of an OpenAPI 3 document. */
    openapi: z
      .object({
        /** The document (YAML or JSON), relative to the tools file. */
        spec: z.string().min(1),
        operation_id: z.string().min(1),
        /** Where to send the call, instead of the document's first `servers` entry. */
        base_url: httpUrl.optional(),
      })
      .strict()
      .optional(),
    headers: headers.optional(),
    forward_user: forwardUser.optional(),
    timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
    max_response_bytes: maxResponseBytes,
    /** Loopback, private, link-local and metadata addresses are refused unless this is true. */
    allow_private_network: z.boolean().default(false),
    require_approval: approval,
    display: display.optional(),
    /** A widget template (AGENT_WIDGETS_DIR) that shows the result in the chat. */
    widget: name.optional(),
  })
  .strict()
  .superRefine((tool, ctx) => {
    const issue = (field: string, message: string): void =>
      void ctx.addIssue({ code: 'custom', path: [field], message });
    if (tool.openapi) {
      for (const field of ['method', 'url', 'parameters', 'query'] as const)
        if (tool[field] !== undefined) issue(field, 'comes from the OpenAPI operation: leave it out');
      return;
    }
    if (!tool.method) issue('method', 'is required (or describe the tool with openapi)');
    if (!tool.url) issue('url', 'is required (or describe the tool with openapi)');
    if (!tool.description) issue('description', 'is required');
  });

type HttpToolInFile = z.infer<typeof httpToolInFile>;

/** An HTTP tool ready to call: what the file said, with an OpenAPI operation resolved. */
export type HttpToolEntry = Omit<
  HttpToolInFile,
  'openapi' | 'method' | 'url' | 'description' | 'parameters'
> & {
  description: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  parameters: z.infer<typeof jsonSchemaObject>;
};

/** Placeholders and required names that match no parameter. */
function httpToolProblems(tool: HttpToolEntry): string[] {
  const properties = Object.keys(tool.parameters.properties);
  const problems: string[] = [];
  for (const [, placeholder] of tool.url.matchAll(PLACEHOLDER))
    if (!properties.includes(placeholder))
      problems.push(
        `url: placeholder {${placeholder}} is not one of the parameters (${properties.join(', ') || 'none'})`,
      );
  for (const required of tool.parameters.required ?? [])
    if (!properties.includes(required))
      problems.push(`parameters.required: "${required}" is required but not among the properties`);
  for (const queried of tool.query ?? [])
    if (!properties.includes(queried)) problems.push(`query: "${queried}" is not one of the parameters`);
  return problems;
}

export type McpServerEntry = z.infer<typeof mcpServer>;
export type McpHttpServerEntry = z.infer<typeof mcpHttpServer>;
export type McpStdioServerEntry = z.infer<typeof mcpStdioServer>;
export type ToolDisplayEntry = z.infer<typeof display>;

export interface ToolsConfig {
  mcpServers: McpServerEntry[];
  httpTools: HttpToolEntry[];
}

/** `${env:NAME}` → the variable's value; every missing variable is reported. */
function resolveEnvRefs(value: string, env: NodeJS.ProcessEnv, missing: Set<string>): string {
  return value.replace(ENV_REF, (_, variable: string) => {
    const resolved = env[variable];
    if (resolved === undefined) {
      missing.add(variable);
      return '';
    }
    return resolved;
  });
}

function resolveRecord(
  record: Record<string, string> | undefined,
  env: NodeJS.ProcessEnv,
  missing: Set<string>,
): Record<string, string> | undefined {
  if (!record) return undefined;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolveEnvRefs(v, env, missing)]));
}

function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

/**
 * Validates the two sections this feature owns and resolves their `${env:…}` references.
 * Throws ConfigValidationError listing every bad entry.
 */
export function parseToolsConfig(
  file: ToolsFile,
  filePath: string,
  env: NodeJS.ProcessEnv = process.env,
): ToolsConfig {
  const problems: string[] = [];
  const where = (section: string, index: number, entry: unknown): string => {
    const entryName =
      typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string'
        ? ` "${(entry as { name: string }).name}"`
        : '';
    return `AGENT_TOOLS_FILE (${filePath}): ${section}[${index}]${entryName}`;
  };

  /** The valid entries of a section, each with its index in the file. */
  const section = <S extends z.ZodType>(
    key: 'mcp_servers' | 'http_tools',
    schema: S,
  ): Array<{ entry: z.infer<S>; index: number }> => {
    const raw = file[key];
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
      problems.push(`AGENT_TOOLS_FILE (${filePath}): ${key} must be a list`);
      return [];
    }
    const parsed: Array<{ entry: z.infer<S>; index: number }> = [];
    const seen = new Set<string>();
    raw.forEach((entry: unknown, index) => {
      const result = schema.safeParse(entry);
      if (!result.success) {
        for (const issue of result.error.issues) {
          const field = issuePath(issue.path);
          problems.push(`${where(key, index, entry)}${field ? ` ${field}` : ''}: ${issue.message}`);
        }
        return;
      }
      const entryName = (result.data as { name: string }).name;
      if (seen.has(entryName)) problems.push(`${where(key, index, entry)}: the name is used twice`);
      seen.add(entryName);
      parsed.push({ entry: result.data, index });
    });
    return parsed;
  };

  const mcpServers: McpServerEntry[] = [];
  for (const { entry: server, index } of section('mcp_servers', mcpServer)) {
    const here = where('mcp_servers', index, server);
    const missing = new Set<string>();
    if (server.transport === 'streamable_http') server.headers = resolveRecord(server.headers, env, missing);
    else server.env = resolveRecord(server.env, env, missing);
    if (missing.size) problems.push(`${here}: environment variable ${[...missing].join(', ')} is not set`);
    for (const hidden of server.allow_tools ?? [])
      if (server.deny_tools?.includes(hidden))
        problems.push(`${here}: "${hidden}" is both allowed and denied`);
    // A name that can never reach the model is a typo, or a rule the operator thinks protects
    // something it does not.
    if (Array.isArray(server.require_approval))
      for (const guarded of server.require_approval)
        if (
          server.deny_tools?.includes(guarded) ||
          (server.allow_tools && !server.allow_tools.includes(guarded))
        )
          problems.push(
            `${here} require_approval: "${guarded}" never reaches the model (see allow_tools/deny_tools)`,
          );
    mcpServers.push(server);
  }

  const httpTools: HttpToolEntry[] = [];
  for (const { entry: inFile, index } of section('http_tools', httpToolInFile)) {
    const here = where('http_tools', index, inFile);
    const missing = new Set<string>();
    const resolvedHeaders = resolveRecord(inFile.headers, env, missing);
    if (missing.size) problems.push(`${here}: environment variable ${[...missing].join(', ')} is not set`);
    const { openapi, ...rest } = inFile;
    let tool: HttpToolEntry;
    if (openapi) {
      try {
        const operation = openApiTool(filePath, openapi);
        tool = { ...rest, ...operation, description: rest.description ?? operation.description };
      } catch (error) {
        problems.push(`${here} openapi: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
    } else {
      tool = {
        ...rest,
        description: rest.description!,
        method: rest.method!,
        url: rest.url!,
        parameters: rest.parameters ?? { type: 'object', properties: {} },
      };
    }
    tool.headers = resolvedHeaders;
    for (const problem of httpToolProblems(tool)) problems.push(`${here} ${problem}`);
    httpTools.push(tool);
  }

  if (problems.length) throw new ConfigValidationError(problems);
  return { mcpServers, httpTools };
}

/**
 * The same check for the bootstrap, before the app is built, so a bad entry is reported like a
 * bad environment variable (one message, no stack). Assumes the environment itself is valid.
 */
export function validateToolsFile(env: NodeJS.ProcessEnv = process.env): void {
  const { toolsFile, toolsFilePath } = extensionsConfig();
  if (toolsFilePath) parseToolsConfig(toolsFile, toolsFilePath, env);
}
