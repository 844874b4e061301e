/**
 * The language model behind the agent: which OpenAI-compatible server, which API flavour, which
 * models, how much history and request context goes into a prompt. Without OPENAI_API_KEY and
 * OPENAI_BASE_URL no model is configured and the offline responder answers instead.
 *
 * Reading this namespace must never contact the model server; the instructions file is the only
 * thing read from disk.
 */
import { readFileSync } from 'node:fs';
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import {
  ConfigValidationError,
  envBoolean,
  envChoice,
  envInt,
  envList,
  envString,
  envUrl,
  parseEnv,
} from 'src/config/env.schema';

export const OPENAI_APIS = ['responses', 'chat_completions'] as const;
export type OpenAIApi = (typeof OPENAI_APIS)[number];

/** A number that may be left unset, because "unset" must reach the model as "not sent". */
const envOptionalNumber = (opts: { min: number; max: number; integer?: boolean }) =>
  envString().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    const valid = opts.integer ? Number.isInteger(n) : Number.isFinite(n);
    if (!valid || n < opts.min || n > opts.max) {
      const kind = opts.integer ? 'an integer' : 'a number';
      ctx.addIssue({ code: 'custom', message: `expected ${kind} in [${opts.min}, ${opts.max}], got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

export const agentEnvShape = {
  OPENAI_API_KEY: envString(),
  OPENAI_BASE_URL: envUrl(['http:', 'https:']),
  OPENAI_API: envChoice(OPENAI_APIS, 'responses'),
  AGENT_MODEL: envString('gpt-4.1-mini'),
  AGENT_MODELS: envList([]),
  AGENT_TEMPERATURE: envOptionalNumber({ min: 0, max: 2 }),
  AGENT_MAX_OUTPUT_TOKENS: envOptionalNumber({ min: 1, max: 1_000_000, integer: true }),
  AGENT_REQUEST_TIMEOUT_MS: envInt(60_000, { min: 1_000, max: 3_600_000 }),
  AGENT_MAX_RETRIES: envInt(2, { min: 0, max: 10 }),
  AGENT_INSTRUCTIONS: envString(),
  AGENT_INSTRUCTIONS_FILE: envString(),
  AGENT_HISTORY_MESSAGES: envInt(10, { min: 1, max: 500 }),
  AGENT_HISTORY_TOKEN_BUDGET: envInt(8_000, { min: 100, max: 2_000_000 }),
  AGENT_CONTEXT_MAX_CHARS: envInt(2_000, { min: 0, max: 100_000 }),
  AGENT_ATTACHMENT_MAX_MB: envInt(10, { min: 1, max: 512 }),
  AGENT_MAX_TURNS: envInt(10, { min: 1, max: 100 }),
  AGENT_TITLE_MODEL: envString(),
  AGENT_TRANSCRIBE_MODEL: envString(),
  AGENT_TRACING: envBoolean(false),
};

function readInstructions(inline: string | undefined, file: string | undefined): string | undefined {
  if (inline !== undefined && file !== undefined) {
    throw new ConfigValidationError([
      'AGENT_INSTRUCTIONS / AGENT_INSTRUCTIONS_FILE: set one or the other, not both',
    ]);
  }
  if (file === undefined) return inline;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigValidationError([`AGENT_INSTRUCTIONS_FILE: cannot read "${file}" (${reason})`]);
  }
  if (text === '') throw new ConfigValidationError([`AGENT_INSTRUCTIONS_FILE: "${file}" is empty`]);
  return text;
}

export const agentConfig = registerAs('agent', () => {
  const env = parseEnv(agentEnvShape);
  const model = env.AGENT_MODEL!;
  return {
    /** A key alone means api.openai.com; a base URL alone is a local server that takes no key. */
    modelConfigured: env.OPENAI_API_KEY !== undefined || env.OPENAI_BASE_URL !== undefined,
    apiKey: env.OPENAI_API_KEY,
    baseURL: env.OPENAI_BASE_URL,
    api: env.OPENAI_API,
    model,
    /**
     * The models a user may pick in the composer (`inference_options.model`): AGENT_MODEL, the
     * default, plus AGENT_MODELS. Anything else is refused before the message is stored.
     */
    models: [...new Set([model, ...env.AGENT_MODELS])],
    temperature: env.AGENT_TEMPERATURE,
    maxOutputTokens: env.AGENT_MAX_OUTPUT_TOKENS,
    requestTimeoutMs: env.AGENT_REQUEST_TIMEOUT_MS,
    maxRetries: env.AGENT_MAX_RETRIES,
    /** Undefined: the built-in instructions of src/agent/prompt.ts. */
    instructions: readInstructions(env.AGENT_INSTRUCTIONS, env.AGENT_INSTRUCTIONS_FILE),
    historyMessages: env.AGENT_HISTORY_MESSAGES,
    historyTokenBudget: env.AGENT_HISTORY_TOKEN_BUDGET,
    contextMaxChars: env.AGENT_CONTEXT_MAX_CHARS,
    attachmentMaxBytes: env.AGENT_ATTACHMENT_MAX_MB * 1024 * 1024,
    maxTurns: env.AGENT_MAX_TURNS,
    titleModel: env.AGENT_TITLE_MODEL ?? model,
    /** Undefined: `input.transcribe` answers 501. */
    transcribeModel: env.AGENT_TRANSCRIBE_MODEL,
    tracing: env.AGENT_TRACING,
  };
});

export type AgentConfig = ReturnType<typeof agentConfig>;
