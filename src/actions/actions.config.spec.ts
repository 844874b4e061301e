import { actionWebhooksFrom } from 'src/actions/actions.config';
import { ConfigValidationError } from 'src/config/env.schema';

const SECRET = 'sixteen-or-more-characters';
const from = (actions: unknown, env: NodeJS.ProcessEnv = { HOOK_SECRET: SECRET }) =>
  actionWebhooksFrom({ toolsFile: { actions }, toolsFilePath: '/etc/gw/tools.yaml' }, env);

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('actions section of the tools file', () => {
  it('reads entries with their defaults and the signing key from the named variable', () => {
    expect(
      from([
        { type: 'order.refund', url: 'http://orders.internal:8080/hooks/refund', secret_env: 'HOOK_SECRET' },
      ]),
    ).toEqual([
      {
        type: 'order.refund',
        url: 'http://orders.internal:8080/hooks/refund',
        timeoutMs: 5000,
        secret: SECRET,
        headers: {},
      },
    ]);
    expect(actionWebhooksFrom({ toolsFile: {}, toolsFilePath: undefined })).toEqual([]);
  });

  it('names the file, the section and the entry of every problem', () => {
    expect(
      problemsOf(() =>
        from(
          [
            { type: 'a', url: 'ftp://x/y', secret_env: 'HOOK_SECRET' },
            { type: 'b', url: 'https://x/y', secret_env: 'MISSING_SECRET', timeout_ms: 10 },
            {
              type: 'c',
              url: 'https://x/y',
              secret_env: 'HOOK_SECRET',
              headers: { 'X-ChatKit-Signature': 'forged' },
              extra: 1,
            },
            { type: 'a', url: 'https://x/z', secret_env: 'HOOK_SECRET' },
            { type: 'd', url: 'https://x/y', secret_env: 'SHORT' },
          ],
          { HOOK_SECRET: SECRET, SHORT: 'short' },
        ),
      ),
    ).toEqual([
      'AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions[0] (a): url: expected a url string',
      'AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions[1] (b): timeout_ms: must be >= 100',
      expect.stringMatching(
        /^AGENT_TOOLS_FILE \(\/etc\/gw\/tools\.yaml\): actions\[2\] \(c\): .*(unknown key\(s\) extra|is set by the gateway)/,
      ),
      'AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions[3] (a): the action type "a" is listed twice',
      'AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions[4] (d): secret_env: SHORT must be at least 16 characters',
    ]);
    expect(problemsOf(() => from({ type: 'a' }))).toEqual([
      'AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions: expected a list of entries',
    ]);
    expect(problemsOf(() => from([{ type: 'b', url: 'https://x/y', secret_env: 'MISSING_SECRET' }]))).toEqual(
      ['AGENT_TOOLS_FILE (/etc/gw/tools.yaml): actions[0] (b): secret_env: MISSING_SECRET is not set'],
    );
  });
});
