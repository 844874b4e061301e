/**
 * Tracing for an e2e test file: the real SDK setup of src/telemetry/tracing.sdk.ts with an
 * in-memory exporter instead of OTLP, started before the app is built.
 *
 * Jest loads modules through a registry of its own, never through the `require` the
 * instrumentations hook, so their patches are applied here to the modules of this test file's
 * registry (the ones the app will use); `stop()` takes them off again (node's `http` is shared by
 * every test file of the process) and unregisters the global tracer, context manager and
 * propagator.
 */
import type { InstrumentationBase } from '@opentelemetry/instrumentation';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startTracing } from 'src/telemetry/tracing.sdk';

export interface TestTracing {
  /** Every span ended so far. */
  spans(): ReadableSpan[];
  reset(): void;
  stop(): Promise<void>;
}

const CORE_MODULES = new Set(['http', 'https']);

/**
 * The instrumentations' patches, applied to the modules as this file's registry loads them;
 * returns what takes them off. (The definitions are made afresh by each `getModuleDefinitions()`,
 * so the instrumentations' own `disable()` does not know these.)
 */
function patchLoadedModules(instrumentations: InstrumentationBase[]): () => void {
  const undo: Array<() => void> = [];
  for (const instrumentation of instrumentations) {
    for (const definition of instrumentation.getModuleDefinitions()) {
      let exports: unknown;
      let version: string | undefined;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exports = require(definition.name);
        if (!CORE_MODULES.has(definition.name))
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          version = (require(`${definition.name}/package.json`) as { version: string }).version;
      } catch {
        continue; // not installed (pg-native, an optional peer)
      }
      if (definition.patch) {
        definition.patch(exports, version);
        undo.push(() => definition.unpatch?.(exports, version));
      }
      for (const file of definition.files) {
        let fileExports: unknown;
        try {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          fileExports = require(file.name);
        } catch {
          continue;
        }
        file.patch(fileExports, version);
        undo.push(() => file.unpatch(fileExports, version));
      }
    }
  }
  return () => {
    for (const step of undo.reverse()) step();
  };
}

export function startTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const unpatch = patchLoadedModules(tracing.instrumentations);
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: async () => {
      unpatch();
      await tracing.shutdown();
    },
  };
}
