/**
 * Whether the environment asks for tracing. Read before anything else of the app loads, so it
 * imports no library: with no exporter configured the OpenTelemetry SDK is never even required,
 * and `@opentelemetry/api` hands out no-op tracers that cost next to nothing.
 *
 * The OTEL_* variables themselves are read by the SDK (endpoint, headers, protocol, sampler,
 * resource attributes); this only decides whether to start it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * The OTEL_* variables of the `.env` file, added to `env` where it has none: the app reads that
 * file too, but only once Nest starts, and tracing must start before. Process variables win, as
 * they do for the app; tests never read the file.
 */
export function loadTracingEnvFile(env: NodeJS.ProcessEnv, path = '.env'): void {
  if (env.NODE_ENV === 'test' || !existsSync(path)) return;
  const parsed = parseEnv(readFileSync(path, 'utf8')) as Record<string, string | undefined>;
  for (const [name, value] of Object.entries(parsed)) {
    if (name.startsWith('OTEL_') && env[name] === undefined) env[name] = value;
  }
}

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (exporters.length > 0) return !exporters.every((name) => name === 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** The service name spans carry when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
export const DEFAULT_SERVICE_NAME = 'chatkit-gateway';

export function serviceNameOverride(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SERVICE_NAME?.trim()) return undefined;
  if (/(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '')) return undefined;
  return DEFAULT_SERVICE_NAME;
}
