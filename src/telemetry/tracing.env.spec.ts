import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTracingEnvFile, serviceNameOverride, tracingRequested } from 'src/telemetry/tracing.env';

describe('tracingRequested', () => {
  it('is off with no OTEL_* settings at all', () => {
    expect(tracingRequested({})).toBe(false);
  });

  it('is on with an OTLP endpoint, general or for traces', () => {
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(
      true,
    );
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  });

  it('follows OTEL_TRACES_EXPORTER, where none means off', () => {
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(
      tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBe(false);
  });

  it('is off whatever else is set when OTEL_SDK_DISABLED=true', () => {
    expect(
      tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBe(false);
  });
});

describe('serviceNameOverride', () => {
  it('names the service chatkit-gateway unless the environment names it', () => {
    expect(serviceNameOverride({})).toBe('chatkit-gateway');
    expect(serviceNameOverride({ OTEL_SERVICE_NAME: 'gateway-eu' })).toBeUndefined();
    expect(
      serviceNameOverride({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=gw' }),
    ).toBeUndefined();
    expect(serviceNameOverride({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod' })).toBe(
      'chatkit-gateway',
    );
  });
});

describe('loadTracingEnvFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracing-env-'));
  const file = join(dir, '.env');
  writeFileSync(
    file,
    'OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318\nOTEL_SERVICE_NAME=from-file\nDATABASE_URL=postgres://x\n',
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the OTEL_* variables of the file that the process does not set, and nothing else', () => {
    const env: NodeJS.ProcessEnv = { OTEL_SERVICE_NAME: 'from-process' };
    loadTracingEnvFile(env, file);
    expect(env).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
      OTEL_SERVICE_NAME: 'from-process',
    });
  });

  it('reads no file in tests, nor a missing one', () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'test' };
    loadTracingEnvFile(env, file);
    expect(env).toEqual({ NODE_ENV: 'test' });
    const other: NodeJS.ProcessEnv = {};
    loadTracingEnvFile(other, join(dir, 'missing.env'));
    expect(other).toEqual({});
  });
});
