import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import {
  AttachmentStorageErrorCode,
  type AttachmentStorage,
} from 'src/attachments/storage/attachment-storage';
import { FilesystemAttachmentStorage } from 'src/attachments/storage/filesystem.storage';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

/** Emits `total` bytes in 64 KiB chunks and records how much of itself was read. */
function generated(total: number): Readable & { produced: () => number } {
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, total - produced);
      produced += n;
      this.push(Buffer.alloc(n, 7));
    },
  });
  return Object.assign(stream, { produced: () => produced });
}

/** Recursively lists every file (including temp files) under `dir`. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('FilesystemAttachmentStorage', () => {
  let root: string;
  let storage: FilesystemAttachmentStorage;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ckg-fs-storage-'));
    storage = new FilesystemAttachmentStorage({ root: join(root, 'objects') });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is an AttachmentStorage of kind filesystem', () => {
    const asInterface: AttachmentStorage = storage;
    expect(asInterface.kind).toBe('filesystem');
  });

  it('stores a streamed body and reports its size and SHA-256', async () => {
    const body = randomBytes(300_000);
    const result = await storage.put(
      'user_1/atc_abc',
      Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
      {
        contentType: 'application/pdf',
        maxBytes: 1_000_000,
      },
    );
    expect(result).toEqual({ size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect((await readAll(await storage.get('user_1/atc_abc'))).equals(body)).toBe(true);
    expect(await storage.stat('user_1/atc_abc')).toMatchObject({ size: body.length });
    // Only the object itself is left: no temp file.
    expect(await allFiles(join(root, 'objects'))).toEqual([join(root, 'objects', 'user_1', 'atc_abc')]);
  });

  it('accepts a body that matches its announced size, including an empty one', async () => {
    await expect(
      storage.put('exact', Readable.from([Buffer.from('hello')]), {
        size: 5,
        contentType: 'text/plain',
        maxBytes: 10,
      }),
    ).resolves.toMatchObject({ size: 5 });
    await expect(
      storage.put('empty', Readable.from([]), { size: 0, contentType: 'text/plain', maxBytes: 10 }),
    ).resolves.toEqual({ size: 0, sha256: createHash('sha256').digest('hex') });
    expect(await text(await storage.get('empty'))).toBe('');
  });

  it('replaces an existing object only when the new one is complete', async () => {
    await storage.put('doc', Readable.from([Buffer.from('version one')]), {
      contentType: 'text/plain',
      maxBytes: 100,
    });
    await expect(
      storage.put('doc', generated(500), { contentType: 'text/plain', maxBytes: 100 }),
    ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.TooLarge });
    expect(await text(await storage.get('doc'))).toBe('version one');
    await storage.put('doc', Readable.from([Buffer.from('version two')]), {
      contentType: 'text/plain',
      maxBytes: 100,
    });
    expect(await text(await storage.get('doc'))).toBe('version two');
  });

  it('stops reading as soon as the limit is passed and leaves nothing behind', async () => {
    const body = generated(50 * 1024 * 1024);
    await expect(
      storage.put('big/atc_1', body, { contentType: 'application/pdf', maxBytes: 1024 * 1024 }),
    ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.TooLarge });
    expect(body.produced()).toBeLessThan(4 * 1024 * 1024);
    expect(await storage.stat('big/atc_1')).toBeNull();
    expect(await allFiles(join(root, 'objects'))).toEqual([]);
  });

  it('refuses an announced size over the limit without reading the body', async () => {
    const body = generated(1000);
    await expect(
      storage.put('atc_2', body, { size: 2000, contentType: 'text/plain', maxBytes: 1500 }),
    ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.TooLarge });
    expect(body.produced()).toBe(0);
    body.destroy();
  });

  it('refuses a body shorter or longer than announced and keeps nothing', async () => {
    await expect(
      storage.put('short', Readable.from([Buffer.from('abc')]), {
        size: 10,
        contentType: 'text/plain',
        maxBytes: 100,
      }),
    ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.SizeMismatch });
    await expect(
      storage.put('long', Readable.from([Buffer.from('abcdefghijkl')]), {
        size: 10,
        contentType: 'text/plain',
        maxBytes: 100,
      }),
    ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.SizeMismatch });
    expect(await collect(storage.list())).toEqual([]);
    expect(await allFiles(join(root, 'objects'))).toEqual([]);
  });

  it('cleans up when the client stream fails mid-upload', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000, 1));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(
      storage.put('aborted', failing, { contentType: 'text/plain', maxBytes: 100_000 }),
    ).rejects.toThrow('client went away');
    expect(await allFiles(join(root, 'objects'))).toEqual([]);
  });

  it('serves inclusive byte ranges and clamps the end to the file', async () => {
    await storage.put('r', Readable.from([Buffer.from('0123456789')]), {
      contentType: 'text/plain',
      maxBytes: 100,
    });
    expect(await text(await storage.get('r', { start: 2, end: 5 }))).toBe('2345');
    expect(await text(await storage.get('r', { start: 9, end: 9 }))).toBe('9');
    expect(await text(await storage.get('r', { start: 7, end: 500 }))).toBe('789');
    await expect(storage.get('r', { start: 10, end: 12 })).rejects.toMatchObject({
      code: AttachmentStorageErrorCode.RangeNotSatisfiable,
    });
    await expect(storage.get('r', { start: 5, end: 2 })).rejects.toMatchObject({
      code: AttachmentStorageErrorCode.RangeNotSatisfiable,
    });
  });

  it('reports missing objects as not_found / null, and deletes idempotently', async () => {
    await expect(storage.get('nope')).rejects.toMatchObject({ code: AttachmentStorageErrorCode.NotFound });
    expect(await storage.stat('nope')).toBeNull();
    await storage.put('a/b', Readable.from([Buffer.from('x')]), { contentType: 'text/plain', maxBytes: 10 });
    // A directory is not an object.
    await expect(storage.get('a')).rejects.toMatchObject({ code: AttachmentStorageErrorCode.NotFound });
    expect(await storage.stat('a')).toBeNull();
    await expect(storage.delete('a')).resolves.toBeUndefined();
    await storage.delete('a/b');
    await storage.delete('a/b');
    expect(await storage.stat('a/b')).toBeNull();
    await expect(storage.get('a/b')).rejects.toMatchObject({ code: AttachmentStorageErrorCode.NotFound });
  });

  it('lists keys recursively and by prefix, never temp files or foreign names', async () => {
    const put = (key: string) =>
      storage.put(key, Readable.from([Buffer.from(key)]), { contentType: 'text/plain', maxBytes: 100 });
    await put('u1/atc_a');
    await put('u1/atc_b');
    await put('u1/deep/atc_c');
    await put('u2/atc_d');
    await put('top');
    await writeFile(join(root, 'objects', 'u1', 'bad name!'), 'x');
    await writeFile(join(root, 'objects', '.incoming', 'leftover.part'), 'x');

    expect(await collect(storage.list())).toEqual([
      'top',
      'u1/atc_a',
      'u1/atc_b',
      'u1/deep/atc_c',
      'u2/atc_d',
    ]);
    expect(await collect(storage.list('u1/'))).toEqual(['u1/atc_a', 'u1/atc_b', 'u1/deep/atc_c']);
    expect(await collect(storage.list('u1/atc_'))).toEqual(['u1/atc_a', 'u1/atc_b']);
    expect(await collect(storage.list('u'))).toEqual(['u1/atc_a', 'u1/atc_b', 'u1/deep/atc_c', 'u2/atc_d']);
    expect(await collect(storage.list('missing/'))).toEqual([]);
  });

  it('lists nothing before the first write', async () => {
    expect(await collect(storage.list())).toEqual([]);
  });

  it('refuses keys that could escape the root or hide files', async () => {
    const outside = join(root, 'outside.txt');
    await writeFile(outside, 'secret');
    const bad = [
      '../outside.txt',
      'a/../../outside.txt',
      '/etc/passwd',
      'a//b',
      'a/',
      '.incoming/x',
      '.hidden',
      'a\\b',
      'a b',
      'ü',
      '',
      'x'.repeat(600),
    ];
    for (const key of bad) {
      await expect(
        storage.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain', maxBytes: 10 }),
      ).rejects.toMatchObject({ code: AttachmentStorageErrorCode.InvalidKey });
      await expect(storage.get(key)).rejects.toMatchObject({ code: AttachmentStorageErrorCode.InvalidKey });
      await expect(storage.stat(key)).rejects.toMatchObject({ code: AttachmentStorageErrorCode.InvalidKey });
      await expect(storage.delete(key)).rejects.toMatchObject({
        code: AttachmentStorageErrorCode.InvalidKey,
      });
    }
    await expect(collect(storage.list('../'))).rejects.toMatchObject({
      code: AttachmentStorageErrorCode.InvalidKey,
    });
    expect((await stat(outside)).size).toBe(6);
  });

  it('does not follow a symlinked directory out of the root when listing', async () => {
    await storage.put('own', Readable.from([Buffer.from('x')]), { contentType: 'text/plain', maxBytes: 10 });
    await writeFile(join(root, 'elsewhere.txt'), 'x');
    await symlink(root, join(root, 'objects', 'link'));
    expect(await collect(storage.list())).toEqual(['own']);
  });

  it('removes stale upload temp files only', async () => {
    await storage.put('keep', Readable.from([Buffer.from('x')]), { contentType: 'text/plain', maxBytes: 10 });
    const stale = join(root, 'objects', '.incoming', 'stale.part');
    const fresh = join(root, 'objects', '.incoming', 'fresh.part');
    await writeFile(stale, 'x');
    await writeFile(fresh, 'x');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(stale, hourAgo, hourAgo);
    expect(await storage.sweepTemp(600_000)).toBe(1);
    expect((await readdir(join(root, 'objects', '.incoming'))).sort()).toEqual(['fresh.part']);
    expect(await collect(storage.list())).toEqual(['keep']);
  });
});
