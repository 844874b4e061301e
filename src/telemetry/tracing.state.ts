/**
 * Which tracing, if any, this process started. Kept apart from the SDK so that reading it (the app
 * does at shutdown) loads nothing of the SDK when tracing is off.
 */
export interface TracingHandle {
  /** Exports what is buffered now. */
  flush(): Promise<void>;
  /** Flushes, stops the SDK and unpatches the instrumented modules; safe to call more than once. */
  shutdown(): Promise<void>;
}

let running: TracingHandle | undefined;

export function activeTracing(): TracingHandle | undefined {
  return running;
}

export function setActiveTracing(handle: TracingHandle | undefined): void {
  running = handle;
}
