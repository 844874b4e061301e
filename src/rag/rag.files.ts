/**
 * Finds the files to ingest under a list of files and folders, for the ingest CLI and the docs
 * seeder. Folders are walked recursively for the formats the extractors read; a file named
 * explicitly is always taken (the extractor decides whether it can read it). Sources are paths
 * relative to the working directory with forward slashes, so the same file keeps the same source
 * (and its dedup key) whichever machine ingests it.
 *
 * It only reads directory listings; it must never read file contents or follow symlinked folders.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';

export const INGESTIBLE_EXTENSIONS = new Set([
  'md',
  'markdown',
  'mdown',
  'mkd',
  'txt',
  'text',
  'html',
  'htm',
  'xhtml',
  'pdf',
]);

const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'coverage']);

export interface FoundFile {
  /** Absolute path. */
  path: string;
  /** Relative to `cwd`, with forward slashes; absolute when outside it. */
  source: string;
}

export class MissingPathError extends Error {
  constructor(readonly path: string) {
    super(`no such file or folder: ${path}`);
    this.name = 'MissingPathError';
  }
}

export async function collectFiles(paths: readonly string[], cwd = process.cwd()): Promise<FoundFile[]> {
  const found = new Map<string, FoundFile>();
  for (const given of paths) {
    const absolute = resolve(cwd, given);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new MissingPathError(given);
    if (info.isDirectory()) {
      for (const path of await walk(absolute)) found.set(path, { path, source: sourceFor(path, cwd) });
    } else {
      found.set(absolute, { path: absolute, source: sourceFor(absolute, cwd) });
    }
  }
  return [...found.values()].sort((a, b) => a.source.localeCompare(b.source));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_FOLDERS.has(entry.name)) out.push(...(await walk(path)));
    } else if (
      entry.isFile() ||
      (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile())
    ) {
      const dot = entry.name.lastIndexOf('.');
      if (dot > 0 && INGESTIBLE_EXTENSIONS.has(entry.name.slice(dot + 1).toLowerCase())) out.push(path);
    }
  }
  return out;
}

function sourceFor(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  if (rel === '' || rel.startsWith('..')) return path.split(sep).join('/');
  return rel.split(sep).join('/');
}
