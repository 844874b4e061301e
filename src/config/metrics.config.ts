/** Prometheus exposition settings. */
import { registerAs } from '@nestjs/config';
import { envBoolean, envString, parseEnv } from 'src/config/env.schema';

export const metricsEnvShape = {
  METRICS_ENABLED: envBoolean(true),
  METRICS_PREFIX: envString('chatkit_'),
};

export const metricsConfig = registerAs('metrics', () => {
  const env = parseEnv(metricsEnvShape);
  return { enabled: env.METRICS_ENABLED, prefix: env.METRICS_PREFIX! };
});

export type MetricsConfig = ReturnType<typeof metricsConfig>;
