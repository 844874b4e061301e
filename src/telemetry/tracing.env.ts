/**
 * Whether the environment asks for tracing. Read before anything else of the app loads, so it
 * imports nothing: with no exporter configured the OpenTelemetry SDK is never even required,
 * and `@opentelemetry/api` hands out no-op tracers that cost next to nothing.
 *
 * The OTEL_* variables themselves are read by the SDK (endpoint, headers, protocol, sampler,
 * resource attributes); this only decides whether to start it.
 */
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
