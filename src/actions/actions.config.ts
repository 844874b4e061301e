/**
 * The `actions` section of the tools file (AGENT_TOOLS_FILE): which widget action types are
 * answered by which HTTP endpoint. Validated at boot; a bad entry stops the start with a
 * ConfigValidationError naming the file, the section and the entry.
 *
 * The file never holds a secret: each entry names the environment variable holding its signing
 * key (`secret_env`), read here once.
 */
import { z } from 'zod';
import { formatZodError } from 'src/common/zod-errors';
import { ConfigValidationError } from 'src/config/env.schema';
import type { ExtensionsConfig } from 'src/config/extensions.config';

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** Headers the gateway sets itself; an entry may not replace them. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'x-chatkit-signature', 'host']);
const MIN_SECRET_CHARS = 16;

const ActionEntrySchema = z.strictObject({
  /** The widget action `type` this entry answers, e.g. `order.refund`. */
  type: z.string().min(1).max(128),
  url: z.url({ protocol: /^https?$/ }),
  timeout_ms: z.number().int().min(100).max(60_000).default(5_000),
  secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name'),
  headers: z
    .record(
      z
        .string()
        .regex(HEADER_NAME, 'expected a header name')
        .refine((name) => !OWN_HEADERS.has(name.toLowerCase()), 'is set by the gateway'),
      z.string().max(4_096),
    )
    .default({}),
});

export interface ActionWebhookConfig {
  type: string;
  url: string;
  timeoutMs: number;
  /** The signing key, read from `secret_env`. */
  secret: string;
  headers: Record<string, string>;
}

/**
 * The `actions` entries of the tools file, checked; [] without the section. Throws one
 * ConfigValidationError listing every bad entry.
 */
export function actionWebhooksFrom(
  extensions: Pick<ExtensionsConfig, 'toolsFile' | 'toolsFilePath'>,
  env: NodeJS.ProcessEnv = process.env,
): ActionWebhookConfig[] {
  const section = extensions.toolsFile.actions;
  if (section === undefined || section === null) return [];
  const where = `AGENT_TOOLS_FILE (${extensions.toolsFilePath}): actions`;
  if (!Array.isArray(section)) throw new ConfigValidationError([`${where}: expected a list of entries`]);
  const problems: string[] = [];
  const webhooks: ActionWebhookConfig[] = [];
  const seen = new Set<string>();
  section.forEach((raw, index) => {
    const type = (raw as { type?: unknown } | null)?.type;
    const entry = `${where}[${index}]${typeof type === 'string' ? ` (${type})` : ''}`;
    if (typeof type === 'string') {
      if (seen.has(type)) problems.push(`${entry}: the action type "${type}" is listed twice`);
      seen.add(type);
    }
    const parsed = ActionEntrySchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(`${entry}: ${formatZodError(parsed.error, raw)}`);
      return;
    }
    const value = parsed.data;
    const secret = env[value.secret_env];
    if (!secret) problems.push(`${entry}: secret_env: ${value.secret_env} is not set`);
    else if (secret.length < MIN_SECRET_CHARS)
      problems.push(
        `${entry}: secret_env: ${value.secret_env} must be at least ${MIN_SECRET_CHARS} characters`,
      );
    webhooks.push({
      type: value.type,
      url: value.url,
      timeoutMs: value.timeout_ms,
      secret: secret ?? '',
      headers: value.headers,
    });
  });
  if (problems.length) throw new ConfigValidationError(problems);
  return webhooks;
}
