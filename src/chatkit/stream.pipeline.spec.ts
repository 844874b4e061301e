import { AssistantMessageBuilder } from 'src/chatkit/assistant-message.builder';
import { CANCELLED_MARKER, ThreadChanges, applyThreadChange, runPipeline } from 'src/chatkit/stream.pipeline';
import { TurnWrites } from 'src/chatkit/turn-writes';
import type { ThreadItem, ThreadMetadata, ThreadStreamEvent } from 'src/protocol/chatkit.schemas';

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

describe('partial answers', () => {
  /** Runs the pipeline and stops reading after `read` of the responder's events. */
  async function cancelAfter(events: ThreadStreamEvent[], read: number): Promise<ThreadItem[]> {
    const writes = new TurnWrites();
    async function* responder(): AsyncGenerator<ThreadStreamEvent> {
      yield* events;
    }
    const pipeline = runPipeline(
      writes,
      thread(),
      new ThreadChanges(),
      responder(),
      new AbortController().signal,
      { allowCancel: true, idleTimeoutMs: 0 },
    );
    await pipeline.next(); // stream_options
    for (let i = 0; i < read; i++) await pipeline.next();
    await pipeline.return('cancelled');
    return writes.take().upserts;
  }

  it("stores a builder's message as of the last event sent, though the builder went further", async () => {
    const b = new AssistantMessageBuilder({
      id: 'msg_1',
      threadId: 'thr_1',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    // Computed ahead, as the agent's mapper does for one model event.
    const events = [
      b.start(),
      b.addPart(0, { type: 'output_text', text: '', annotations: [] }),
      b.appendText(0, 'Sent'),
      b.appendText(0, ' not sent'),
    ];
    const saved = await cancelAfter(events, 3);
    expect(saved[0]).toEqual({
      ...b.message(),
      content: [{ type: 'output_text', text: 'Sent', annotations: [] }],
    });
    expect(saved[1]).toMatchObject({ type: 'sdk_hidden_context', content: CANCELLED_MARKER });
  });

  it('rebuilds a message from hand-written events the same way', async () => {
    const events = new AssistantMessageBuilder({
      id: 'msg_1',
      threadId: 'thr_1',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    // Copies are not the builder's events, so the pipeline applies them itself.
    const raw = [
      events.start(),
      events.addPart(0, { type: 'output_text', text: '', annotations: [] }),
      events.appendText(0, 'Sent'),
      events.appendText(0, ' not sent'),
    ].map((e) => structuredClone(e));
    const saved = await cancelAfter(raw, 3);
    expect(saved[0]).toMatchObject({
      id: 'msg_1',
      content: [{ type: 'output_text', text: 'Sent', annotations: [] }],
    });
  });
});
