/** The browser playground at /playground: a page for trying the ChatKit protocol by hand. */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { parseEnv } from 'src/config/env.schema';

export const playgroundEnvShape = {
  // Unset: on in development and test, off in production (a chat page is not for end users).
  PLAYGROUND_ENABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', '']).optional(),
  // Read for the default only; the app namespace validates it.
  NODE_ENV: z.string().optional(),
};

export const playgroundConfig = registerAs('playground', () => {
  const env = parseEnv(playgroundEnvShape);
  return {
    enabled:
      env.PLAYGROUND_ENABLED === undefined || env.PLAYGROUND_ENABLED === ''
        ? env.NODE_ENV !== 'production'
        : ['true', '1', 'yes', 'on'].includes(env.PLAYGROUND_ENABLED),
  };
});

export type PlaygroundConfig = ReturnType<typeof playgroundConfig>;
