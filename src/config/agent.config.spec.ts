import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfig } from 'src/config/agent.config';
import { namespaceUnderTest } from 'test/support/config-namespace';

const { load, problems } = namespaceUnderTest(agentConfig);

describe('agent config', () => {
  it('has working defaults and no model without a key or a base URL', () => {
    expect(load()).toEqual({
      modelConfigured: false,
      apiKey: undefined,
      baseURL: undefined,
      api: 'responses',
      model: 'gpt-4.1-mini',
      models: ['gpt-4.1-mini'],
      temperature: undefined,
      maxOutputTokens: undefined,
      requestTimeoutMs: 60_000,
      maxRetries: 2,
      instructions: undefined,
      historyMessages: 10,
      historyTokenBudget: 8000,
      contextMaxChars: 2000,
      attachmentMaxBytes: 10 * 1024 * 1024,
      maxTurns: 10,
      titleModel: 'gpt-4.1-mini',
      transcribeModel: undefined,
      tracing: false,
    });
  });

  it('counts the model as configured with a key alone or a base URL alone', () => {
    expect(load({ OPENAI_API_KEY: 'sk-test' }).modelConfigured).toBe(true);
    expect(load({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' })).toMatchObject({
      modelConfigured: true,
      apiKey: undefined,
      baseURL: 'http://127.0.0.1:11434/v1',
    });
  });

  it('reads every knob', () => {
    expect(
      load({
        OPENAI_API: 'chat_completions',
        AGENT_MODEL: 'llama3.1',
        AGENT_MODELS: 'qwen2.5, llama3.1 ,mistral',
        AGENT_TEMPERATURE: '0.2',
        AGENT_MAX_OUTPUT_TOKENS: '800',
        AGENT_TITLE_MODEL: 'llama3.2:1b',
        AGENT_TRANSCRIBE_MODEL: 'whisper-1',
        AGENT_ATTACHMENT_MAX_MB: '2',
        AGENT_TRACING: 'true',
      }),
    ).toMatchObject({
      api: 'chat_completions',
      model: 'llama3.1',
      // The default first, each model once.
      models: ['llama3.1', 'qwen2.5', 'mistral'],
      temperature: 0.2,
      maxOutputTokens: 800,
      titleModel: 'llama3.2:1b',
      transcribeModel: 'whisper-1',
      attachmentMaxBytes: 2 * 1024 * 1024,
      tracing: true,
    });
  });

  it('names every bad variable', () => {
    expect(
      problems({
        OPENAI_API: 'completions',
        OPENAI_BASE_URL: 'ftp://x',
        AGENT_TEMPERATURE: 'hot',
        AGENT_MAX_OUTPUT_TOKENS: '1.5',
        AGENT_HISTORY_MESSAGES: '0',
      }).map((p) => p.split(':')[0]),
    ).toEqual([
      'OPENAI_BASE_URL',
      'OPENAI_API',
      'AGENT_TEMPERATURE',
      'AGENT_MAX_OUTPUT_TOKENS',
      'AGENT_HISTORY_MESSAGES',
    ]);
  });

  it('reads the instructions from a file, and refuses a missing file or both sources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    try {
      const file = join(dir, 'instructions.md');
      writeFileSync(file, '\nYou are the ACME assistant.\n');
      expect(load({ AGENT_INSTRUCTIONS_FILE: file }).instructions).toBe('You are the ACME assistant.');
      expect(problems({ AGENT_INSTRUCTIONS_FILE: file, AGENT_INSTRUCTIONS: 'inline' })[0]).toMatch(
        /set one or the other/,
      );
      expect(problems({ AGENT_INSTRUCTIONS_FILE: join(dir, 'missing.md') })[0]).toMatch(
        /^AGENT_INSTRUCTIONS_FILE: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
