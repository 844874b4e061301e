/**
 * A TCP proxy in front of PostgreSQL that counts the client's round trips, run as its own process
 * (forked, IPC only) so its work shows in neither the gateway's CPU time nor the load generator's
 * event loop. It parses the frontend side of the wire protocol: after the untyped start-up packet
 * (and an SSL or GSS encryption request before it, answered with one byte), every message is a type
 * byte and a 32-bit length. A simple-protocol Query ('Q') waits for the server's answer, and so
 * does an extended-protocol Sync ('S'): each is one round trip. Parse/Bind/Execute before a Sync
 * travel together and are not counted on their own.
 *
 * Messages: parent → `{ type: 'counts' }`, child → `{ type: 'ready', port }` then
 * `{ type: 'counts', queries, syncs }` (totals since start). Listens on 127.0.0.1 only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface RoundTripCounts {
  queries: number;
  syncs: number;
}

type FromProxy = { type: 'ready'; port: number } | ({ type: 'counts' } & RoundTripCounts);

const ROOT = join(__dirname, '..', '..');
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Frontend message framing; `feed` takes the client's bytes in whatever pieces TCP delivers. */
export class FrontendCounter implements RoundTripCounts {
  queries = 0;
  syncs = 0;
  private pending = Buffer.alloc(0);
  /** Bytes of the current message body still to come (not buffered: only their count matters). */
  private skip = 0;
  private startup = true;

  feed(chunk: Buffer): void {
    let data = chunk;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    let buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    for (;;) {
      let total: number;
      if (this.startup) {
        if (buf.length < 8) break;
        total = buf.readInt32BE(0);
        const code = buf.readInt32BE(4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.startup = false;
      } else {
        if (buf.length < 5) break;
        const type = String.fromCharCode(buf[0]);
        total = 1 + buf.readInt32BE(1);
        if (type === 'Q') this.queries++;
        else if (type === 'S') this.syncs++;
      }
      if (buf.length >= total) {
        buf = buf.subarray(total);
      } else {
        this.skip = total - buf.length;
        buf = Buffer.alloc(0);
        break;
      }
    }
    this.pending = Buffer.from(buf);
  }
}

/** Forks the proxy in front of `target` (host:port); resolves with its port and a way to read counts. */
export async function startRoundTripProxy(target: { host: string; port: number }): Promise<{
  child: ChildProcess;
  port: number;
  counts(): Promise<RoundTripCounts>;
  stop(): Promise<void>;
}> {
  const child = fork(__filename, [target.host, String(target.port)], {
    cwd: ROOT,
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = (): boolean => child.kill('SIGKILL');
  process.once('exit', kill);
  const [ready] = (await once(child, 'message')) as [FromProxy];
  if (ready.type !== 'ready') throw new Error('round-trip proxy did not start');
  return {
    child,
    port: ready.port,
    counts: () =>
      new Promise((resolve) => {
        const onMessage = (message: FromProxy): void => {
          if (message.type !== 'counts') return;
          child.off('message', onMessage);
          resolve({ queries: message.queries, syncs: message.syncs });
        };
        child.on('message', onMessage);
        child.send({ type: 'counts' });
      }),
    stop: async () => {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function serve(host: string, port: number): Promise<void> {
  const totals: RoundTripCounts = { queries: 0, syncs: 0 };
  const counters = new Set<FrontendCounter>();
  const server = createServer((client) => {
    const counter = new FrontendCounter();
    counters.add(counter);
    const upstream = connect(port, host);
    client.on('data', (chunk: Buffer) => counter.feed(chunk));
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      if (counters.delete(counter)) {
        totals.queries += counter.queries;
        totals.syncs += counter.syncs;
      }
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'counts') return;
    const counts = { ...totals };
    for (const c of counters) {
      counts.queries += c.queries;
      counts.syncs += c.syncs;
    }
    process.send!({ type: 'counts', ...counts } satisfies FromProxy);
  });
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies FromProxy);
}

if (require.main === module) void serve(process.argv[2], Number(process.argv[3]));
