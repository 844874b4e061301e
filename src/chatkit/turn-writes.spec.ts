import { TurnWrites } from 'src/chatkit/turn-writes';
import type { ThreadItem } from 'src/protocol/chatkit.schemas';

const item = (id: string, text = id): ThreadItem => ({
  type: 'hidden_context_item',
  id,
  thread_id: 'thr_1',
  created_at: '2026-01-01T00:00:00.000Z',
  content: text,
});

describe('TurnWrites.overlay', () => {
  it('shows stored items as they will be once the held writes are stored, newest `limit`', () => {
    const writes = new TurnWrites();
    expect(writes.pending).toBe(false);
    writes.upsert(item('b', 'b changed'));
    writes.delete('c');
    writes.upsert(item('d'));
    expect(writes.pending).toBe(true);
    const stored = [item('a'), item('b'), item('c')];
    expect(writes.overlay(stored, 10)).toEqual([item('a'), item('b', 'b changed'), item('d')]);
    expect(writes.overlay(stored, 2)).toEqual([item('b', 'b changed'), item('d')]);
  });
});
