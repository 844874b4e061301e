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

/**
 * `pending`: waiting for its bytes; `uploading`: one request holds the claim to send them (see
 * `claimUpload`); `ready`: stored and checked.
 */
export type AttachmentStatus = 'pending' | 'uploading' | 'ready';

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

  /**
   * Claims a two-phase upload for one request and gives its bytes a key of their own: a pending
   * record, or one whose claim was taken more than `staleAfterS` seconds ago (its process died
   * mid-upload), becomes `uploading` with `storageKey`. Null when the record is gone, ready, or
   * claimed by a live upload. A request that lost its claim to a newer one can then only ever
   * touch its own key, never the bytes of the upload that replaced it.
   */
  async claimUpload(id: string, storageKey: string, staleAfterS: number): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `UPDATE attachments SET status = 'uploading', storage_key = $2, updated_at = now()
        WHERE id = $1 AND (status = 'pending'
          OR (status = 'uploading' AND updated_at < now() - make_interval(secs => $3)))
        RETURNING ${COLUMNS}`,
      [id, storageKey, staleAfterS],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Gives a claimed upload back (it failed and may be sent again); false when the claim was lost. */
  async releaseUpload(record: Pick<AttachmentRecord, 'id' | 'storageKey'>): Promise<boolean> {
    const rows = await this.mutate<{ id: string }>(
      this.dataSource,
      `UPDATE attachments SET status = 'pending', updated_at = now()
        WHERE id = $1 AND status = 'uploading' AND storage_key = $2 RETURNING id`,
      [record.id, record.storageKey],
    );
    return rows.length > 0;
  }

  /**
   * Flips an unfinished record whose bytes are at `storageKey` to ready; null when it was
   * deleted, finished or claimed by another upload meanwhile.
   */
  async markReady(
    record: Pick<AttachmentRecord, 'id' | 'storageKey'>,
    facts: { size: number; sha256: string; mimeType: string },
  ): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      `UPDATE attachments SET status = 'ready', size = $3, sha256 = $4, mime_type = $5,
              ready_at = now(), updated_at = now()
        WHERE id = $1 AND storage_key = $2 AND status IN ('pending', 'uploading') RETURNING ${COLUMNS}`,
      [record.id, record.storageKey, facts.size, facts.sha256, facts.mimeType],
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

  /** Unscoped delete of one record, optionally only while it is unfinished with its bytes at `storageKey`. */
  async deleteById(
    id: string,
    unfinished?: Pick<AttachmentRecord, 'storageKey'>,
  ): Promise<AttachmentRecord | null> {
    const rows = await this.mutate<AttachmentRow>(
      this.dataSource,
      unfinished
        ? `DELETE FROM attachments WHERE id = $1 AND status IN ('pending', 'uploading') AND storage_key = $2
           RETURNING ${COLUMNS}`
        : `DELETE FROM attachments WHERE id = $1 RETURNING ${COLUMNS}`,
      unfinished ? [id, unfinished.storageKey] : [id],
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
   * At most `limit`, in id order after the `after` record (keyset): unfinished uploads or unlinked
   * ready attachments from before `before`, of one org when `orgId` is given.
   */
  async findExpired(
    kind: ExpiredKind,
    before: Date,
    limit: number,
    after?: Pick<AttachmentRecord, 'id'>,
    orgId?: string,
  ): Promise<AttachmentRecord[]> {
    const params: unknown[] = [before, limit];
    let condition = expiredCondition(kind, '$1');
    if (orgId !== undefined) {
      params.push(orgId);
      condition += ` AND org_id = $${params.length}`;
    }
    // Ids sort in creation order and, unlike a timestamp read back into a JS Date, exactly.
    if (after) {
      params.push(after.id);
      condition += ` AND id > $${params.length}`;
    }
    const rows: AttachmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM attachments WHERE ${condition} ORDER BY id LIMIT $2`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Deletes one expired record unless it changed since it was found (uploaded, linked). */
  async deleteIfExpired(kind: ExpiredKind, id: string, before: Date): Promise<boolean> {
    const rows = await this.mutate<{ id: string }>(
      this.dataSource,
      `DELETE FROM attachments WHERE id = $1 AND ${expiredCondition(kind, '$2')} RETURNING id`,
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

  /** The storage key each of these ids' records names, for those that still have a record. */
  async storageKeysOf(ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows: Array<{ id: string; storage_key: string }> = await this.dataSource.query(
      `SELECT id, storage_key FROM attachments WHERE id = ANY($1)`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.storage_key]));
  }
}

/**
 * Unfinished uploads include claimed ones: a claim older than the pending TTL belongs to a
 * process that died long ago.
 */
function expiredCondition(kind: ExpiredKind, before: string): string {
  return kind === 'pending'
    ? `status IN ('pending', 'uploading') AND created_at < ${before}`
    : `status = 'ready' AND thread_id IS NULL AND COALESCE(ready_at, created_at) < ${before}`;
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
