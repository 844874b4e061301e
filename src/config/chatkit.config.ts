/** Protocol-level knobs: page sizes, SSE heartbeats and buffers, the per-thread run lock, stream caps. */
import { registerAs } from '@nestjs/config';
import { envBoolean, envChoice, envInt, parseEnv } from 'src/config/env.schema';

export const chatkitEnvShape = {
  CHATKIT_MAX_PAGE_SIZE: envInt(100, { min: 1, max: 1000 }),
  CHATKIT_HEARTBEAT_MS: envInt(15_000, { min: 0, max: 600_000 }),
  CHATKIT_RUN_LOCK_TTL_S: envInt(30, { min: 5, max: 3600 }),
  CHATKIT_ALLOW_CANCEL: envBoolean(true),
  CHATKIT_RESPONDER_IDLE_TIMEOUT_S: envInt(300, { min: 0, max: 86_400 }),
  CHATKIT_STREAM_BUFFER_BYTES: envInt(1_048_576, { min: 4096, max: 268_435_456 }),
  CHATKIT_SLOW_READER_TIMEOUT_MS: envInt(30_000, { min: 100, max: 3_600_000 }),
  CHATKIT_MAX_STREAMS_PER_USER: envInt(5, { min: 0, max: 100_000 }),
  CHATKIT_ON_DISCONNECT: envChoice(['cancel', 'continue'] as const, 'cancel'),
  CHATKIT_PROGRESS_SAVE_MS: envInt(2_000, { min: 100, max: 600_000 }),
};

export const chatkitConfig = registerAs('chatkit', () => {
  const env = parseEnv(chatkitEnvShape);
  return {
    maxPageSize: env.CHATKIT_MAX_PAGE_SIZE,
    heartbeatMs: env.CHATKIT_HEARTBEAT_MS,
    runLockTtlMs: env.CHATKIT_RUN_LOCK_TTL_S * 1000,
    allowCancel: env.CHATKIT_ALLOW_CANCEL,
    responderIdleTimeoutMs: env.CHATKIT_RESPONDER_IDLE_TIMEOUT_S * 1000,
    streamBufferBytes: env.CHATKIT_STREAM_BUFFER_BYTES,
    slowReaderTimeoutMs: env.CHATKIT_SLOW_READER_TIMEOUT_MS,
    /** 0: no cap. */
    maxStreamsPerUser: env.CHATKIT_MAX_STREAMS_PER_USER,
    /**
     * `cancel`: a client that leaves stops its answer (ChatKit's stop button is a disconnect).
     * `continue`: the answer runs on, detached, and is stored; a stop request stops it.
     */
    onDisconnect: env.CHATKIT_ON_DISCONNECT,
    /** With `continue`: how often a running answer's progress is stored, so a reload shows it. */
    progressSaveMs: env.CHATKIT_PROGRESS_SAVE_MS,
  };
});

export type ChatKitConfig = ReturnType<typeof chatkitConfig>;
