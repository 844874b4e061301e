/**
 * The SQL behind attachment records. Every method a user's request reaches is scoped by
 * (user_id, org_id): another user's attachment is simply "not found". The unscoped lookups exist
 * for the routes whose signature is the authorisation (signed upload and download URLs), for the
 * agent reading a stored message's attachments, and for cleanup; they must never be reachable
 * with an id the caller chose without such proof.
 *
 * Plain reads and writes go through the entity's repository and query builder; SQL is written out
 * for the quota lock, the upload claim and the expiry sweep. A method given a manager runs on it
 * alone (the embedded database has one connection, which the transaction holds).
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Repository, type EntityManager, type FindOptionsWhere } from 'typeorm';
import { AttachmentEntity, type AttachmentStatus } from 'src/attachments/attachment.entity';
import type { RequestContext } from 'src/common/request-context';

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
  constructor(@InjectRepository(AttachmentEntity) private readonly repo: Repository<AttachmentEntity>) {}

  private attachments(manager?: EntityManager): Repository<AttachmentEntity> {
    return manager ? manager.getRepository(AttachmentEntity) : this.repo;
  }

  async insertPending(
    ctx: RequestContext,
    a: NewAttachment,
    manager: EntityManager = this.repo.manager,
  ): Promise<AttachmentRecord> {
    const result = await this.attachments(manager)
      .createQueryBuilder()
      .insert()
      .values({
        id: a.id,
        userId: ctx.userId,
        orgId: ctx.orgId ?? '',
        name: a.name,
        mimeType: a.mimeType,
        size: a.size,
        storageKind: a.storageKind,
        storageKey: a.storageKey,
        status: 'pending',
      })
      .returning(COLUMNS)
      .updateEntity(false)
      .execute();
    return toRecord((result.raw as AttachmentRow[])[0]);
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
    return this.repo.manager.transaction(async (manager) => {
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
    const row = await this.repo.findOneBy({ id, userId: ctx.userId, orgId: ctx.orgId ?? '' });
    return row ? fromEntity(row) : null;
  }

  async findOwnedMany(ctx: RequestContext, ids: string[]): Promise<AttachmentRecord[]> {
    if (!ids.length) return [];
    const rows = await this.repo.findBy({ id: In(ids), userId: ctx.userId, orgId: ctx.orgId ?? '' });
    return rows.map(fromEntity);
  }

  /** Unscoped: only for callers holding a signature over `id`, or a stored message naming it. */
  async findById(id: string): Promise<AttachmentRecord | null> {
    const row = await this.repo.findOneBy({ id });
    return row ? fromEntity(row) : null;
  }

  /**
   * Claims a two-phase upload for one request and gives its bytes a key of their own: a pending
   * record, or one whose claim was taken more than `staleAfterS` seconds ago (its process died
   * mid-upload), becomes `uploading` with `storageKey`. Null when the record is gone, ready, or
   * claimed by a live upload. A request that lost its claim to a newer one can then only ever
   * touch its own key, never the bytes of the upload that replaced it.
   */
  async claimUpload(id: string, storageKey: string, staleAfterS: number): Promise<AttachmentRecord | null> {
    // Written out: the staleness test is interval arithmetic on the database's clock.
    const rows = await this.mutate<AttachmentRow>(
      this.repo.manager,
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
    const result = await this.repo.update(
      { id: record.id, status: 'uploading', storageKey: record.storageKey },
      { status: 'pending', updatedAt: () => 'now()' },
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Flips an unfinished record whose bytes are at `storageKey` to ready; null when it was
   * deleted, finished or claimed by another upload meanwhile.
   */
  async markReady(
    record: Pick<AttachmentRecord, 'id' | 'storageKey'>,
    facts: { size: number; sha256: string; mimeType: string },
  ): Promise<AttachmentRecord | null> {
    const result = await this.repo
      .createQueryBuilder()
      .update()
      .set({
        status: 'ready',
        size: facts.size,
        sha256: facts.sha256,
        mimeType: facts.mimeType,
        readyAt: () => 'now()',
        updatedAt: () => 'now()',
      })
      .where({ id: record.id, storageKey: record.storageKey, status: In(['pending', 'uploading']) })
      .returning(COLUMNS)
      .updateEntity(false)
      .execute();
    const rows = result.raw as AttachmentRow[];
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Bytes the user holds, pending uploads counted at the size they reserved. */
  async usage(ctx: RequestContext, manager: EntityManager = this.repo.manager): Promise<number> {
    const total = await this.attachments(manager).sum('size', { userId: ctx.userId, orgId: ctx.orgId ?? '' });
    return Number(total ?? 0);
  }

  async deleteOwned(ctx: RequestContext, id: string): Promise<AttachmentRecord | null> {
    const rows = await this.deleteReturning({ id, userId: ctx.userId, orgId: ctx.orgId ?? '' });
    return rows.length ? rows[0] : null;
  }

  /** Unscoped delete of one record, optionally only while it is unfinished with its bytes at `storageKey`. */
  async deleteById(
    id: string,
    unfinished?: Pick<AttachmentRecord, 'storageKey'>,
  ): Promise<AttachmentRecord | null> {
    const rows = await this.deleteReturning(
      unfinished ? { id, status: In(['pending', 'uploading']), storageKey: unfinished.storageKey } : { id },
    );
    return rows.length ? rows[0] : null;
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
    if (!ids.length) return new Set();
    const owned = { id: In(ids), userId: ctx.userId, orgId: ctx.orgId ?? '', status: 'ready' as const };
    const result = await this.attachments(manager)
      .createQueryBuilder()
      .update()
      .set({ threadId, updatedAt: () => 'now()' })
      // Unlinked, or already on this thread: never moved from another one.
      .where([
        { ...owned, threadId: IsNull() },
        { ...owned, threadId },
      ])
      .returning(['id'])
      .updateEntity(false)
      .execute();
    return new Set((result.raw as Array<{ id: string }>).map((r) => r.id));
  }

  async deleteForThread(ctx: RequestContext, threadId: string): Promise<AttachmentRecord[]> {
    return this.deleteReturning({ threadId, userId: ctx.userId, orgId: ctx.orgId ?? '' });
  }

  /** Deletes the records matching `where` and gives them back as they were. */
  private async deleteReturning(where: FindOptionsWhere<AttachmentEntity>): Promise<AttachmentRecord[]> {
    const result = await this.repo.createQueryBuilder().delete().where(where).returning(COLUMNS).execute();
    return (result.raw as AttachmentRow[]).map(toRecord);
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
    // Written out with deleteIfExpired, which must test the same condition.
    const rows: AttachmentRow[] = await this.repo.query(
      `SELECT ${COLUMNS} FROM attachments WHERE ${condition} ORDER BY id LIMIT $2`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Deletes one expired record unless it changed since it was found (uploaded, linked). */
  async deleteIfExpired(kind: ExpiredKind, id: string, before: Date): Promise<boolean> {
    const rows = await this.mutate<{ id: string }>(
      this.repo.manager,
      `DELETE FROM attachments WHERE id = $1 AND ${expiredCondition(kind, '$2')} RETURNING id`,
      [id, before],
    );
    return rows.length > 0;
  }

  /**
   * TypeORM answers an UPDATE or DELETE with `[rows, rowCount]` instead of the rows; this gives
   * the RETURNING rows whichever shape comes back.
   */
  private async mutate<T>(db: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
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
    const rows = await this.repo.find({ select: { id: true, storageKey: true }, where: { id: In(ids) } });
    return new Map(rows.map((r) => [r.id, r.storageKey]));
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

function fromEntity(row: AttachmentEntity): AttachmentRecord {
  return {
    id: row.id,
    userId: row.userId,
    orgId: row.orgId,
    threadId: row.threadId,
    name: row.name,
    mimeType: row.mimeType,
    size: row.size,
    sha256: row.sha256 ? row.sha256.trim() : null,
    storageKind: row.storageKind,
    storageKey: row.storageKey,
    status: row.status,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    readyAt: row.readyAt,
  };
}

/** A row given back by RETURNING, in column names. */
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
