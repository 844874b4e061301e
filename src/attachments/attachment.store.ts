/**
 * The SQL behind attachment records. Every method a user's request reaches is scoped by
 * (user_id, org_id): another user's attachment is simply "not found". The unscoped lookups exist
 * for the routes whose signature is the authorisation (signed upload and download URLs), for the
 * agent reading a stored message's attachments, and for cleanup; they must never be reachable
 * with an id the caller chose without such proof.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { RequestContext } from 'src/common/request-context';

export type AttachmentStatus = 'pending' | 'ready';

export interface AttachmentRecord {
  id: string;
  userId: string;
  orgId: string;
  threadId: string | null;
  name: string;
  mimeType: string;
  size: number;
  sha256: string | null;
  storageKind: string;
  storageKey: string;
  status: AttachmentStatus;
  createdAt: Date;
  updatedAt: Date;
  readyAt: Date | null;
}

interface AttachmentRow {
  id: string;
  user_id: string;
  org_id: string;
  thread_id: string | null;
  name: string;
  mime_type: string;
  size: string | number;
  sha256: string | null;
  storage_kind: string;
  storage_key: string;
  status: AttachmentStatus;
  created_at: Date;
  updated_at: Date;
  ready_at: Date | null;
}

export interface NewAttachment {
  id: string;
  name: string;
  mimeType: string;
  size: number;
  storageKind: string;
  storageKey: string;
}

export type ExpiredKind = 'pending' | 'unlinked';

/**
 * First key of the advisory locks that serialise quota reservations; the second is a hash of the
 * (user, org) pair. Two-key locks never collide with the one-key migration lock.
 */
const QUOTA_LOCK_CLASS = 7_319_420;

const COLUMNS = `id, user_id, org_id, thread_id, name, mime_type, size, sha256, storage_kind, storage_key,
  status, created_at, updated_at, ready_at`;

@Injectable()
export class AttachmentStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insertPending(
    ctx: RequestContext,
    a: NewAttachment,
    db: Pick<EntityManager, 'query'> = this.dataSource,
  ): Promise<AttachmentRecord> {
    const rows: AttachmentRow[] = await db.query(
      `INSERT INTO attachments (id, user_id, org_id, name, mime_type, size, storage_kind, storage_key, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') RETURNING ${COLUMNS}`,
      [a.id, ctx.userId, ctx.orgId ?? '', a.name, a.mimeType, a.size, a.storageKind, a.storageKey],
    );
    return toRecord(rows[0]);
  }

  /**
   * Inserts a pending record of `sizeFor(used)` bytes, where `used` is what the user already
   * holds, or nothing when `sizeFor` answers null. Reading the usage and inserting happen in one
   * transaction holding a lock on the (user, org) pair, so of two uploads racing for the rest of a
   * quota the second sees the first one's record. The lock is an advisory one because there is no
   * row to lock before a user's first attachment; the database holds it, so replicas take turns too.
   */
  async reservePending(
    ctx: RequestContext,
    a: Omit<NewAttachment, 'size'>,
    sizeFor: (used: number) => number | null,
  ): Promise<{ record: AttachmentRecord | null; used: number }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [
        QUOTA_LOCK_CLASS,
        JSON.stringify([ctx.userId, ctx.orgId ?? '']),
      ]);
      const used = await this.usage(ctx, manager);
      const size = sizeFor(used);
      if (size === null) return { record: null, used };
      return { record: await this.insertPending(ctx, { ...a, size }, manager), used };
    });
  }

  async findOwned(ctx: RequestContext, id: string): Promise<AttachmentRecord | null> {
    const rows: AttachmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM attachments WHERE id = $1 AND user_id = $2 AND org_id = $3`,
      [id, ctx.userId, ctx.orgId ?? ''],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  async findOwnedMany(ctx: RequestContext, ids: string[]): Promise<AttachmentRecord[]> {
    const rows: AttachmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM attachments WHERE id = ANY($1) AND user_id = $2 AND org_id = $3`,
      [ids, ctx.userId, ctx.orgId ?? ''],
    );
    return rows.map(toRecord);
  }

  /** Unscoped: only for callers holding a signature over `id`, or a stored message naming it. */
  async findById(id: string): Promise<AttachmentRecord | null> {
    const rows: AttachmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM attachments WHERE id = $1`,
      [id],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Flips a pending record to ready; null when it was deleted or finished meanwhile. */
  async markReady(
    id: string,
    facts: { size: number; sha256: string; mimeType: string },
  ): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `UPDATE attachments SET status = 'ready', size = $2, sha256 = $3, mime_type = $4,
              ready_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'pending' RETURNING ${COLUMNS}`,
      [id, facts.size, facts.sha256, facts.mimeType],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Bytes the user holds, pending uploads counted at the size they reserved. */
  async usage(ctx: RequestContext, db: Pick<EntityManager, 'query'> = this.dataSource): Promise<number> {
    const rows: Array<{ total: string | number | null }> = await db.query(
      `SELECT COALESCE(SUM(size), 0) AS total FROM attachments WHERE user_id = $1 AND org_id = $2`,
      [ctx.userId, ctx.orgId ?? ''],
    );
    return Number(rows[0]?.total ?? 0);
  }

  async deleteOwned(ctx: RequestContext, id: string): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `DELETE FROM attachments WHERE id = $1 AND user_id = $2 AND org_id = $3 RETURNING ${COLUMNS}`,
      [id, ctx.userId, ctx.orgId ?? ''],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Unscoped delete of one record, optionally only while it is still pending. */
  async deleteById(id: string, onlyPending = false): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `DELETE FROM attachments WHERE id = $1 ${onlyPending ? `AND status = 'pending'` : ''} RETURNING ${COLUMNS}`,
      [id],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /**
   * Stamps the thread on the caller's ready attachments that are unlinked or already on this
   * thread, inside the caller's transaction. Returns the ids it stamped.
   */
  async link(
    ctx: RequestContext,
    threadId: string,
    ids: string[],
    manager: EntityManager,
  ): Promise<Set<string>> {
    const rows = await this.mutate<{ id: string }>(
      manager,
      `UPDATE attachments SET thread_id = $1, updated_at = now()
        WHERE id = ANY($2) AND user_id = $3 AND org_id = $4 AND status = 'ready'
          AND (thread_id IS NULL OR thread_id = $1)
        RETURNING id`,
      [threadId, ids, ctx.userId, ctx.orgId ?? ''],
    );
    return new Set(rows.map((r) => r.id));
  }

  async deleteForThread(ctx: RequestContext, threadId: string): Promise<AttachmentRecord[]> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `DELETE FROM attachments WHERE thread_id = $1 AND user_id = $2 AND org_id = $3 RETURNING ${COLUMNS}`,
      [threadId, ctx.userId, ctx.orgId ?? ''],
    );
    return rows.map(toRecord);
  }

  /**
   * At most `limit`, in id order after the `after` record (keyset): pending uploads or unlinked
   * ready attachments from before `before`.
   */
  async findExpired(
    kind: ExpiredKind,
    before: Date,
    limit: number,
    after?: Pick<AttachmentRecord, 'id'>,
  ): Promise<AttachmentRecord[]> {
    const condition =
      kind === 'pending'
        ? `status = 'pending' AND created_at < $1`
        : `status = 'ready' AND thread_id IS NULL AND COALESCE(ready_at, created_at) < $1`;
    const params: unknown[] = [before, limit];
    let cursor = '';
    // Ids sort in creation order and, unlike a timestamp read back into a JS Date, exactly.
    if (after) {
      params.push(after.id);
      cursor = 'AND id > $3';
    }
    const rows: AttachmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM attachments WHERE ${condition} ${cursor} ORDER BY id LIMIT $2`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Deletes one expired record unless it changed since it was found (uploaded, linked). */
  async deleteIfExpired(kind: ExpiredKind, id: string, before: Date): Promise<boolean> {
    const rows = await this.mutate<{ id: string }>(
      this.dataSource,
      kind === 'pending'
        ? `DELETE FROM attachments WHERE id = $1 AND status = 'pending' AND created_at < $2 RETURNING id`
        : `DELETE FROM attachments WHERE id = $1 AND status = 'ready' AND thread_id IS NULL
             AND COALESCE(ready_at, created_at) < $2 RETURNING id`,
      [id, before],
    );
    return rows.length > 0;
  }

  /**
   * TypeORM answers an UPDATE or DELETE with `[rows, rowCount]` instead of the rows; this gives
   * the RETURNING rows whichever shape comes back.
   */
  private async mutate<T>(db: Pick<EntityManager, 'query'>, sql: string, params: unknown[]): Promise<T[]> {
    const result: unknown = await db.query(sql, params);
    if (
      Array.isArray(result) &&
      result.length === 2 &&
      Array.isArray(result[0]) &&
      typeof result[1] === 'number'
    ) {
      return result[0] as T[];
    }
    return result as T[];
  }

  /** Which of these ids still have a record. */
  async existingIds(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM attachments WHERE id = ANY($1)`,
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }
}

function toRecord(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    userId: row.user_id,
    orgId: row.org_id,
    threadId: row.thread_id,
    name: row.name,
    mimeType: row.mime_type,
    size: Number(row.size),
    sha256: row.sha256 ? row.sha256.trim() : null,
    storageKind: row.storage_kind,
    storageKey: row.storage_key,
    status: row.status,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    readyAt: row.ready_at ? new Date(row.ready_at) : null,
  };
}
