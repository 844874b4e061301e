import { ThreadStore } from 'src/threads/thread.store';
import type { RequestContext } from 'src/common/request-context';
import type { ChatKitConfig } from 'src/config/chatkit.config';

/**
 * The store's reading of its results, without a database: the repositories and the prepared
 * statements are faked.
 */
describe('ThreadStore result shapes', () => {
  const ctx: RequestContext = { userId: 'u', isAdmin: false, requestId: 'r', metadata: {} };
  const config = { maxPageSize: 100 } as ChatKitConfig;
  /** A store whose repositories answer every call with `result`. */
  const storeAnswering = (result: unknown) => {
    const repo = {
      update: async () => result,
      delete: async () => result,
      manager: { query: async () => result },
    };
    const statements = { query: async () => result };
    return new ThreadStore(repo as never, repo as never, repo as never, config, statements as never);
  };
  const thread = {
    id: 'thr_1',
    created_at: new Date().toISOString(),
    status: { type: 'active' as const },
    metadata: {},
  };

  it('treats an UPDATE that touched no row as "not found"', async () => {
    await expect(storeAnswering({ affected: 0 }).saveThread(ctx, thread)).rejects.toMatchObject({
      status: 404,
    });
    await expect(storeAnswering({ affected: 1 }).saveThread(ctx, thread)).resolves.toBeUndefined();
  });

  it('treats a DELETE that touched no row as "not found"', async () => {
    await expect(storeAnswering({ affected: 0 }).deleteThread(ctx, 'thr_1')).rejects.toMatchObject({
      status: 404,
    });
    await expect(storeAnswering({ affected: 1 }).deleteThread(ctx, 'thr_1')).resolves.toBeUndefined();
  });

  it('counts the items a raw DELETE … RETURNING removed (TypeORM answers [rows, rowCount])', async () => {
    expect(
      await storeAnswering([[{ id: 'a' }, { id: 'b' }, { id: 'c' }], 3]).deleteItemsAfter(ctx, 'thr_1', 'x'),
    ).toBe(3);
    expect(await storeAnswering([[], 0]).deleteItemsAfter(ctx, 'thr_1', 'x')).toBe(0);
    // Outside a transaction the statement goes to pg itself, which answers the rows.
    expect(await storeAnswering([{ id: 'a' }, { id: 'b' }]).deleteItemsAfter(ctx, 'thr_1', 'x')).toBe(2);
  });

  it('reads a first page checked with its thread: no row is "not found", a row of nulls an empty page', async () => {
    await expect(storeAnswering([]).listItems(ctx, 'thr_1', {})).rejects.toMatchObject({ status: 404 });
    expect(
      await storeAnswering([{ id: null, created_at: null, payload: null }]).listItems(ctx, 'thr_1', {}),
    ).toEqual({ data: [], has_more: false });
    const at = '2026-01-02T03:04:05.006Z';
    const rows = [
      { id: 'm1', created_at: at, payload: { id: 'm1', type: 'user_message', created_at: 'stored' } },
    ];
    expect(await storeAnswering(rows).listItems(ctx, 'thr_1', {})).toEqual({
      data: [{ id: 'm1', type: 'user_message', created_at: at }],
      has_more: false,
    });
  });

  it('caps page sizes and treats 0 as the default', () => {
    const store = storeAnswering([]);
    expect(store.pageLimit(0)).toBe(20);
    expect(store.pageLimit(undefined)).toBe(20);
    expect(store.pageLimit(5000)).toBe(100);
  });
});
