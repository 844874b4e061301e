/**
 * A gateway replica for the multi-replica suite: the real server (src/main.ts) in its own process,
 * on a free loopback port, with development login (X-User-ID), so that several of them can share
 * one PostgreSQL server and one Redis exactly as pods do, and a test can stop one the way
 * Kubernetes does (SIGTERM) or the way a node failure does (SIGKILL).
 *
 * It must never outlive the test process: every replica is killed when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface Replica {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  /** Resolves when the process has exited, with how it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const ROOT = join(__dirname, '..', '..');
const LISTENING = /listening on http:\/\/[^:\s]+:(\d+)/;
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startReplica(
  name: string,
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'src/main.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: '0',
        AUTH_DEV_MODE: 'true',
        LOG_LEVEL: 'warn',
        TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`replica ${name} did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = () => {
      const m = LISTENING.exec(output);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`replica ${name} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  // Listening is not ready: wait until it answers for its database too.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await fetch(`${url}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`replica ${name} never became ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    name,
    url,
    pid: child.pid!,
    output: () => output,
    exited,
    signal: (signal) => child.kill(signal),
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
