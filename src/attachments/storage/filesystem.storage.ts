/**
 * Attachment bytes as files under one root directory. A key maps to a path below the root and
 * nothing else: unsafe keys are refused, never cleaned up into something else. Uploads land in a
 * temp file that is synced and renamed into place, so readers never see a half-written file and a
 * failed upload leaves nothing behind. Suited to a single host or a shared volume, not to replicas
 * with separate disks.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, opendir, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AttachmentStorageError,
  AttachmentStorageErrorCode,
  assertSafeKey,
  assertSafePrefix,
  assertValidRange,
  isSafeKey,
  type AttachmentStorage,
  type ByteRange,
  type PutObjectOptions,
  type PutObjectResult,
  type StoredObjectInfo,
} from 'src/attachments/storage/attachment-storage';
import { HashingLimitStream } from 'src/attachments/storage/hashing.stream';

export interface FilesystemStorageOptions {
  /** Directory that holds every object; created on first write. */
  root: string;
}

// Dot-names are not valid key segments, so this directory can never collide with a key.
const TEMP_DIR = '.incoming';

export class FilesystemAttachmentStorage implements AttachmentStorage {
  readonly kind = 'filesystem' as const;
  private readonly root: string;

  constructor(opts: FilesystemStorageOptions) {
    if (!opts.root) throw new Error('FilesystemAttachmentStorage needs a root directory');
    this.root = resolve(opts.root);
  }

  async put(key: string, body: Readable, opts: PutObjectOptions): Promise<PutObjectResult> {
    const target = this.pathFor(key);
    const limits = { maxBytes: opts.maxBytes, expectedSize: opts.size };
    HashingLimitStream.checkAnnouncedSize(limits);
    const hasher = new HashingLimitStream(limits);

    const tempDir = join(this.root, TEMP_DIR);
    await mkdir(tempDir, { recursive: true });
    const temp = join(tempDir, `${randomUUID()}.part`);
    try {
      // `flush` syncs the file before it is closed, so a crash after the rename cannot publish a
      // file whose bytes never reached the disk.
      await pipeline(body, hasher, createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true }));
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      return hasher.result();
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathFor(key);
    if (range) assertValidRange(range);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw isMissing(err) ? notFound() : err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notFound();
      if (!range) return handle.createReadStream();
      if (range.start >= info.size) {
        throw new AttachmentStorageError(
          AttachmentStorageErrorCode.RangeNotSatisfiable,
          'range starts past the end',
        );
      }
      return handle.createReadStream({ start: range.start, end: Math.min(range.end, info.size - 1) });
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    try {
      const info = await stat(this.pathFor(key));
      return info.isFile() ? { size: info.size, lastModified: info.mtime } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathFor(key);
    try {
      await unlink(path);
    } catch (err) {
      if (isMissing(err)) return;
      // A directory is where other keys live, not an object: nothing to delete under this key.
      if (hasCode(err, 'EISDIR') || hasCode(err, 'EPERM')) {
        const info = await stat(path).catch(() => null);
        if (info?.isDirectory()) return;
      }
      throw err;
    }
    // Empty parent directories are left in place: removing them would race a concurrent put
    // that has just created the same directory and is about to rename into it.
  }

  async *list(prefix = ''): AsyncIterable<string> {
    assertSafePrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix);
  }

  /** Removes upload temp files older than `olderThanMs` that a crashed process left behind. */
  async sweepTemp(olderThanMs: number, now: Date = new Date()): Promise<number> {
    const tempDir = join(this.root, TEMP_DIR);
    let names: string[];
    try {
      names = await readdir(tempDir);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(tempDir, name);
      const info = await stat(path).catch(() => null);
      if (info && now.getTime() - info.mtimeMs > olderThanMs) {
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  private async *walk(relDir: string, prefix: string): AsyncGenerator<string> {
    let dir;
    try {
      dir = await opendir(relDir ? join(this.root, ...relDir.split('/')) : this.root);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for await (const entry of dir) {
      if (entry.name.startsWith('.')) continue;
      const key = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (!isSafeKey(key)) continue;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        yield key;
      }
    }
  }

  private pathFor(key: string): string {
    assertSafeKey(key);
    const path = join(this.root, ...key.split('/'));
    // The key rules already forbid escaping; this second check guards against a future rule change.
    if (!path.startsWith(this.root + sep)) {
      throw new AttachmentStorageError(AttachmentStorageErrorCode.InvalidKey, 'invalid storage key');
    }
    return path;
  }
}

function notFound(): AttachmentStorageError {
  return new AttachmentStorageError(AttachmentStorageErrorCode.NotFound, 'attachment bytes not found');
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function isMissing(err: unknown): boolean {
  return hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR');
}
