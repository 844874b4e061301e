/**
 * What an operator adds to the agent without changing code: the tools file (MCP servers, HTTP
 * tools and widget action webhooks, in YAML or JSON) and the folder of widget templates.
 *
 * This namespace only reads the variables and the file; each section of the file is validated by
 * the feature that owns it (tools: `mcp_servers`, `http_tools`; actions: `actions`), at boot, with
 * an error naming the file, the section and the bad entry.
 */
import { readFileSync } from 'node:fs';
import { registerAs } from '@nestjs/config';
import { parse as parseYaml } from 'yaml';
import { ConfigValidationError, envString, parseEnv } from 'src/config/env.schema';

export const extensionsEnvShape = {
  AGENT_TOOLS_FILE: envString(),
  AGENT_WIDGETS_DIR: envString(),
};

/** The sections a tools file may have; anything else at the top level is refused. */
export const TOOLS_FILE_SECTIONS = ['mcp_servers', 'http_tools', 'actions'] as const;
export type ToolsFileSection = (typeof TOOLS_FILE_SECTIONS)[number];

/** The tools file, parsed but not yet validated section by section. */
export type ToolsFile = Partial<Record<ToolsFileSection, unknown>>;

/**
 * Reads and parses a tools file (YAML; JSON is valid YAML). Throws ConfigValidationError naming
 * the file when it cannot be read or parsed, is not a mapping, or has an unknown top-level key.
 */
export function loadToolsFile(path: string): ToolsFile {
  const problem = (message: string): ConfigValidationError =>
    new ConfigValidationError([`AGENT_TOOLS_FILE (${path}): ${message}`]);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw problem(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw problem(`is not valid YAML or JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw problem('must be a mapping with the sections ' + TOOLS_FILE_SECTIONS.join(', '));
  const unknown = Object.keys(parsed).filter(
    (key) => !(TOOLS_FILE_SECTIONS as readonly string[]).includes(key),
  );
  if (unknown.length)
    throw problem(
      `unknown section ${unknown.map((k) => `"${k}"`).join(', ')}; expected ${TOOLS_FILE_SECTIONS.join(', ')}`,
    );
  return parsed as ToolsFile;
}

export const extensionsConfig = registerAs('extensions', () => {
  const env = parseEnv(extensionsEnvShape);
  return {
    toolsFilePath: env.AGENT_TOOLS_FILE,
    /** The parsed tools file; empty when AGENT_TOOLS_FILE is unset. */
    toolsFile: env.AGENT_TOOLS_FILE ? loadToolsFile(env.AGENT_TOOLS_FILE) : ({} as ToolsFile),
    widgetsDir: env.AGENT_WIDGETS_DIR,
  };
});

export type ExtensionsConfig = ReturnType<typeof extensionsConfig>;
