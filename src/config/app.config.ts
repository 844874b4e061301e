/** Process-level settings: listening address, proxy trust, body limits, shutdown grace, logging. */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { envInt, envList, envString, parseEnv } from 'src/config/env.schema';

const DOCS_ENABLED = z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', '']).optional();

export const appEnvShape = {
  NODE_ENV: z.enum(['development', 'production', 'test']).optional().default('development'),
  PORT: envInt(3000, { min: 0, max: 65535 }),
  HOST: envString('0.0.0.0'),
  // "false", "true", a hop count ("1") or a comma list of trusted subnets, as Express understands it.
  TRUST_PROXY: envString('false'),
  BODY_LIMIT_KB: envInt(1024, { min: 1, max: 1024 * 100 }),
  SHUTDOWN_GRACE_MS: envInt(10_000, { min: 0, max: 600_000 }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .optional()
    .default('info'),
  // Unset: pretty on a terminal in development, JSON otherwise (see logging.module.ts).
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  CORS_ORIGINS: envList([]),
  PUBLIC_BASE_URL: envString(),
  // Unset: on in development and test, off in production (the API surface is not advertised).
  DOCS_ENABLED,
};

export const appConfig = registerAs('app', () => {
  const env = parseEnv(appEnvShape);
  return {
    nodeEnv: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    port: env.PORT,
    host: env.HOST!,
    trustProxy: parseTrustProxy(env.TRUST_PROXY!),
    bodyLimitBytes: env.BODY_LIMIT_KB * 1024,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    corsOrigins: env.CORS_ORIGINS,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    docsEnabled:
      env.DOCS_ENABLED === undefined || env.DOCS_ENABLED === ''
        ? env.NODE_ENV !== 'production'
        : ['true', '1', 'yes', 'on'].includes(env.DOCS_ENABLED),
  };
});

export type AppConfig = ReturnType<typeof appConfig>;

function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim());
}

/**
 * A page served by a local development server (Vite on :5173, Next.js on :3001…): any port of
 * localhost, 127.0.0.1 or [::1] over plain http.
 */
export const LOCAL_DEV_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/**
 * The origins a browser may call the API from: CORS_ORIGINS, plus — in development mode only,
 * which production refuses at boot — every local development server, so a front end started next
 * to `npm start` works without configuration. Empty: CORS stays off.
 */
export function allowedCorsOrigins(config: AppConfig, devMode: boolean): Array<string | RegExp> {
  return devMode ? [...config.corsOrigins, LOCAL_DEV_ORIGIN] : config.corsOrigins;
}
