import { ConfigValidationError } from 'src/config/env.schema';
import { parsePrices, usageConfig } from 'src/config/usage.config';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('usage config', () => {
  const saved = { ...process.env };
  afterEach(() => (process.env = { ...saved }));

  it('reads prices per million tokens; cached input defaults to the input price', () => {
    expect(
      parsePrices(
        '{"gpt-4.1-mini":{"input":0.4,"cached_input":0.1,"output":1.6},"local":{"input":0,"output":0}}',
      ),
    ).toEqual({
      'gpt-4.1-mini': { input: 0.4, cached_input: 0.1, output: 1.6 },
      local: { input: 0, cached_input: 0, output: 0 },
    });
    expect(parsePrices(undefined)).toEqual({});
  });

  it('names every bad price entry, and the field', () => {
    expect(
      problemsOf(() =>
        parsePrices(
          '{"ok":{"input":1,"output":2},"cheap":{"input":-1,"output":2},"typo":{"input":1,"ouput":2}}',
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^AGENT_MODEL_PRICES: "cheap"\.input: /),
      expect.stringMatching(/^AGENT_MODEL_PRICES: "typo"/),
    ]);
    expect(problemsOf(() => parsePrices('{"gpt": 0.4'))[0]).toMatch(
      /^AGENT_MODEL_PRICES: expected a JSON object/,
    );
    expect(problemsOf(() => parsePrices('[1,2]'))[0]).toMatch(/^AGENT_MODEL_PRICES: expected a JSON object/);
  });

  it('leaves every budget off unless set, and refuses a budget that is not a positive integer', () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('USAGE_QUOTA_')) delete process.env[k];
    expect(usageConfig().quotas).toEqual({
      userDay: undefined,
      userMonth: undefined,
      orgDay: undefined,
      orgMonth: undefined,
    });
    process.env.USAGE_QUOTA_ORG_MONTH = '0';
    expect(problemsOf(() => usageConfig())[0]).toMatch(/^USAGE_QUOTA_ORG_MONTH: /);
  });
});
