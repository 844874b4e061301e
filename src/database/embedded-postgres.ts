/**
 * The embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly, with pgvector) served on a
 * loopback socket so the ordinary `pg` driver and TypeORM can talk to it. Used whenever
 * DATABASE_URL is not set, so a fresh checkout runs with nothing installed.
 *
 * It must never accept more than one client connection: PGlite is a single backend session, and
 * interleaving transactions from several connections corrupts results.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** A directory, or `memory://` for a throw-away database. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
}

export class EmbeddedPostgres {
  private db?: PGlite;
  private server?: PGLiteSocketServer;
  private url?: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  get connectionUrl(): string {
    if (!this.url) throw new Error('embedded PostgreSQL is not running');
    return this.url;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<string> {
    if (this.url) return this.url;
    // Loaded lazily: the WebAssembly module is large and not needed when a real server is used.
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const dataDir = this.options.dataDir.startsWith('memory://')
      ? this.options.dataDir
      : ensureDir(resolve(this.options.dataDir));
    this.db = await PGlite.create({ dataDir, extensions: { vector } });
    this.server = new PGLiteSocketServer({
      db: this.db,
      host: '127.0.0.1',
      port: this.options.port ?? 0,
      maxConnections: 1,
    });
    await this.server.start();
    this.url = `postgres://postgres@${this.server.getServerConn()}/postgres`;
    return this.url;
  }

  async stop(): Promise<void> {
    const { server, db } = this;
    this.server = undefined;
    this.db = undefined;
    this.url = undefined;
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
  }
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
