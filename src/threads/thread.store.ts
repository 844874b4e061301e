/**
 * The PostgreSQL store behind the ChatKit protocol and the REST routes. Every method takes the
 * caller's RequestContext and scopes every statement by (user_id, org_id): another user's thread
 * or item is simply "not found", and nothing in an error tells it exists.
 *
 * Plain reads and writes go through the repositories of the module's entities. SQL is written out
 * only where it says more than a repository can: the keyset pages, the owner-checked item upsert
 * and the delete of everything after a pivot item.
 *
 * Pages use keyset pagination on (created_at, id), so rows with equal timestamps are never skipped
 * or repeated, and hidden items are filtered in SQL, so an items page is always full when more
 * items exist (the reference filters after paginating and returns short pages).
 *
 * Every method that takes a manager runs on it alone: inside a transaction nothing may reach for a
 * second connection (the embedded database has exactly one).
 *
 * A streamed turn costs three round trips: one statement opens it (the run lease, the user's
 * message, the thread), one reads the history, one closes it (the turn's items, the thread, the
 * lease back). The run lease's table belongs to ThreadRunLock; the store writes its row only
 * inside those two statements, as the lock describes it (LeaseClaim), so that a turn's first and
 * last writes stay one round trip each. Each statement is atomic on its own, so no transaction
 * holds the embedded database's one connection across round trips.
 */
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository, type EntityManager } from 'typeorm';
import {
  DEFAULT_PAGE_LIMIT,
  HIDDEN_ITEM_TYPES,
  MESSAGE_ITEM_TYPES,
  type FeedbackKind,
  type Page,
  type PageOrder,
  type ThreadItem,
  type ThreadMetadata,
} from 'src/protocol/chatkit.schemas';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';
import { PreparedStatements } from 'src/database/prepared-statements';
import { FeedbackEntity } from 'src/threads/feedback.entity';
import { ThreadItemEntity } from 'src/threads/thread-item.entity';
import { ThreadEntity } from 'src/threads/thread.entity';
import { settlementParts, usageInsertPart } from 'src/usage/usage.sql';
import type { ModelUsageRow, QuotaSettlement } from 'src/usage/usage.types';

export interface PageQuery {
  limit?: number | null;
  after?: string | null;
  order?: PageOrder;
}

interface ThreadRow {
  id: string;
  title: string | null;
  status: ThreadMetadata['status'];
  allowed_image_domains: string[] | null;
  metadata: Record<string, unknown>;
  created_at: Date;
}

interface ItemRow {
  id: string;
  created_at: Date;
  payload: ThreadItem;
}

/**
 * The read statements select `created_at` already as the wire's ISO text (WIRE_CREATED_AT), so
 * no Date is parsed and formatted again for every row.
 */
type ThreadTextRow = Omit<ThreadRow, 'created_at'> & { created_at: string };
type ItemTextRow = Omit<ItemRow, 'created_at'> & { created_at: string };

/**
 * `created_at` as Date#toISOString writes it (UTC, milliseconds truncated as a JS Date keeps them,
 * `Z`). The stored values come from JS dates, so the bytes are the same as the Date path's.
 */
const WIRE_CREATED_AT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

const HIDDEN = [...HIDDEN_ITEM_TYPES];
const MESSAGES = [...MESSAGE_ITEM_TYPES];

/** The run lease a turn's first statement takes and its last gives back (see ThreadRunLock). */
export interface LeaseClaim {
  owner: string;
  ttlMs: number;
}

/** How opening a turn on an existing thread went: the thread, and whether the lease was free. */
export type TurnStart =
  | { thread: ThreadMetadata; leased: true; history?: ThreadItem[] }
  | { thread: ThreadMetadata; leased: false; busyForS: number };

/**
 * What a turn writes when it ends: items to upsert or delete, the thread when it changed, the
 * tokens its model calls spent (per model), and, for a turn admitted against token budgets, the
 * settlement of its hold (only with the final write).
 */
export interface TurnWriteSet {
  upserts: ThreadItem[];
  deletes: string[];
  thread: ThreadMetadata | null;
  usage?: ModelUsageRow[];
  quota?: QuotaSettlement;
}

@Injectable()
export class ThreadStore {
  constructor(
    @InjectRepository(ThreadEntity) private readonly threadRepo: Repository<ThreadEntity>,
    @InjectRepository(ThreadItemEntity) private readonly itemRepo: Repository<ThreadItemEntity>,
    @InjectRepository(FeedbackEntity) private readonly feedbackRepo: Repository<FeedbackEntity>,
    @Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig,
    private readonly statements: PreparedStatements,
  ) {}

  /** Runs `work` in one transaction; store calls given the manager join it. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.threadRepo.manager.transaction(work);
  }

  /**
   * One statement written out: in `manager`'s transaction when given, else as a prepared
   * statement on the pool (the turn's and the reads' statements: see PreparedStatements).
   */
  private sql<T extends object>(text: string, params: unknown[], manager?: EntityManager): Promise<T[]> {
    return manager ? manager.query(text, params) : this.statements.query<T>(text, params);
  }

  private threads(manager?: EntityManager): Repository<ThreadEntity> {
    return manager ? manager.getRepository(ThreadEntity) : this.threadRepo;
  }

  private items(manager?: EntityManager): Repository<ThreadItemEntity> {
    return manager ? manager.getRepository(ThreadItemEntity) : this.itemRepo;
  }

  pageLimit(limit: number | null | undefined): number {
    const wanted = limit ? limit : DEFAULT_PAGE_LIMIT;
    return Math.min(wanted, this.config.maxPageSize);
  }

  // -------------------------------------------------------------------------------- threads

  async createThread(ctx: RequestContext, thread: ThreadMetadata, manager?: EntityManager): Promise<void> {
    await this.threads(manager).insert({
      id: thread.id,
      userId: ctx.userId,
      orgId: ctx.orgId ?? '',
      ...threadColumns(thread),
      createdAt: new Date(thread.created_at),
    });
  }

  async loadThread(ctx: RequestContext, threadId: string, manager?: EntityManager): Promise<ThreadMetadata> {
    // Written out: every items.list runs it, and building it with the repository's query builder
    // cost more CPU than the rest of the query.
    const rows = await this.sql<ThreadTextRow>(
      `SELECT id, title, status, allowed_image_domains, metadata, ${WIRE_CREATED_AT} FROM threads
        WHERE id = $1 AND user_id = $2 AND org_id = $3`,
      [threadId, ctx.userId, ctx.orgId ?? ''],
      manager,
    );
    if (!rows.length) throw AppException.notFound('thread');
    return threadOfTextRow(rows[0]);
  }

  /** Persists metadata fields only (title, status, image domains, private metadata). */
  async saveThread(ctx: RequestContext, thread: ThreadMetadata, manager?: EntityManager): Promise<void> {
    const result = await this.threads(manager).update(
      { id: thread.id, userId: ctx.userId, orgId: ctx.orgId ?? '' },
      { ...threadColumns(thread), updatedAt: () => 'now()' },
    );
    if (!result.affected) throw AppException.notFound('thread');
  }

  async listThreads(ctx: RequestContext, query: PageQuery): Promise<Page<ThreadMetadata>> {
    const limit = this.pageLimit(query.limit);
    const desc = (query.order ?? 'desc') === 'desc';
    const params: unknown[] = [ctx.userId, ctx.orgId ?? '', limit + 1];
    let cursorSql = '';
    if (query.after) {
      const cursor = await this.threadRepo.findOne({
        select: { createdAt: true, id: true },
        where: { id: query.after, userId: ctx.userId, orgId: ctx.orgId ?? '' },
      });
      if (!cursor) throw new AppException(ErrorCode.BadRequest, 'params.after: unknown cursor');
      params.push(cursor.createdAt, cursor.id);
      cursorSql = `AND (created_at, id) ${desc ? '<' : '>'} ($4, $5)`;
    }
    // Keyset page: a row-value comparison on the (user_id, org_id, created_at, id) index.
    const rows = await this.sql<ThreadTextRow>(
      `SELECT id, title, status, allowed_image_domains, metadata, ${WIRE_CREATED_AT} FROM threads
        WHERE user_id = $1 AND org_id = $2 ${cursorSql}
        ORDER BY threads.created_at ${desc ? 'DESC' : 'ASC'}, id ${desc ? 'DESC' : 'ASC'} LIMIT $3`,
      params,
    );
    return toPage(rows.map(threadOfTextRow), limit);
  }

  /** Deletes the thread; its items and feedback go with it (ON DELETE CASCADE). */
  async deleteThread(ctx: RequestContext, threadId: string, manager?: EntityManager): Promise<void> {
    const result = await this.threads(manager).delete({
      id: threadId,
      userId: ctx.userId,
      orgId: ctx.orgId ?? '',
    });
    if (!result.affected) throw AppException.notFound('thread');
  }

  // -------------------------------------------------------------------------------- items

  /**
   * One page of a thread's items. The thread's ownership is checked in the same statement, so
   * another user's thread yields "not found", never an empty page.
   */
  async listItems(
    ctx: RequestContext,
    threadId: string,
    query: PageQuery & {
      includeHidden?: boolean;
      /** The caller already loaded this thread with this context: skip the repeated ownership query. */
      ownerVerified?: boolean;
    },
    manager?: EntityManager,
  ): Promise<Page<ThreadItem>> {
    const limit = this.pageLimit(query.limit);
    const desc = (query.order ?? 'desc') === 'desc';
    // Items carry their owner too, so even with ownerVerified no other user's row can match.
    const params: unknown[] = [threadId, query.includeHidden ? [] : HIDDEN, ctx.userId, ctx.orgId ?? ''];
    // A first page of a thread not yet checked: the check and the page in one statement. With a
    // cursor the thread is checked first, so a foreign thread is "not found" before any cursor.
    if (!query.ownerVerified && !query.after) return this.checkedFirstPage(params, desc, limit, manager);
    if (!query.ownerVerified) await this.loadThread(ctx, threadId, manager);
    let cursorSql = '';
    if (query.after) {
      const cursor = await this.items(manager).findOne({
        select: { createdAt: true, id: true },
        where: { threadId, id: query.after, userId: ctx.userId, orgId: ctx.orgId ?? '' },
      });
      if (!cursor) throw new AppException(ErrorCode.BadRequest, 'params.after: unknown cursor');
      params.push(cursor.createdAt, cursor.id);
      cursorSql = `AND (created_at, id) ${desc ? '<' : '>'} ($5, $6)`;
    }
    // Keyset page with the hidden types filtered before the limit, on idx_thread_items_page.
    params.push(limit + 1);
    const rows = await this.sql<ItemTextRow>(
      `SELECT id, ${WIRE_CREATED_AT}, payload FROM thread_items
        WHERE thread_id = $1 AND NOT (type = ANY($2::text[])) AND user_id = $3 AND org_id = $4 ${cursorSql}
        ORDER BY thread_items.created_at ${desc ? 'DESC' : 'ASC'}, id ${desc ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
      params,
      manager,
    );
    return toPage(rows.map(itemOfTextRow), limit);
  }

  /**
   * The first page of a thread of the caller's, and whether there is such a thread: no row when
   * there is not (not found), one row of nulls for an empty page, else one row per item. The page
   * query is the one listItems runs, joined to the thread's ownership row.
   */
  private async checkedFirstPage(
    params: unknown[],
    desc: boolean,
    limit: number,
    manager?: EntityManager,
  ): Promise<Page<ThreadItem>> {
    const order = desc ? 'DESC' : 'ASC';
    const rows = await this.sql<ItemTextRow | { id: null }>(
      `SELECT i.id, i.created_at, i.payload FROM threads t
         LEFT JOIN LATERAL (
           SELECT id, ${WIRE_CREATED_AT}, payload, thread_items.created_at AS at FROM thread_items
            WHERE thread_id = t.id AND NOT (type = ANY($2::text[])) AND user_id = $3 AND org_id = $4
            ORDER BY thread_items.created_at ${order}, id ${order} LIMIT $5) i ON true
        WHERE t.id = $1 AND t.user_id = $3 AND t.org_id = $4
        ORDER BY i.at ${order}, i.id ${order}`,
      [...params, limit + 1],
      manager,
    );
    if (!rows.length) throw AppException.notFound('thread');
    const items = rows[0].id === null ? [] : (rows as ItemTextRow[]);
    return toPage(items.map(itemOfTextRow), limit);
  }

  /**
   * The newest `limit` items (hidden included), returned oldest first — model history. For a
   * thread the caller already loaded: no ownership query, the item query itself is scoped.
   */
  async recentItems(ctx: RequestContext, threadId: string, limit: number): Promise<ThreadItem[]> {
    const page = await this.listItems(ctx, threadId, {
      limit: Math.max(1, limit),
      order: 'desc',
      includeHidden: true,
      ownerVerified: true,
    });
    return page.data.reverse();
  }

  async loadItem(
    ctx: RequestContext,
    threadId: string,
    itemId: string,
    manager?: EntityManager,
  ): Promise<ThreadItem> {
    const row = await this.items(manager)
      .createQueryBuilder('i')
      .innerJoin('i.thread', 't')
      .select(['i.threadId', 'i.id', 'i.createdAt', 'i.payload'])
      .where('i.threadId = :threadId AND i.id = :itemId', { threadId, itemId })
      .andWhere('t.userId = :userId AND t.orgId = :orgId', { userId: ctx.userId, orgId: ctx.orgId ?? '' })
      .getOne();
    if (!row) throw AppException.notFound('item');
    return toItem({ id: row.id, created_at: row.createdAt, payload: row.payload as ThreadItem });
  }

  /**
   * Inserts or replaces an item (ChatKit calls both add and save on the same id: an open
   * workflow is stored at the end of a run and done again next turn). A replaced item keeps its
   * original position in the thread. One statement inserts only into a thread of the caller's,
   * copying its owner onto the item, which a repository cannot say.
   */
  async upsertItem(
    ctx: RequestContext,
    threadId: string,
    item: ThreadItem,
    manager?: EntityManager,
  ): Promise<void> {
    const rows = await this.sql(
      `INSERT INTO thread_items (thread_id, id, user_id, org_id, type, created_at, payload)
       SELECT $1::varchar, $2::varchar, t.user_id, t.org_id, $3::varchar, $4::timestamptz, $5::jsonb FROM threads t
        WHERE t.id = $1 AND t.user_id = $6 AND t.org_id = $7
       ON CONFLICT (thread_id, id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload
       RETURNING id`,
      [
        threadId,
        item.id,
        item.type,
        item.created_at,
        JSON.stringify({ ...item, thread_id: threadId }),
        ctx.userId,
        ctx.orgId ?? '',
      ],
      manager,
    );
    if (!rows.length) throw AppException.notFound('thread');
  }

  async deleteItem(
    ctx: RequestContext,
    threadId: string,
    itemId: string,
    manager?: EntityManager,
  ): Promise<void> {
    // An item carries its thread's owner (upsertItem copies it), so this is the thread's scope.
    await this.items(manager).delete({ threadId, id: itemId, userId: ctx.userId, orgId: ctx.orgId ?? '' });
  }

  /**
   * Deletes every item after `itemId` in thread order (retry); returns how many went. The pivot's
   * position is compared in SQL, at the database's microsecond precision.
   */
  async deleteItemsAfter(
    ctx: RequestContext,
    threadId: string,
    itemId: string,
    manager?: EntityManager,
  ): Promise<number> {
    const result: unknown = await this.sql(
      `DELETE FROM thread_items i USING threads t, thread_items pivot
        WHERE i.thread_id = $1 AND t.id = i.thread_id AND t.user_id = $3 AND t.org_id = $4
          AND pivot.thread_id = $1 AND pivot.id = $2
          AND (i.created_at, i.id) > (pivot.created_at, pivot.id)
        RETURNING i.id`,
      [threadId, itemId, ctx.userId, ctx.orgId ?? ''],
      manager,
    );
    return affectedRows(result);
  }

  // -------------------------------------------------------------------------------- turns

  /**
   * Opens a turn on an existing thread of the caller's in one statement: takes the run lease
   * (only over an expired one) and, only if it got it, stores the user's message; returns the
   * thread either way, and how long the lease still runs when it was held. Throws "not found"
   * for a thread that is not the caller's. With `read.limit`, it also reads the newest items
   * for the model, as recentItems would, `message` last (the statement cannot see its own insert);
   * with `read.messages` too, none older than the `messages`-th newest message (user or
   * assistant, `message` counted): a model that is sent its last N messages needs nothing before
   * them, and every item read is parsed and mapped.
   */
  async openTurn(
    ctx: RequestContext,
    threadId: string,
    message: ThreadItem,
    claim: LeaseClaim,
    read: { limit: number; messages?: number } = { limit: 0 },
  ): Promise<TurnStart> {
    const rows = await this.sql<
      ThreadRow & { leased: boolean; busy_for_s: number | null; history: ItemRow[] | null }
    >(
      `WITH t AS (
         SELECT id, user_id, org_id, title, status, allowed_image_domains, metadata, created_at FROM threads
          WHERE id = $1 AND user_id = $2 AND org_id = $3),
       lease AS (
         INSERT INTO thread_runs (thread_id, owner, acquired_at, expires_at)
         SELECT id, $4, now(), now() + $5::interval FROM t
         ON CONFLICT (thread_id) DO UPDATE
           SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
           WHERE thread_runs.expires_at < now()
         RETURNING thread_id),
       message AS (
         INSERT INTO thread_items (thread_id, id, user_id, org_id, type, created_at, payload)
         SELECT t.id, $6, t.user_id, t.org_id, $7, $8::timestamptz, $9::jsonb FROM t JOIN lease ON lease.thread_id = t.id
         ON CONFLICT (thread_id, id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload
         RETURNING id)
       SELECT t.id, t.title, t.status, t.allowed_image_domains, t.metadata, t.created_at,
              EXISTS (SELECT 1 FROM message) AS leased,
              (SELECT GREATEST(1, ceil(extract(epoch FROM r.expires_at - now())))::int
                 FROM thread_runs r WHERE r.thread_id = t.id) AS busy_for_s,
              CASE WHEN $10::int > 0 THEN (
                SELECT coalesce(json_agg(json_build_object('id', h.id, 'created_at', h.created_at, 'payload', h.payload)
                                         ORDER BY h.created_at, h.id), '[]'::json)
                  FROM (SELECT id, created_at, payload FROM thread_items i
                         WHERE i.thread_id = t.id AND i.user_id = t.user_id AND i.org_id = t.org_id
                           AND i.created_at >= CASE
                             WHEN $11::int IS NULL THEN '-infinity'::timestamptz
                             WHEN $11 = 0 THEN 'infinity'::timestamptz
                             ELSE coalesce((
                               SELECT m.created_at FROM thread_items m
                                WHERE m.thread_id = t.id AND m.user_id = t.user_id AND m.org_id = t.org_id
                                  AND m.type = ANY($12::text[])
                                ORDER BY m.created_at DESC, m.id DESC OFFSET $11 - 1 LIMIT 1), '-infinity') END
                         ORDER BY created_at DESC, id DESC LIMIT $10) h) END AS history
         FROM t`,
      [
        threadId,
        ctx.userId,
        ctx.orgId ?? '',
        claim.owner,
        `${claim.ttlMs} milliseconds`,
        message.id,
        message.type,
        message.created_at,
        JSON.stringify({ ...message, thread_id: threadId }),
        Math.max(0, read.limit - 1),
        // The messages before `message`, which is one of them.
        read.messages === undefined ? null : Math.max(0, read.messages - 1),
        MESSAGES,
      ],
    );
    const row = rows[0];
    if (!row) throw AppException.notFound('thread');
    const thread = toThread(row);
    // A lease taken by a concurrent statement is not in this statement's snapshot: 1 s then.
    if (!row.leased) return { thread, leased: false, busyForS: row.busy_for_s ?? 1 };
    const history = row.history
      ? [...row.history.map(toItem), { ...message, thread_id: threadId } as ThreadItem]
      : undefined;
    return { thread, leased: true, history };
  }

  /** Creates the thread with its first message and its run lease, in one statement. */
  async createTurn(
    ctx: RequestContext,
    thread: ThreadMetadata,
    message: ThreadItem,
    claim: LeaseClaim,
  ): Promise<void> {
    const columns = threadColumns(thread);
    await this.sql(
      `WITH t AS (
         INSERT INTO threads (id, user_id, org_id, title, status, allowed_image_domains, metadata, created_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::timestamptz)
         RETURNING id, user_id, org_id),
       lease AS (
         INSERT INTO thread_runs (thread_id, owner, acquired_at, expires_at)
         SELECT id, $9, now(), now() + $10::interval FROM t)
       INSERT INTO thread_items (thread_id, id, user_id, org_id, type, created_at, payload)
       SELECT t.id, $11, t.user_id, t.org_id, $12, $13::timestamptz, $14::jsonb FROM t`,
      [
        thread.id,
        ctx.userId,
        ctx.orgId ?? '',
        columns.title,
        JSON.stringify(columns.status),
        jsonOrNull(columns.allowedImageDomains),
        JSON.stringify(columns.metadata),
        thread.created_at,
        claim.owner,
        `${claim.ttlMs} milliseconds`,
        message.id,
        message.type,
        message.created_at,
        JSON.stringify({ ...message, thread_id: thread.id }),
      ],
    );
  }

  /**
   * Closes a turn in one statement: upserts and deletes its items, saves the thread when it
   * changed, and gives back the run lease of `leaseOwner` (when given). A replaced item keeps its
   * position, as with upsertItem. Nothing is written into a thread that is not the caller's (or
   * no longer exists), and the lease goes either way. The turn's token usage and the settlement of
   * its budget hold go in the same statement, as the usage module writes them (usage.sql.ts):
   * they are stored even when the thread is gone, since the tokens were spent.
   */
  async finishTurn(
    ctx: RequestContext,
    threadId: string,
    writes: TurnWriteSet,
    leaseOwner: string | null,
  ): Promise<void> {
    const params: unknown[] = [threadId, ctx.userId, ctx.orgId ?? ''];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const parts: string[] = [];
    if (writes.upserts.length) {
      const items = writes.upserts.map((item) => ({
        id: item.id,
        type: item.type,
        created_at: item.created_at,
        payload: { ...item, thread_id: threadId },
      }));
      parts.push(`put AS (
         INSERT INTO thread_items (thread_id, id, user_id, org_id, type, created_at, payload)
         SELECT t.id, x.id, t.user_id, t.org_id, x.type, x.created_at, x.payload
           FROM t, jsonb_to_recordset(${param(JSON.stringify(items))}::jsonb)
                AS x(id varchar, type varchar, created_at timestamptz, payload jsonb)
         ON CONFLICT (thread_id, id) DO UPDATE SET type = EXCLUDED.type, payload = EXCLUDED.payload)`);
    }
    if (writes.deletes.length) {
      parts.push(`gone AS (
         DELETE FROM thread_items i USING t
          WHERE i.thread_id = t.id AND i.user_id = t.user_id AND i.org_id = t.org_id
            AND i.id = ANY(${param(writes.deletes)}::varchar[]))`);
    }
    if (writes.thread) {
      const c = threadColumns(writes.thread);
      parts.push(`saved AS (
         UPDATE threads SET title = ${param(c.title)}, status = ${param(JSON.stringify(c.status))}::jsonb,
                allowed_image_domains = ${param(jsonOrNull(c.allowedImageDomains))}::jsonb,
                metadata = ${param(JSON.stringify(c.metadata))}::jsonb, updated_at = now()
          WHERE id = $1 AND user_id = $2 AND org_id = $3)`);
    }
    if (writes.usage?.length) {
      parts.push(
        usageInsertPart(param, { userId: ctx.userId, orgId: ctx.orgId ?? '', threadId }, writes.usage),
      );
    }
    if (writes.quota) parts.push(...settlementParts(param, writes.quota));
    if (leaseOwner !== null) {
      parts.push(
        `released AS (DELETE FROM thread_runs WHERE thread_id = $1 AND owner = ${param(leaseOwner)})`,
      );
    }
    if (!parts.length) return;
    await this.sql(
      `WITH t AS (SELECT id, user_id, org_id FROM threads WHERE id = $1 AND user_id = $2 AND org_id = $3),
       ${parts.join(',\n       ')}
       SELECT 1`,
      params,
    );
  }

  // -------------------------------------------------------------------------------- feedback

  /**
   * Records the user's verdict on items of their own thread; voting again changes the verdict
   * rather than adding a row. Ids that are not items of the thread are refused, naming them.
   */
  async saveFeedback(
    ctx: RequestContext,
    threadId: string,
    itemIds: string[],
    kind: FeedbackKind,
  ): Promise<number> {
    await this.loadThread(ctx, threadId);
    const unique = [...new Set(itemIds)];
    if (!unique.length) return 0;
    const found = await this.itemRepo.find({ select: { id: true }, where: { threadId, id: In(unique) } });
    const known = new Set(found.map((r) => r.id));
    const missing = unique.filter((id) => !known.has(id));
    if (missing.length)
      throw new AppException(ErrorCode.NotFound, `item not found: ${missing.slice(0, 5).join(', ')}`);
    // Re-voting: the conflict target is uq_feedback_user_item; updated_at takes the new row's now().
    const result = await this.feedbackRepo
      .createQueryBuilder()
      .insert()
      .values(
        unique.map((itemId) => ({ threadId, itemId, userId: ctx.userId, orgId: ctx.orgId ?? '', kind })),
      )
      .orUpdate(['kind', 'updated_at'], ['user_id', 'org_id', 'thread_id', 'item_id'])
      .returning(['id'])
      .updateEntity(false)
      .execute();
    return (result.raw as unknown[]).length;
  }
}

/**
 * Rows touched by a statement. TypeORM hands a raw DELETE's result back as `[rows, rowCount]`
 * but INSERT and SELECT results as the rows themselves.
 */
function affectedRows(result: unknown): number {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[1];
  }
  return Array.isArray(result) ? result.length : 0;
}

/** A JSON value for a nullable jsonb column: SQL NULL stays NULL rather than JSON `null`. */
function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function toThread(row: ThreadRow | ThreadEntity): ThreadMetadata {
  const entity = row instanceof ThreadEntity;
  const createdAt = entity ? row.createdAt : row.created_at;
  const domains = entity ? row.allowedImageDomains : row.allowed_image_domains;
  return {
    id: row.id,
    created_at: iso(createdAt),
    title: row.title,
    status: row.status ?? { type: 'active' },
    allowed_image_domains: domains,
    metadata: row.metadata ?? {},
  };
}

/** The stored metadata columns, the inverse of toThread. */
function threadColumns(
  thread: ThreadMetadata,
): Pick<ThreadEntity, 'title' | 'status' | 'allowedImageDomains' | 'metadata'> {
  return {
    title: thread.title ?? null,
    status: thread.status,
    allowedImageDomains: thread.allowed_image_domains ?? null,
    metadata: thread.metadata ?? {},
  };
}

function threadOfTextRow(row: ThreadTextRow): ThreadMetadata {
  return {
    id: row.id,
    created_at: row.created_at,
    title: row.title,
    status: row.status ?? { type: 'active' },
    allowed_image_domains: row.allowed_image_domains,
    metadata: row.metadata ?? {},
  };
}

/** The payload object is the driver's fresh parse, owned by nobody else: completed in place, not copied. */
function itemOfTextRow(row: ItemTextRow): ThreadItem {
  const item = row.payload;
  item.created_at = row.created_at;
  return item;
}

function toItem(row: ItemRow): ThreadItem {
  return { ...row.payload, created_at: iso(row.created_at) } as ThreadItem;
}

function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  return hasMore ? { data, has_more: true, after: data[data.length - 1].id } : { data, has_more: false };
}
