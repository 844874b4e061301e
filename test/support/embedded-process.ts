/** Starts test/support/embedded-server.ts as a child process and waits for its URL. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface EmbeddedProcess {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedProcess(dataDir = 'memory://'): Promise<EmbeddedProcess> {
  const root = join(__dirname, '..', '..');
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      'test/support/embedded-server.ts',
      dataDir,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited (${code}): ${out}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
