/**
 * Loaded first by main.ts: starts tracing when the environment asks for it (see tracing.env.ts),
 * before Nest, express, pg or ioredis are required, so the instrumentations can patch them. With
 * tracing off it loads nothing of the SDK.
 */
import { loadTracingEnvFile, tracingRequested } from 'src/telemetry/tracing.env';

loadTracingEnvFile(process.env);
if (tracingRequested(process.env)) {
  // Required here, not imported at the top: the SDK's modules load only when tracing is on.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./tracing.sdk') as typeof import('src/telemetry/tracing.sdk');
  sdk.startTracing();
}
