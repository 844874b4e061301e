import { AssistantMessageBuilder, messageAfter } from 'src/chatkit/assistant-message.builder';
import { applyUpdate } from 'src/chatkit/stream.pipeline';
import type { Annotation, ThreadItem, ThreadStreamEvent } from 'src/protocol/chatkit.schemas';

const start = { id: 'msg_1', threadId: 'thr_1', createdAt: '2026-01-01T00:00:00.000Z' };
const cite = (url: string, index: number): Annotation => ({
  type: 'annotation',
  source: { type: 'url', url, title: url },
  index,
});

/** What a client holds after `events`, folded the way the pipeline's fallback does. */
function replay(events: ThreadStreamEvent[]): ThreadItem | undefined {
  let item: ThreadItem | undefined;
  for (const event of events) {
    if (event.type === 'thread.item.added' || event.type === 'thread.item.done')
      item = structuredClone(event.item);
    if (event.type === 'thread.item.updated' && item) applyUpdate(item, event.update);
  }
  return item;
}

describe('AssistantMessageBuilder', () => {
  it('emits added, part added, deltas, part done and done in order, with the wire key order', () => {
    const b = new AssistantMessageBuilder(start);
    const events = [
      b.start(),
      b.addPart(0, { type: 'output_text', text: '', annotations: [] }),
      b.appendText(0, 'Hel'),
      b.appendText(0, 'lo'),
      b.finishPart(0),
      b.done(),
    ];
    expect(events.map((e) => (e.type === 'thread.item.updated' ? e.update.type : e.type))).toEqual([
      'thread.item.added',
      'assistant_message.content_part.added',
      'assistant_message.content_part.text_delta',
      'assistant_message.content_part.text_delta',
      'assistant_message.content_part.done',
      'thread.item.done',
    ]);
    expect(JSON.stringify(events[0])).toBe(
      '{"type":"thread.item.added","item":{"id":"msg_1","thread_id":"thr_1","created_at":"2026-01-01T00:00:00.000Z","type":"assistant_message","content":[]}}',
    );
    expect(JSON.stringify(events[2])).toBe(
      '{"type":"thread.item.updated","item_id":"msg_1","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"Hel"}}',
    );
    expect(events[5]).toEqual({
      type: 'thread.item.done',
      item: {
        ...replay(events.slice(0, 5)),
        content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
      },
    });
  });

  it('gives, after any N events, the message those N events describe', () => {
    const b = new AssistantMessageBuilder(start);
    const events = [b.start(), b.addPart(0, { type: 'output_text', text: '', annotations: [] })];
    for (const piece of ['One', ' two', ' three', ' four']) events.push(b.appendText(0, piece));
    for (let n = 1; n <= events.length; n++) {
      expect(messageAfter(events[n - 1])).toEqual(replay(events.slice(0, n)));
    }
    expect(b.message()).toEqual(replay(events));
    expect(b.text()).toBe('One two three four');
  });

  it('keeps each snapshot as it was, though the builder goes on', () => {
    const b = new AssistantMessageBuilder(start);
    b.start();
    b.addPart(0, { type: 'output_text', text: '', annotations: [] });
    const early = b.appendText(0, 'a');
    b.appendText(0, 'b');
    b.addAnnotation(0, cite('https://x.test', 2));
    expect(messageAfter(early)?.content).toEqual([{ type: 'output_text', text: 'a', annotations: [] }]);
    expect(messageAfter({ type: 'progress_update', text: 'x' })).toBeUndefined();
  });

  it('numbers annotations per part and carries them into the part and the final item', () => {
    const b = new AssistantMessageBuilder(start);
    const events = [b.start(), b.addPart(0, { type: 'output_text', text: '', annotations: [] })];
    events.push(b.appendText(0, 'Cited.'));
    events.push(b.addAnnotation(0, cite('https://a.test', 6)));
    events.push(b.addAnnotation(0, cite('https://b.test', 6)));
    const [first, second] = events.slice(3) as Extract<ThreadStreamEvent, { type: 'thread.item.updated' }>[];
    expect(first.update).toMatchObject({ annotation_index: 0, content_index: 0 });
    expect(second.update).toMatchObject({ annotation_index: 1, content_index: 0 });
    events.push(b.finishPart(0), b.done());
    expect(b.message().content[0].annotations).toEqual([
      cite('https://a.test', 6),
      cite('https://b.test', 6),
    ]);
    expect(messageAfter(events[4])).toEqual(replay(events.slice(0, 5)));
  });

  it('assembles several content parts, padding a part that skips ahead', () => {
    const b = new AssistantMessageBuilder(start);
    const events = [b.start()];
    events.push(b.addPart(0, { type: 'output_text', text: '', annotations: [] }));
    events.push(b.appendText(0, 'first'));
    events.push(b.finishPart(0));
    events.push(b.addPart(2, { type: 'output_text', text: '', annotations: [] }));
    events.push(b.appendText(2, 'third'));
    events.push(b.addAnnotation(2, cite('https://c.test', 5)));
    for (let n = 1; n <= events.length; n++) {
      expect(messageAfter(events[n - 1])).toEqual(replay(events.slice(0, n)));
    }
    events.push(b.finishPart(2, 'third, final'));
    expect(b.message().content.map((p) => p.text)).toEqual(['first', '', 'third, final']);
    expect(b.done()).toEqual({ type: 'thread.item.done', item: replay(events) });
  });

  it('never hands out what it changes later', () => {
    const b = new AssistantMessageBuilder(start);
    const added = b.start();
    const part = { type: 'output_text' as const, text: '', annotations: [] };
    const partAdded = b.addPart(0, part);
    b.appendText(0, 'later');
    expect(added).toMatchObject({ item: { content: [] } });
    expect(partAdded).toMatchObject({ update: { content: { text: '' } } });
    const message = b.message();
    b.appendText(0, '!');
    expect(message.content[0].text).toBe('later');
  });
});
