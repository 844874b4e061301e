import { ThreadChanges, applyThreadChange } from 'src/chatkit/stream.pipeline';
import type { ThreadMetadata } from 'src/protocol/chatkit.schemas';

function thread(): ThreadMetadata {
  return {
    id: 'thr_1',
    created_at: '2026-01-01T00:00:00.000Z',
    title: 'Old',
    status: { type: 'active' },
    metadata: { usage: { requests: 1 } },
  };
}

describe('thread changes', () => {
  it('merges what a responder records until the pipeline takes it, later values winning', () => {
    const changes = new ThreadChanges();
    expect(changes.take()).toBeNull();
    changes.record({ title: 'First' });
    changes.record({ metadata: { usage: { requests: 2 } } });
    changes.record({ title: 'Second' });
    expect(changes.take()).toEqual({ title: 'Second', metadata: { usage: { requests: 2 } } });
    expect(changes.take()).toBeNull();
  });

  it('tells a visible change from a private one, and an unchanged value from either', () => {
    const t = thread();
    expect(applyThreadChange(t, { title: 'Old', metadata: { usage: { requests: 1 } } })).toEqual({
      stored: false,
      visible: false,
    });
    expect(applyThreadChange(t, { metadata: { usage: { requests: 2 } } })).toEqual({
      stored: true,
      visible: false,
    });
    expect(t.metadata).toEqual({ usage: { requests: 2 } });
    expect(applyThreadChange(t, { title: 'New' })).toEqual({ stored: true, visible: true });
    expect(applyThreadChange(t, { status: { type: 'closed', reason: 'done' } })).toEqual({
      stored: true,
      visible: true,
    });
    expect(t).toMatchObject({ title: 'New', status: { type: 'closed', reason: 'done' } });
  });
});
