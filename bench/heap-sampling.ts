/**
 * What a running gateway allocates, and where (a benchmark tool, not a test). It attaches over
 * the inspector protocol to a process started with `--inspect=127.0.0.1:<port>` (for instance
 * `npm run bench:turn -- --only ttft --node-args=--inspect=127.0.0.1:9339`, then this during its
 * open loop). It runs V8's sampling heap profiler for `--seconds`, counting the objects either
 * garbage collector already freed too, and prints the MB allocated over the window and the
 * shares by place: an npm package, a file of the app, or a node: builtin. A sample counts for
 * the innermost frame of the app or of a package on its stack, so a builtin's allocation (a
 * promise, a Map) counts for whoever asked for it; the heaviest such frames follow.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/heap-sampling.ts \
 *     [--port 9339] [--seconds 10] [--interval 8192] [--top 25] [--live] [--out <file.heapprofile>]
 *
 * `--live` counts instead only what was allocated in the window and is still reachable at its end
 * (a full collection is forced first, a pause of its own): the work in flight at that moment,
 * which is what each young-generation collection has to copy.
 *
 * `--out` keeps the raw profile (Chrome DevTools opens it). Only connects to 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { placeOf } from 'bench/support/profile-places';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9339' },
    seconds: { type: 'string', default: '10' },
    interval: { type: 'string', default: '8192' },
    top: { type: 'string', default: '25' },
    out: { type: 'string' },
    live: { type: 'boolean', default: false },
  },
});
/** With --live: only what was allocated in the window and is still reachable at its end. */
const live = values.live!;

/** Sends inspector commands over one WebSocket; resolves each with its result. */
async function inspector(port: string): Promise<{
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  if (!targets.length) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  socket.addEventListener('message', (message: MessageEvent) => {
    const data = JSON.parse(String(message.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const entry = data.id === undefined ? undefined : waiting.get(data.id);
    if (!entry) return;
    waiting.delete(data.id!);
    if (data.error) entry.reject(new Error(data.error.message));
    else entry.resolve(data.result);
  });
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('could not connect to the inspector')), {
      once: true,
    });
  });
  let next = 0;
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

async function main(): Promise<void> {
  const session = await inspector(values.port!);
  await session.send('HeapProfiler.enable');
  await session.send('HeapProfiler.startSampling', {
    samplingInterval: Number(values.interval),
    includeObjectsCollectedByMajorGC: !live,
    includeObjectsCollectedByMinorGC: !live,
  });
  await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000));
  // A full collection first, so that what is left is what the process still holds: the work in
  // flight at that moment (and any cache that grew in the window), not garbage not yet swept.
  if (live) await session.send('HeapProfiler.collectGarbage');
  const { profile } = (await session.send('HeapProfiler.stopSampling')) as {
    profile: { head: SamplingNode };
  };
  session.close();
  if (values.out) writeFileSync(values.out, JSON.stringify(profile));

  const byPlace = new Map<string, number>();
  const byFrame = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, owner: string | undefined, ownerFrame: string | undefined): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const place = placeOf(url, functionName);
    const ours = place.startsWith('app:') || place.startsWith('pkg:');
    const frame = ours ? `${functionName || '(anonymous)'} ${place}:${lineNumber + 1}` : ownerFrame;
    const counted = ours ? place : (owner ?? place);
    if (node.selfSize) {
      total += node.selfSize;
      byPlace.set(counted, (byPlace.get(counted) ?? 0) + node.selfSize);
      if (frame) byFrame.set(frame, (byFrame.get(frame) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, ours ? place : owner, frame);
  };
  walk(profile.head, undefined, undefined);

  /** The heaviest `--top` entries of `bytes` as a markdown table headed `column`. */
  const table = (column: string, bytes: Map<string, number>): string[] => [
    `| share | ${column} |`,
    '|---|---|',
    ...[...bytes.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, Number(values.top))
      .map(([name, size]) => `| ${((size / total) * 100).toFixed(1)}% | ${name} |`),
  ];
  const lines = [
    live
      ? `still reachable after ${values.seconds} s: ${(total / 1048576).toFixed(1)} MB allocated in the window (sampled every ${values.interval} bytes)`
      : `allocated ${(total / 1048576).toFixed(1)} MB in ${values.seconds} s (sampled every ${values.interval} bytes)`,
    '',
    ...table('where', byPlace),
    '',
    ...table('frame', byFrame),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
