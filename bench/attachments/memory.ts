/**
 * Memory of the server while it takes in and sends out one large attachment, against its own idle
 * baseline in the same run. The server runs as a child process (see server.ts); its resident set
 * is read from /proc (Linux) every 20 ms and its V8 heap from /metrics. The upload streams a
 * multipart body from disk, the download is read and discarded as it arrives, so the client never
 * holds the file either.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/attachments/memory.ts \
 *     [--storage filesystem|postgres|s3] [--mb 50] [--built]
 *
 * With the filesystem (or S3) driver, peak RSS should stay within a small constant of the idle
 * baseline whatever the file size; the PostgreSQL driver holds the whole file, by design.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { memoryOf, startServer, type RunningServer } from './server';

const MiB = 1024 * 1024;

interface Peak {
  rssBytes: number;
  heapBytes: number;
  /** RSS when the phase began: after an upload the allocator may keep what it grew by. */
  rssAtStartBytes?: number;
}

async function rssOf(pid: number): Promise<number> {
  return (await memoryOf(pid)).rssBytes;
}

async function heapOf(server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = /^\S*nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

/** Samples RSS (fast) and heap (slower, it costs a request) until `work` settles. */
async function measure<T>(server: RunningServer, work: () => Promise<T>): Promise<{ result: T; peak: Peak }> {
  const rssAtStartBytes = await rssOf(server.pid);
  const peak: Peak = { rssBytes: rssAtStartBytes, heapBytes: 0, rssAtStartBytes };
  let done = false;
  const rssLoop = (async () => {
    while (!done) {
      peak.rssBytes = Math.max(peak.rssBytes, await rssOf(server.pid));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const heapLoop = (async () => {
    while (!done) {
      const heap = await heapOf(server).catch(() => NaN);
      if (Number.isFinite(heap)) peak.heapBytes = Math.max(peak.heapBytes, heap);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const result = await work();
    return { result, peak };
  } finally {
    done = true;
    await Promise.all([rssLoop, heapLoop]);
  }
}

async function idleBaseline(server: RunningServer, ms: number): Promise<Peak> {
  const rss: number[] = [];
  const heap: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    rss.push(await rssOf(server.pid));
    heap.push(await heapOf(server));
    await new Promise((r) => setTimeout(r, 100));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { rssBytes: median(rss), heapBytes: median(heap) };
}

/** A multipart/form-data body streamed from a file, with its exact length. */
function multipartFrom(path: string, size: number, name: string, type: string) {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = new PassThrough();
  body.write(head);
  const file = createReadStream(path);
  file.pipe(body, { end: false });
  file.on('end', () => body.end(tail));
  file.on('error', (err) => body.destroy(err));
  return {
    body: Readable.toWeb(body) as unknown as ReadableStream,
    length: head.length + size + tail.length,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

async function writeTextFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  let left = bytes;
  async function* chunks() {
    while (left > 0) {
      const n = Math.min(MiB, left);
      const chunk = Buffer.from(
        randomBytes(Math.ceil(n / 2))
          .toString('hex')
          .slice(0, n),
      );
      hash.update(chunk);
      left -= n;
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return hash.digest('hex');
}

const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      storage: { type: 'string', default: 'filesystem' },
      mb: { type: 'string', default: '50' },
      built: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.mb) * MiB;
  const dir = await mkdtemp(join(tmpdir(), 'ckg-att-bench-'));
  const filePath = join(dir, 'payload.txt');
  const sha = await writeTextFile(filePath, size);
  const server = await startServer(
    {
      ATTACHMENTS_STORAGE: values.storage!,
      ATTACHMENTS_DIR: join(dir, 'store'),
      CHATKIT_ATTACHMENT_MAX_MB: String(Number(values.mb) + 8),
      ATTACHMENTS_USER_QUOTA_MB: '0',
      ATTACHMENTS_CLEANUP_INTERVAL_S: '0',
      RATE_LIMIT_ENABLED: 'false',
    },
    { built: values.built },
  );
  const headers = { 'X-User-ID': 'bench-user' };
  try {
    // Warm the code paths once so the baseline is a warmed-up idle server.
    const warm = new FormData();
    warm.append('file', new Blob(['warm up\n'], { type: 'text/plain' }), 'warm.txt');
    const warmed = (await (
      await fetch(`${server.url}/chatkit/attachments`, { method: 'POST', headers, body: warm })
    ).json()) as { id: string };
    await (await fetch(`${server.url}/chatkit/attachments/${warmed.id}`, { headers })).arrayBuffer();
    await new Promise((r) => setTimeout(r, 1000));

    const baseline = await idleBaseline(server, 2000);

    const upload = await measure(server, async () => {
      const multipart = multipartFrom(filePath, size, 'payload.txt', 'text/plain');
      const res = await fetch(`${server.url}/chatkit/attachments`, {
        method: 'POST',
        headers: {
          ...headers,
          'Content-Type': multipart.contentType,
          'Content-Length': String(multipart.length),
        },
        body: multipart.body,
        duplex: 'half',
      } as RequestInit);
      const json = (await res.json()) as { id?: string };
      if (res.status !== 200 || !json.id)
        throw new Error(`upload failed: ${res.status} ${JSON.stringify(json)}`);
      return json.id;
    });
    await new Promise((r) => setTimeout(r, 500));

    const download = await measure(server, async () => {
      const res = await fetch(`${server.url}/chatkit/attachments/${upload.result}`, { headers });
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        bytes += chunk.length;
      }
      return { bytes, sha: hash.digest('hex') };
    });
    if (download.result.sha !== sha) throw new Error('downloaded bytes differ from the uploaded file');

    const report = {
      storage: values.storage,
      fileBytes: size,
      baseline,
      upload: upload.peak,
      download: download.peak,
      ratios: {
        uploadRss: +(upload.peak.rssBytes / baseline.rssBytes).toFixed(2),
        downloadRss: +(download.peak.rssBytes / baseline.rssBytes).toFixed(2),
        uploadHeap: +(upload.peak.heapBytes / baseline.heapBytes).toFixed(2),
        downloadHeap: +(download.peak.heapBytes / baseline.heapBytes).toFixed(2),
      },
    };
    console.log(`storage ${values.storage}, file ${mb(size)} (sha256 verified)`);
    console.log(
      `             RSS peak       (+ over idle)   (+ over phase start)   heap peak      (+ over idle)`,
    );
    console.log(
      `idle         ${mb(baseline.rssBytes).padEnd(14)} -               -                      ${mb(baseline.heapBytes)}`,
    );
    for (const [label, peak] of [
      ['upload', upload.peak],
      ['download', download.peak],
    ] as const) {
      console.log(
        `${label.padEnd(12)} ${mb(peak.rssBytes).padEnd(14)} ${('+' + mb(peak.rssBytes - baseline.rssBytes)).padEnd(15)} ${('+' + mb(peak.rssBytes - peak.rssAtStartBytes!)).padEnd(22)} ${mb(peak.heapBytes).padEnd(14)} ${mb(peak.heapBytes - baseline.heapBytes)}`,
      );
    }
    console.log(JSON.stringify(report));
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).stack ?? String(err));
  process.exit(1);
});
