import { playgroundConfig } from 'src/config/playground.config';
import { namespaceUnderTest } from 'test/support/config-namespace';

const { load, problems } = namespaceUnderTest(playgroundConfig);

describe('playground config', () => {
  it('is on in development and test, off in production, when unset or empty', () => {
    expect(load({}).enabled).toBe(true);
    expect(load({ NODE_ENV: 'development' }).enabled).toBe(true);
    expect(load({ NODE_ENV: 'test', PLAYGROUND_ENABLED: '' }).enabled).toBe(true);
    expect(load({ NODE_ENV: 'production' }).enabled).toBe(false);
  });

  it('follows PLAYGROUND_ENABLED whatever the environment', () => {
    expect(load({ NODE_ENV: 'production', PLAYGROUND_ENABLED: 'true' }).enabled).toBe(true);
    expect(load({ NODE_ENV: 'development', PLAYGROUND_ENABLED: 'off' }).enabled).toBe(false);
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    expect(problems({ PLAYGROUND_ENABLED: 'maybe' })).toEqual([
      expect.stringMatching(/^PLAYGROUND_ENABLED: /),
    ]);
  });
});
