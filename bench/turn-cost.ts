/**
 * What one ChatKit turn costs the gateway, next to floors measured in the same run (a benchmark,
 * not a test). Builds the gateway (`npm run build`) and runs `node dist/src/main.js` as a child
 * process with development auth, no rate limits and no per-user stream cap, its model a fake on
 * loopback (bench/agent/fake-model.ts, its own process). With the PostgreSQL server (the default)
 * the script creates a fresh database and drops it at the end (the [sql] row runs a second gateway
 * on it through a round-trip counting proxy, bench/support/pg-round-trips.ts, its own process);
 * `--embedded` uses the app's embedded database (PGlite, in the gateway process) instead.
 *
 * Rows (`--only` takes a comma-separated subset of the keys in brackets):
 * - [create] [add] [items] [threads]: the gateway's CPU time (utime + stime from /proc/<pid>/stat)
 *   per operation over `--ops` operations at `--concurrency`, after `--warmup` unmeasured ones:
 *   threads.create and threads.add_user_message read to the end of the stream (the model answers
 *   with 12 text deltas, no delay), items.list of 20 items, threads.list of 20 threads; these and
 *   the floors are measured in turn, `--rounds` times over, and each row gives the median;
 * - [floors]: the same answer through a bare Agents SDK streamed run (and one given the input of an
 *   add turn: ten messages and an abort signal, first all as the run's input, then handed over as
 *   the gateway does, the question as the input and the rest put back by a filter), through the bare `openai`
 *   client (each in its own process, no tools, no database, no HTTP server), and a bare `node:http`
 *   server answering a canned ChatKit-like stream of about twenty events, CPU per operation;
 * - [sql] (server database only): SQL round trips per add_user_message and per create turn, from
 *   `--sql-turns` sequential turns minus the idle traffic counted over as long with no requests;
 * - [ttft]: the time the gateway adds before the first word (client time to first text delta minus
 *   the fake model's own, request arrival to first delta written), deltas 50 ms apart: p50 at one
 *   stream, less the same figure for the same client sending the gateway's own last model request
 *   straight to the fake (the client's and the fake's share, with no gateway in between); then
 *   p50/p99 under an open-loop load of `--rate` new add_user_message turns per second for
 *   `--seconds` (arrivals on a schedule; answers of 40 deltas keep ~100 streams open), as the
 *   client sees them;
 * - [rss]: the gateway's VmRSS idle and with `--streams` open streams (threads.create from many
 *   users) whose model sent one delta and stalled, then whether every model request was cancelled
 *   once all clients disconnected (the fake model's open requests and the active-streams gauge).
 *
 *   npm run bench:turn -- [--embedded] [--only create,add,items,threads,floors,sql,ttft,rss] \
 *     [--ops 400] [--rounds 3] [--concurrency 4] [--warmup 40] [--rate 50] [--seconds 20] [--streams 1000] \
 *     [--sql-turns 5] [--skip-build] [--root <another checkout, built>] \
 *     [--pg postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Progress goes to stderr, the markdown table to stdout. Linux only (/proc). Everything listens on
 * 127.0.0.1 and stops when done.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import {
  startFakeModel,
  type FromFakeModel,
  type ModelTiming,
  type StreamedAnswer,
  type ToFakeModel,
} from 'bench/agent/fake-model';
import { memoryOf, startServer, type RunningServer } from 'bench/attachments/server';
import {
  addMessage,
  createThread,
  jsonRequest,
  now,
  percentile,
  streamPost,
  streamTurn,
  userInput,
} from 'bench/support/chatkit-client';
import { measureClientFloor, startHttpFloor } from 'bench/support/floors';
import { startRoundTripProxy, type RoundTripCounts } from 'bench/support/pg-round-trips';
import { clockTicks, cpuMsOf, loadAverage, resetPeak } from 'bench/support/proc';

const ROOT = join(__dirname, '..');
const ALL = ['create', 'add', 'items', 'threads', 'floors', 'sql', 'ttft', 'rss'];

const { values } = parseArgs({
  options: {
    embedded: { type: 'boolean', default: false },
    only: { type: 'string', default: ALL.join(',') },
    ops: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '40' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    streams: { type: 'string', default: '1000' },
    'sql-turns': { type: 'string', default: '5' },
    'skip-build': { type: 'boolean', default: false },
    // Another checkout whose dist/ (built there beforehand) is the gateway measured: a before/after
    // pair in one window runs this script twice, once with --root <checkout of the old commit>.
    root: { type: 'string' },
    // Flags for the gateway's node (space-separated), e.g. a V8 flag not allowed in NODE_OPTIONS.
    'node-args': { type: 'string' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});

const only = new Set(values.only!.split(','));
for (const key of only)
  if (!ALL.includes(key)) throw new Error(`--only: unknown row ${key}; rows: ${ALL.join(',')}`);
const embedded = values.embedded!;
const ops = Number(values.ops);
const concurrency = Number(values.concurrency);
const warmup = Number(values.warmup);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const streamCount = Number(values.streams);
const sqlTurns = Number(values['sql-turns']);
const rounds = Number(values.rounds);

const FAST: StreamedAnswer = { deltas: 12, deltaDelayMs: 0 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string): void =>
  void process.stderr.write(`[turn-cost ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const ms = (n: number | undefined, digits = 2) =>
  n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);

interface Row {
  row: string;
  value: string;
  target: string;
  met?: boolean;
  notes: string;
}
const rows: Row[] = [];
/** The gateway's own CPU use with no requests (timers, metrics, pool), ms per second. */
let idleCpuPerS = 0;

// ------------------------------------------------------------------------------ fake model

function ask(
  child: ChildProcess,
  message: ToFakeModel,
  reply: FromFakeModel['type'],
): Promise<FromFakeModel> {
  return new Promise((resolve) => {
    const onMessage = (answer: FromFakeModel): void => {
      if (answer.type !== reply) return;
      child.off('message', onMessage);
      resolve(answer);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/** What the model did per marked stream since the last call (which also clears its records). */
async function modelTimings(model: ChildProcess, bodies = false): Promise<ModelTiming[]> {
  const answer = await ask(model, { type: 'report', bodies }, 'report');
  return answer.type === 'report' ? answer.timings : [];
}

async function configureModel(model: ChildProcess, answer: StreamedAnswer): Promise<void> {
  await ask(model, { type: 'configure', ...answer }, 'configured');
}

// ------------------------------------------------------------------------------ load

/** Runs `count` operations with `concurrency` in flight; `fn(worker, n)` gets its own counter. */
async function drive(count: number, fn: (worker: number, n: number) => Promise<void>): Promise<number> {
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = 0; next < count; n++) {
        next++;
        try {
          await fn(worker, n);
        } catch (error) {
          if (failures++ === 0) log(`first failure: ${String(error)}`);
        }
      }
    }),
  );
  return failures;
}

interface Gateway {
  server: RunningServer;
  model: ChildProcess;
  /** The fake model's base URL (…/v1). */
  modelURL: string;
  run: string;
}

/** Server CPU ms per operation over `ops` operations after `warmup` unmeasured ones. */
async function cpuPerOp(
  g: Gateway,
  name: string,
  fn: (worker: number, n: number) => Promise<void>,
): Promise<{ perOp: number; failures: number; idlePerOp: number }> {
  await drive(warmup, fn);
  await modelTimings(g.model);
  await sleep(250);
  const before = cpuMsOf(g.server.pid);
  const started = performance.now();
  const failures = await drive(ops, (worker, n) => fn(worker, n + warmup));
  // Whatever the last operations left running (logging, pool bookkeeping) belongs to them.
  await sleep(250);
  const used = cpuMsOf(g.server.pid) - before;
  const wallS = (performance.now() - started) / 1000;
  await modelTimings(g.model);
  log(`${name}: ${ops} ops in ${wallS.toFixed(1)} s, server CPU ${used.toFixed(0)} ms, ${failures} failed`);
  return { perOp: used / ops, failures, idlePerOp: (idleCpuPerS * wallS) / ops };
}

const failNote = (failures: number) => (failures ? `${failures} failed` : '');
// ------------------------------------------------------------------------------ rows

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const listed = (values: number[]) => values.map((v) => ms(v)).join(', ');
const signed = (n: number) => `${n >= 0 ? '+' : ''}${ms(n)}`;

/** One CPU measure per round, and what its rows say about it. */
interface Series {
  perOp: number[];
  idlePerOp: number[];
  failures: number;
}
const newSeries = (): Series => ({ perOp: [], idlePerOp: [], failures: 0 });
function record(series: Series, measured: { perOp: number; failures: number; idlePerOp: number }): void {
  series.perOp.push(measured.perOp);
  series.idlePerOp.push(measured.idlePerOp);
  series.failures += measured.failures;
}
/** The notes of a CPU row: each round's figure, idle CPU over as long, failures. */
const seriesNote = (series: Series): string =>
  [
    series.perOp.length > 1 ? `rounds ${listed(series.perOp)}` : '',
    `idle share ≈ ${ms(median(series.idlePerOp))}`,
    failNote(series.failures),
  ]
    .filter(Boolean)
    .join('; ');

/**
 * The CPU rows: the floors and the gateway's operations measured in turn, `--rounds` times over,
 * so that each gateway figure has floors measured minutes, not a quarter of an hour, from it (the
 * speed of this shared machine drifts). Each row gives the median over the rounds; a turn's
 * target compares, round by round, the turn with the SDK floor of the same round, and takes the
 * median of those differences.
 */
async function cpuRows(g: Gateway): Promise<void> {
  const floors = only.has('floors');
  // Ten threads per add worker, used in turn, so no thread grows past a dozen turns of history
  // however many rounds run; one thread of ten turns (twenty items) per items worker; twenty
  // threads per threads worker.
  const addThreads = only.has('add')
    ? await Promise.all(
        Array.from({ length: concurrency }, async (_, worker) => {
          const list: string[] = [];
          for (let t = 0; t < 10; t++)
            list.push(await createThread(g.server.url, `bench-${g.run}-a-${worker}`, `topic ${t}`));
          return list;
        }),
      )
    : [];
  const itemThreads = only.has('items')
    ? await Promise.all(
        Array.from({ length: concurrency }, async (_, worker) => {
          const user = `bench-${g.run}-i-${worker}`;
          const id = await createThread(g.server.url, user, 'first');
          for (let t = 1; t < 10; t++) await addMessage(g.server.url, user, id, `turn ${t}`);
          return id;
        }),
      )
    : [];
  if (only.has('threads'))
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let t = 0; t < 20; t++)
          await createThread(g.server.url, `bench-${g.run}-t-${worker}`, `thread ${t}`);
      }),
    );
  const itemsBody = (worker: number) => ({
    type: 'items.list',
    params: { thread_id: itemThreads[worker], limit: 20 },
  });
  const threadsBody = { type: 'threads.list', params: { limit: 20 } };
  const itemCount = only.has('items')
    ? (await jsonRequest<{ data: unknown[] }>(g.server.url, `bench-${g.run}-i-0`, itemsBody(0))).data.length
    : 0;
  const threadCount = only.has('threads')
    ? (await jsonRequest<{ data: unknown[] }>(g.server.url, `bench-${g.run}-t-0`, threadsBody)).data.length
    : 0;

  const sdk: number[] = [];
  const sdkHistory: number[] = [];
  const sdkSplit: number[] = [];
  const openai: number[] = [];
  const http = newSeries();
  const create = newSeries();
  const add = newSeries();
  const items = newSeries();
  const threads = newSeries();
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    if (floors) {
      const run = { baseURL: g.modelURL, ops, concurrency, warmup };
      sdk.push(await measureClientFloor('sdk', run));
      log(`floor: Agents SDK streamed run ${ms(sdk.at(-1))} ms CPU each`);
      // The two ways of handing over the same input, in turns, first one then the other: the
      // second of two back-to-back measures here tends to come out cheaper (by ~0.2 ms).
      const historyFloor = async () => {
        sdkHistory.push(await measureClientFloor('sdk-history', run));
        log(`floor: Agents SDK streamed run with an add turn's input ${ms(sdkHistory.at(-1))} ms CPU each`);
      };
      const splitFloor = async () => {
        sdkSplit.push(await measureClientFloor('sdk-history-split', run));
        log(`floor: the same, history put in front by a filter ${ms(sdkSplit.at(-1))} ms CPU each`);
      };
      for (const floor of round % 2 ? [historyFloor, splitFloor] : [splitFloor, historyFloor]) await floor();
      openai.push(await measureClientFloor('openai', run));
      log(`floor: openai client stream ${ms(openai.at(-1))} ms CPU each`);
      record(http, await httpFloor());
      log(`floor: node:http canned SSE ${ms(http.perOp.at(-1))} ms CPU each`);
    }
    if (only.has('create'))
      record(
        create,
        await cpuPerOp(g, 'threads.create', async (worker, n) => {
          await createThread(g.server.url, `bench-${g.run}-c-${worker}`, `question ${round}.${n}`);
        }),
      );
    if (only.has('add'))
      record(
        add,
        await cpuPerOp(g, 'threads.add_user_message', async (worker, n) => {
          const thread = addThreads[worker][n % 10];
          await addMessage(g.server.url, `bench-${g.run}-a-${worker}`, thread, `and then ${round}.${n}?`);
        }),
      );
    if (only.has('items'))
      record(
        items,
        await cpuPerOp(g, 'items.list', async (worker) => {
          await jsonRequest(g.server.url, `bench-${g.run}-i-${worker}`, itemsBody(worker));
        }),
      );
    if (only.has('threads'))
      record(
        threads,
        await cpuPerOp(g, 'threads.list', async (worker) => {
          await jsonRequest(g.server.url, `bench-${g.run}-t-${worker}`, threadsBody);
        }),
      );
  }

  if (floors)
    rows.push(
      {
        row: 'floor: bare Agents SDK streamed run (no tools, no DB, no HTTP server) — CPU ms/run',
        value: ms(median(sdk)),
        target: '—',
        notes: sdk.length > 1 ? `rounds ${listed(sdk)}` : '',
      },
      {
        row: 'floor: the same SDK run with the input of an add turn (its last 10 messages) and an abort signal — CPU ms/run',
        value: ms(median(sdkHistory)),
        target: '—',
        notes: sdkHistory.length > 1 ? `rounds ${listed(sdkHistory)}` : '',
      },
      {
        row: "floor: the same input handed over as the gateway does: the question as the run's input, the earlier messages put in front of each model call by a filter — CPU ms/run",
        value: ms(median(sdkSplit)),
        target: '—',
        notes: [
          `${signed(median(sdkSplit.map((v, i) => v - sdkHistory[i])))} against the whole history as input (median of the rounds)`,
          sdkSplit.length > 1 ? `rounds ${listed(sdkSplit)}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      },
      {
        row: 'floor: bare `openai` client streaming the same answer — CPU ms/stream',
        value: ms(median(openai)),
        target: '—',
        notes: openai.length > 1 ? `rounds ${listed(openai)}` : '',
      },
      {
        row: 'floor: bare `node:http` canned SSE (~20 events) — server CPU ms/op',
        value: ms(median(http.perOp)),
        target: '—',
        notes: [http.perOp.length > 1 ? `rounds ${listed(http.perOp)}` : '', failNote(http.failures)]
          .filter(Boolean)
          .join('; '),
      },
    );
  /** A turn's row: its target is the SDK floor of the same round plus `allowed`. */
  const turnRow = (row: string, series: Series, allowed: number, sameInput?: number[]): Row => {
    if (!floors)
      return {
        row,
        value: ms(median(series.perOp)),
        target: `≤ SDK floor + ${allowed}`,
        notes: seriesNote(series),
      };
    const excess = median(series.perOp.map((v, i) => v - sdk[i]));
    return {
      row,
      value: ms(median(series.perOp)),
      target: `≤ SDK floor + ${allowed} (${ms(median(sdk) + allowed)})`,
      met: excess <= allowed,
      notes: [
        `${signed(excess)} over the SDK floor of the same round (median)`,
        sameInput
          ? `${signed(median(series.perOp.map((v, i) => v - sameInput[i])))} over the SDK run with the same input`
          : '',
        seriesNote(series),
      ]
        .filter(Boolean)
        .join('; '),
    };
  };
  if (only.has('create'))
    rows.push(turnRow('threads.create (full turn, with title) — server CPU ms/op', create, 1.5));
  if (only.has('add'))
    rows.push(turnRow('threads.add_user_message (full turn) — server CPU ms/op', add, 1, sdkSplit));
  const readRow = (row: string, series: Series): Row => ({
    row,
    value: ms(median(series.perOp)),
    target: '≤ 0.50',
    met: median(series.perOp) <= 0.5,
    notes: seriesNote(series),
  });
  if (only.has('items')) rows.push(readRow(`items.list (${itemCount} items) — server CPU ms/op`, items));
  if (only.has('threads'))
    rows.push(readRow(`threads.list (${threadCount} threads) — server CPU ms/op`, threads));
}

/** The bare node:http floor: its own process, driven like the gateway, CPU from /proc. */
async function httpFloor(): Promise<{ perOp: number; failures: number; idlePerOp: number }> {
  const http = await startHttpFloor();
  try {
    const body = { type: 'threads.create', params: { input: userInput('hello') } };
    const one = async (): Promise<void> => {
      const result = await streamTurn(http.url, 'bench-floor', body);
      if (result.ttftMs === undefined) throw new Error(`floor stream without a delta: ${result.error}`);
    };
    await drive(warmup, one);
    await sleep(250);
    const before = cpuMsOf(http.pid);
    const failures = await drive(ops, one);
    await sleep(250);
    return { perOp: (cpuMsOf(http.pid) - before) / ops, failures, idlePerOp: 0 };
  } finally {
    await http.stop();
  }
}

async function sqlRows(g: Gateway, counts: () => Promise<RoundTripCounts>): Promise<void> {
  const user = `bench-${g.run}-sql`;
  const thread = await createThread(g.server.url, user, 'first');
  await addMessage(g.server.url, user, thread, 'second');
  const measure = async (name: string, turn: (i: number) => Promise<unknown>): Promise<void> => {
    await sleep(500);
    const before = await counts();
    const started = performance.now();
    for (let i = 0; i < sqlTurns; i++) await turn(i);
    await sleep(500);
    const after = await counts();
    const elapsed = performance.now() - started;
    const idleBefore = await counts();
    await sleep(elapsed);
    const idleAfter = await counts();
    const per = (key: keyof RoundTripCounts) =>
      (after[key] - before[key] - (idleAfter[key] - idleBefore[key])) / sqlTurns;
    const idle = idleAfter.queries + idleAfter.syncs - idleBefore.queries - idleBefore.syncs;
    const total = per('queries') + per('syncs');
    log(
      `${name}: ${ms(total, 1)} round trips per turn (${ms(per('queries'), 1)} Q + ${ms(per('syncs'), 1)} Sync); idle ${idle} over ${(elapsed / 1000).toFixed(1)} s`,
    );
    rows.push({
      row: `SQL round trips per ${name} turn`,
      value: ms(total, 1),
      target: name === 'threads.add_user_message' ? '≤ 3' : '—',
      met: name === 'threads.add_user_message' ? total <= 3 : undefined,
      notes: `${ms(per('queries'), 1)} simple Query + ${ms(per('syncs'), 1)} extended Sync; ${sqlTurns} sequential turns, idle traffic (${idle} in ${(elapsed / 1000).toFixed(1)} s) subtracted`,
    });
  };
  await measure('threads.add_user_message', (i) => addMessage(g.server.url, user, thread, `sql ${i}`));
  await measure('threads.create', (i) => createThread(g.server.url, user, `sql thread ${i}`));
}

type GcTotals = Map<string, { count: number; seconds: number }>;

/** The gateway's own GC pauses so far, by kind, from its Prometheus metrics (prom-client's). */
async function gatewayGc(url: string): Promise<GcTotals> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const totals: GcTotals = new Map();
  for (const [, field, kind, value] of text.matchAll(
    /nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} ([\d.e+-]+)/g,
  )) {
    const entry = totals.get(kind) ?? { count: 0, seconds: 0 };
    if (field === 'sum') entry.seconds = Number(value);
    else entry.count = Number(value);
    totals.set(kind, entry);
  }
  return totals;
}

/** "N minor (X ms each on average), …" between two readings. */
function gcSince(before: GcTotals, after: GcTotals): string {
  const parts: string[] = [];
  for (const [kind, { count, seconds }] of after) {
    const n = count - (before.get(kind)?.count ?? 0);
    const ms = (seconds - (before.get(kind)?.seconds ?? 0)) * 1000;
    if (n > 0) parts.push(`${n} ${kind} pauses, ${ms.toFixed(0)} ms in all (${(ms / n).toFixed(1)} ms each)`);
  }
  return parts.length ? parts.join(', ') : 'none';
}

async function ttftRows(g: Gateway): Promise<void> {
  const users = 50;
  const perUser = Math.max(4, Math.ceil((rate * 4) / users));
  log(`ttft: creating ${users * perUser} threads`);
  const free: { user: string; thread: string }[] = [];
  let nextUser = 0;
  let creates = 0;
  let turnFailures = 0;
  await drive(users * perUser, async () => {
    const user = `bench-${g.run}-ttft-${nextUser++ % users}`;
    free.push({ user, thread: await createThread(g.server.url, user, 'hello') });
  });
  await modelTimings(g.model);

  /**
   * One turn marked for the model; the client's TTFT, or undefined. An add_user_message on an idle
   * thread, or, when every thread is busy (the gateway fell behind), a threads.create of a new one,
   * so that the arrival schedule never waits on the answers.
   */
  type Sample = { marker: string; ttft: number; startedAt: number };
  const turn = async (marker: string): Promise<Sample | undefined> => {
    const slot = free.shift();
    try {
      let result;
      if (slot) {
        result = await addMessage(g.server.url, slot.user, slot.thread, `[bench:${marker}] question`);
      } else {
        creates++;
        const user = `bench-${g.run}-ttft-${creates % users}`;
        result = await streamTurn(g.server.url, user, {
          type: 'threads.create',
          params: { input: userInput(`[bench:${marker}] question`) },
        });
        if (result.error) throw new Error(result.error);
        if (result.threadId) free.push({ user, thread: result.threadId });
      }
      return result.ttftMs === undefined
        ? undefined
        : { marker, ttft: result.ttftMs, startedAt: result.startedAt };
    } catch (error) {
      if (turnFailures++ === 0) log(`ttft ${marker}: ${String(error)}`);
      return undefined;
    } finally {
      if (slot) free.push(slot);
    }
  };
  /** The time added, and of it the part before the model had the request (sorted, ms). */
  const split = (samples: (Sample | undefined)[], timings: ModelTiming[]) => {
    const byMarker = new Map(timings.map((t) => [t.marker, t]));
    const added: number[] = [];
    const beforeModel: number[] = [];
    for (const s of samples) {
      const t = s && byMarker.get(s.marker);
      if (!s || !t) continue;
      added.push(s.ttft - (t.firstDeltaAt - t.receivedAt));
      beforeModel.push(t.receivedAt - s.startedAt);
    }
    return { added: added.sort((a, b) => a - b), beforeModel: beforeModel.sort((a, b) => a - b) };
  };

  // One stream at a time: short answers, the first delta 50 ms after the request.
  await configureModel(g.model, { deltas: 3, deltaDelayMs: 50 });
  for (let i = 0; i < 5; i++) await turn(`warm-${i}`);
  await modelTimings(g.model);
  const turns = 30;
  const single: (Sample | undefined)[] = [];
  for (let i = 0; i < turns; i++) single.push(await turn(`one-${i}`));
  const singleTimings = await modelTimings(g.model, true);
  const { added: one, beforeModel } = split(single, singleTimings);
  // The same client sending the gateway's last model request straight to the fake model: what
  // the client, the loopback and the fake's own parsing add without a gateway in between.
  const last = `one-${turns - 1}`;
  const sent = singleTimings.find((t) => t.marker === last)?.body;
  if (!sent) throw new Error('ttft: the fake model did not record the last single-stream request');
  const direct: (Sample | undefined)[] = [];
  for (let i = 0; i < turns; i++) {
    const marker = `direct-${i}`;
    const body = JSON.parse(
      JSON.stringify(sent).replaceAll(`[bench:${last}]`, `[bench:${marker}]`),
    ) as unknown;
    const result = await streamPost(
      `${g.modelURL}/responses`,
      { Authorization: 'Bearer bench' },
      body,
      '"response.output_text.delta"',
    );
    if (result.error) throw new Error(`ttft: a direct model request failed: ${result.error}`);
    direct.push(
      result.ttftMs === undefined ? undefined : { marker, ttft: result.ttftMs, startedAt: result.startedAt },
    );
  }
  const { added: directAdded } = split(direct, await modelTimings(g.model));
  const clientFloor = percentile(directAdded, 50);
  const net = percentile(one, 50) - clientFloor;
  log(
    `ttft: 1 stream p50 ${ms(percentile(one, 50))} ms over ${one.length} turns as the client sees it; ` +
      `the same request straight to the model ${ms(clientFloor)} ms (${directAdded.length} requests)`,
  );
  rows.push({
    row: 'TTFT added by the gateway, 1 stream — p50 ms (over the same client calling the model directly)',
    value: ms(net, 1),
    target: '≤ 5',
    met: net <= 5,
    notes:
      `${one.length} turns; model first delta 50 ms after the request; as the client sees it ` +
      `${ms(percentile(one, 50), 1)} ms, of which ${ms(percentile(beforeModel, 50), 1)} (p50) before the model had the request; ` +
      `the gateway's last model request sent straight to the fake by the same client: ${ms(clientFloor, 1)} ms (p50 of ${directAdded.length})`,
  });

  // Open loop: arrivals on a schedule whatever the answers do; 40 deltas 50 ms apart each.
  await configureModel(g.model, { deltas: 40, deltaDelayMs: 50 });
  creates = 0;
  turnFailures = 0;
  const arrivals = Math.round(rate * seconds);
  const interval = 1000 / rate;
  let open = 0;
  let maxOpen = 0;
  const lateness: number[] = [];
  const pending: Promise<Sample | undefined>[] = [];
  const gcBefore = await gatewayGc(g.server.url);
  const start = now() + 100;
  for (let i = 0; i < arrivals; i++) {
    const due = start + i * interval;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    lateness.push(now() - due);
    open++;
    maxOpen = Math.max(maxOpen, open);
    pending.push(turn(`ol-${i}`).finally(() => open--));
  }
  const { added: loaded, beforeModel: loadedBefore } = split(
    await Promise.all(pending),
    await modelTimings(g.model),
  );
  const gc = gcSince(gcBefore, await gatewayGc(g.server.url));
  await configureModel(g.model, FAST);
  lateness.sort((a, b) => a - b);
  const note =
    `${loaded.length}/${arrivals} turns measured, up to ${maxOpen} streams open` +
    (creates ? `, ${creates} of them threads.create (no idle thread)` : '') +
    (turnFailures ? `, ${turnFailures} failed` : '') +
    `; arrival lateness p99 ${ms(percentile(lateness, 99), 1)} ms; before the model had the request: ` +
    `p50 ${ms(percentile(loadedBefore, 50), 1)}, p99 ${ms(percentile(loadedBefore, 99), 1)} ms; ` +
    'as the client sees it (the direct-request floor of the row above is not subtracted); ' +
    `the gateway's garbage collection meanwhile: ${gc}`;
  log(
    `ttft: ${rate}/s open loop p50 ${ms(percentile(loaded, 50))} p99 ${ms(percentile(loaded, 99))} ms; ${note}`,
  );
  rows.push(
    {
      row: `TTFT added, ${rate} turns/s open loop for ${seconds} s — p50 ms`,
      value: ms(percentile(loaded, 50), 1),
      target: '≤ 20',
      met: percentile(loaded, 50) <= 20,
      notes: note,
    },
    {
      row: `TTFT added, ${rate} turns/s open loop — p99 ms`,
      value: ms(percentile(loaded, 99), 1),
      target: '≤ 100',
      met: percentile(loaded, 99) <= 100,
      notes: '',
    },
  );
}

/** One streaming threads.create on a raw socket that reads and discards; `delta` once a text delta arrived. */
function stalledStream(url: string, user: string, marker: string) {
  const { port } = new URL(url);
  const body = JSON.stringify({
    type: 'threads.create',
    params: { input: userInput(`[bench:${marker}] stall`) },
  });
  const socket: Socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  const state = { status: '', delta: false, socket };
  let tail = '';
  socket.on('data', (chunk: Buffer) => {
    const text = tail + chunk.toString('latin1');
    if (!state.status) state.status = text.slice(0, text.indexOf('\r\n'));
    if (!state.delta && text.includes('content_part.text_delta')) state.delta = true;
    tail = text.slice(-40);
  });
  socket.write(
    `POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-User-ID: ${user}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return state;
}

async function activeStreams(url: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text().catch(() => '');
  const match = /^\S*chatkit_active_streams(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

async function medianRss(pid: number, window = 2000): Promise<number> {
  const samples: number[] = [];
  for (const until = Date.now() + window; Date.now() < until; await sleep(200))
    samples.push((await memoryOf(pid)).rssBytes);
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function rssRows(g: Gateway): Promise<void> {
  const MB = 1024 * 1024;
  const users = Math.max(1, Math.ceil(streamCount / 10));
  // Warm the path once, then the idle resident set.
  await configureModel(g.model, { ...FAST, stallAfterDeltas: 1 });
  const warm = stalledStream(g.server.url, `bench-${g.run}-s-warm`, 'stall-warm');
  for (let i = 0; i < 100 && !warm.delta; i++) await sleep(100);
  warm.socket.destroy();
  await sleep(2000);
  await modelTimings(g.model);
  const idle = await medianRss(g.server.pid);
  log(`rss: idle ${(idle / MB).toFixed(0)} MB; opening ${streamCount} stalled streams`);
  const peakReset = await resetPeak(g.server.pid);

  const streams: ReturnType<typeof stalledStream>[] = [];
  for (let i = 0; i < streamCount; i++) {
    streams.push(stalledStream(g.server.url, `bench-${g.run}-s-${i % users}`, `stall-${i}`));
    // About 250 new streams a second, so the gateway's database pool is not the thing measured.
    if (i % 25 === 24) await sleep(100);
  }
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && streams.some((s) => !s.delta && !s.socket.destroyed)) await sleep(250);
  const withDelta = streams.filter((s) => s.delta).length;
  const refused = streams.filter((s) => s.status && !s.status.includes(' 200 ')).length;
  const loaded = await medianRss(g.server.pid);
  const peak = peakReset ? (await memoryOf(g.server.pid)).hwmBytes : NaN;
  const gaugeOpen = await activeStreams(g.server.url);
  const modelOpen = await ask(g.model, { type: 'streams' }, 'streams');
  log(
    `rss: ${withDelta}/${streamCount} streams got their delta (${refused} refused); RSS ${(loaded / MB).toFixed(0)} MB; active-streams gauge ${gaugeOpen}`,
  );

  for (const s of streams) s.socket.destroy();
  const disconnectedAt = Date.now();
  let cancelled = false;
  let last: FromFakeModel | undefined;
  let gaugeAfter: number | undefined;
  let modelClosedS: number | undefined;
  // Each cancelled stream still stores its partial answer: give a queue on one connection time.
  for (const until = Date.now() + 120_000; Date.now() < until; await sleep(250)) {
    last = await ask(g.model, { type: 'streams' }, 'streams');
    gaugeAfter = await activeStreams(g.server.url);
    if (last.type === 'streams' && last.open === 0) modelClosedS ??= (Date.now() - disconnectedAt) / 1000;
    if (modelClosedS !== undefined && (gaugeAfter ?? 0) === 0) {
      cancelled = true;
      break;
    }
  }
  const settledS = (Date.now() - disconnectedAt) / 1000;
  await sleep(3000);
  const after = await medianRss(g.server.pid);
  await modelTimings(g.model);
  await configureModel(g.model, FAST);
  const above = (loaded - idle) / MB;
  const closed =
    last?.type === 'streams' ? `${last.closedByGateway} closed by the gateway, ${last.open} still open` : '?';
  const openBefore = modelOpen.type === 'streams' ? modelOpen.open : NaN;
  log(
    `rss: after disconnect: model requests ${closed}; gauge ${gaugeAfter}; RSS ${(after / MB).toFixed(0)} MB`,
  );
  rows.push(
    {
      row: `RSS with ${streamCount} open stalled streams — MB above idle`,
      value: above.toFixed(0),
      target: '≤ 200',
      met: above <= 200 && withDelta === streamCount,
      notes: `fresh gateway: idle ${(idle / MB).toFixed(0)} MB, median while open ${(loaded / MB).toFixed(0)} MB (${((above * 1024) / Math.max(1, withDelta)).toFixed(0)} KB/stream), peak while opening ${((peak - idle) / MB).toFixed(0)} MB above idle, ${withDelta}/${streamCount} streams had their first delta (${refused} refused), ${openBefore} model requests open, gauge ${gaugeOpen}`,
    },
    {
      row: 'all stalled streams cancelled after the clients disconnected',
      value: cancelled ? 'yes' : 'no',
      target: 'yes',
      met: cancelled,
      notes:
        `model requests: ${closed}` +
        (modelClosedS !== undefined
          ? ` (all closed ${modelClosedS.toFixed(1)} s after the disconnect)`
          : '') +
        `; active-streams gauge ${gaugeAfter} ${settledS.toFixed(1)} s after it; RSS ${(after / MB).toFixed(0)} MB 3 s later`,
    },
  );
}

// ------------------------------------------------------------------------------ main

function revision(): string {
  try {
    return execFileSync('git', ['-C', values.root ?? ROOT, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return '?';
  }
}

const nodeArgs = values['node-args']?.split(' ').filter(Boolean) ?? [];

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = loadAverage();
  const wallStart = performance.now();
  log(`load average at start: ${loadStart}`);
  if (values.root) log(`gateway: the build in ${values.root}/dist`);
  else if (!values['skip-build']) {
    log('npm run build');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  }

  const run = Date.now().toString(36);
  const cleanups: (() => Promise<unknown>)[] = [];
  /** The [sql] phase's way to the database: through the round-trip proxy, and its counts. */
  let counted: { databaseUrl: string; counts: () => Promise<RoundTripCounts> } | undefined;
  const env: Record<string, string> = {
    AUTH_DEV_MODE: 'true',
    RATE_LIMIT_ENABLED: 'false',
    CHATKIT_MAX_STREAMS_PER_USER: '0',
    METRICS_ENABLED: 'true',
    OPENAI_API_KEY: 'bench',
    OPENAI_API: 'responses',
    AGENT_MAX_RETRIES: '0',
    RAG_SEED_DOCS: 'false',
    RAG_EMBEDDINGS_MODEL: '',
    // Opening a thousand streams queues on the pool; the bench measures memory, not that wait.
    DATABASE_CONNECT_TIMEOUT_MS: '60000',
  };
  let database: string;
  try {
    if (embedded) {
      delete process.env.DATABASE_URL;
      database = 'embedded PostgreSQL (PGlite, in the gateway process, in memory)';
    } else {
      const admin = new URL(values.pg!);
      const name = `chatkit_turncost_${run}`;
      const client = new Client({ connectionString: admin.toString() });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      cleanups.push(async () => {
        const c = new Client({ connectionString: admin.toString() });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      });
      const url = new URL(admin);
      url.pathname = `/${name}`;
      env.DATABASE_URL = url.toString();
      database = `PostgreSQL server ${admin.host} (fresh database)`;
      if (only.has('sql')) {
        // Only the [sql] phase's own gateway goes through the proxy: a proxy in the path adds a
        // hop and a process to wake per round trip, which the other rows would measure.
        const proxy = await startRoundTripProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
        cleanups.push(() => proxy.stop());
        const proxied = new URL(url);
        proxied.host = `127.0.0.1:${proxy.port}`;
        counted = { databaseUrl: proxied.toString(), counts: proxy.counts };
      }
    }
    log(`database: ${database}`);

    const fake = await startFakeModel({ BENCH_DELTA_DELAY_MS: '0' });
    cleanups.push(async () => {
      fake.child.send({ type: 'stop' } satisfies ToFakeModel);
      await once(fake.child, 'exit');
    });
    await configureModel(fake.child, FAST);
    env.OPENAI_BASE_URL = fake.baseURL;
    /** A gateway on `env` (and `over`), warmed: the code paths loaded and the pool filled once. */
    const startGateway = async (over: Record<string, string> = {}): Promise<RunningServer> => {
      const started = await startServer({ ...env, ...over }, { built: true, root: values.root, nodeArgs });
      await drive(20, (worker, n) =>
        createThread(started.url, `bench-${run}-warm-${worker}`, `warm ${n}`).then(() => undefined),
      );
      return started;
    };
    const server = await startGateway();
    cleanups.push(() => server.stop());
    const g: Gateway = { server, model: fake.child, modelURL: fake.baseURL, run };
    log(`gateway pid ${server.pid} at ${server.url}`);
    await modelTimings(fake.child);
    // Over 5 s: at 100 ticks a second a shorter window is mostly rounding.
    const idleStart = cpuMsOf(server.pid);
    await sleep(5000);
    idleCpuPerS = (cpuMsOf(server.pid) - idleStart) / 5;
    log(`gateway idle CPU ${idleCpuPerS.toFixed(1)} ms/s`);

    if (['floors', 'create', 'add', 'items', 'threads'].some((key) => only.has(key))) await cpuRows(g);
    if (only.has('sql')) {
      if (counted) {
        // A second gateway, on the same database through the round-trip proxy.
        const second = await startGateway({ DATABASE_URL: counted.databaseUrl });
        try {
          await sqlRows({ ...g, server: second }, counted.counts);
        } finally {
          await second.stop();
        }
      } else
        rows.push({
          row: 'SQL round trips per turn',
          value: 'n/a',
          target: '≤ 3 (add)',
          notes: 'embedded database: queries do not cross a socket',
        });
    }
    if (only.has('ttft')) await ttftRows(g);
    if (only.has('rss')) {
      // A fresh process: after the other phases the idle heap still shrinks by more than the
      // streams hold, which would make "above idle" meaningless.
      await server.stop();
      const fresh = await startGateway();
      cleanups.push(() => fresh.stop());
      await rssRows({ ...g, server: fresh });
    }

    const wallS = (performance.now() - wallStart) / 1000;
    const floorsFirst = [
      ...rows.filter((r) => r.row.startsWith('floor')),
      ...rows.filter((r) => !r.row.startsWith('floor')),
    ];
    console.log(
      `Run ${startedAt.toISOString().slice(0, 16)}Z, commit ${revision()}, ${database}; ${ops} ops at ${concurrency} concurrent after ${warmup} warm-up; ` +
        `CLK_TCK ${clockTicks()}; gateway idle CPU ${idleCpuPerS.toFixed(1)} ms/s; load average ${loadStart} at start, ${loadAverage()} at end; ${wallS.toFixed(0)} s.`,
    );
    console.log('');
    console.log('| measure | value | target | met | notes |');
    console.log('|---|---|---|---|---|');
    for (const r of floorsFirst)
      console.log(
        `| ${r.row} | ${r.value} | ${r.target} | ${r.met === undefined ? '—' : r.met ? 'yes' : 'no'} | ${r.notes} |`,
      );
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => log(`cleanup: ${String(error)}`));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
