/** Protocol-level knobs: page sizes, SSE heartbeats, the per-thread run lock. */
import { registerAs } from '@nestjs/config';
import { envBoolean, envInt, parseEnv } from 'src/config/env.schema';

export const chatkitEnvShape = {
  CHATKIT_MAX_PAGE_SIZE: envInt(100, { min: 1, max: 1000 }),
  CHATKIT_HEARTBEAT_MS: envInt(15_000, { min: 0, max: 600_000 }),
  CHATKIT_RUN_LOCK_TTL_S: envInt(30, { min: 5, max: 3600 }),
  CHATKIT_ALLOW_CANCEL: envBoolean(true),
  CHATKIT_RESPONDER_IDLE_TIMEOUT_S: envInt(300, { min: 0, max: 86_400 }),
};

export const chatkitConfig = registerAs('chatkit', () => {
  const env = parseEnv(chatkitEnvShape);
  return {
    maxPageSize: env.CHATKIT_MAX_PAGE_SIZE,
    heartbeatMs: env.CHATKIT_HEARTBEAT_MS,
    runLockTtlMs: env.CHATKIT_RUN_LOCK_TTL_S * 1000,
    allowCancel: env.CHATKIT_ALLOW_CANCEL,
    responderIdleTimeoutMs: env.CHATKIT_RESPONDER_IDLE_TIMEOUT_S * 1000,
  };
});

export type ChatKitConfig = ReturnType<typeof chatkitConfig>;
