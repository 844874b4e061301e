import type { ThreadStreamEvent, WidgetItem } from 'src/protocol/chatkit.schemas';
import {
  APPROVAL_PENDING_OUTPUT,
  APPROVE_ACTION,
  DENY_ACTION,
  approvalCard,
  argumentLines,
  decidedCard,
  decidedItem,
  pendingCallOf,
  requestApproval,
  type PendingCall,
} from 'src/tools/tool-approval';
import { widgetProblems } from 'src/widgets/widget.template';

const call: PendingCall = {
  kind: 'http',
  source: 'refund_order',
  tool: 'refund_order',
  title: 'Refund an order',
  arguments: { order_id: 'A-17', amount: 12.5 },
  call_id: 'call_1',
  status: 'pending',
};

/** Every Button of a tree, depth first. */
function buttons(node: unknown): any[] {
  if (typeof node !== 'object' || node === null) return [];
  const children = (node as { children?: unknown }).children;
  const own = (node as { type?: unknown }).type === 'Button' ? [node] : [];
  return [...own, ...(Array.isArray(children) ? children.flatMap(buttons) : [])];
}

describe('the confirmation card', () => {
  it('is a valid widget asking about the call, with Approve and Deny that carry nothing that counts', () => {
    const card = approvalCard(call);
    expect(widgetProblems(card)).toBeNull();
    expect(JSON.stringify(card)).toContain('Allow Refund an order?');
    expect(JSON.stringify(card)).toContain('order_id: A-17');
    expect(JSON.stringify(card)).toContain('amount: 12.5');
    expect(buttons(card).map((b) => [b.label, b.onClickAction])).toEqual([
      ['Deny', { type: DENY_ACTION, payload: {} }],
      ['Approve', { type: APPROVE_ACTION, payload: {} }],
    ]);
  });

  it('shows the arguments as a few plain lines, each cut short', () => {
    const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`arg${i}`, i]));
    const lines = argumentLines({ ...many, arg0: 'x'.repeat(500), arg1: { nested: [1, 2] } });
    expect(lines).toHaveLength(9);
    expect(lines[0].length).toBeLessThanOrEqual('arg0: '.length + 120);
    expect(lines[0].endsWith('\u2026')).toBe(true);
    expect(lines[1]).toBe('arg1: {"nested":[1,2]}');
    expect(lines.at(-1)).toBe('\u2026and 3 more');
    expect(argumentLines({})).toEqual(['No arguments']);
  });

  it('once decided, is a valid widget without buttons', () => {
    for (const status of ['approved', 'denied'] as const) {
      const card = decidedCard({ ...call, status }, `HTTP 200\n${'y'.repeat(1000)}`);
      expect(widgetProblems(card)).toBeNull();
      expect(buttons(card)).toEqual([]);
      expect(JSON.stringify(card)).toContain(
        status === 'approved' ? 'Approved \u2014 Refund an order' : 'Denied \u2014 Refund an order',
      );
      expect(JSON.stringify(card).length).toBeLessThan(1000);
    }
  });
});

describe('requestApproval', () => {
  it('streams the card with the call stored beside it, and tells the model to wait', () => {
    const events: ThreadStreamEvent[] = [];
    const output = requestApproval(
      {
        thread: { id: 'thr_1' },
        responder: { generateId: () => 'msg_1', now: () => '2026-01-01T00:00:00.000Z' },
        emit: (event) => events.push(event),
      },
      { ...call, status: undefined } as Omit<PendingCall, 'status'>,
    );
    expect(output).toBe(APPROVAL_PENDING_OUTPUT);
    expect(events).toHaveLength(1);
    const item = (events[0] as { item: WidgetItem }).item;
    expect(item).toMatchObject({ type: 'widget', id: 'msg_1', thread_id: 'thr_1' });
    expect(pendingCallOf(item)).toEqual(call);

    const approved = decidedItem(item, { ...call, status: 'approved' }, decidedCard(call, 'done'));
    expect(pendingCallOf(approved)?.status).toBe('approved');
  });

  it('finds no call in an ordinary widget, or one whose stored call is malformed', () => {
    const plain: WidgetItem = {
      type: 'widget',
      id: 'msg_2',
      thread_id: 'thr_1',
      created_at: '2026-01-01T00:00:00.000Z',
      widget: { type: 'Card', children: [] },
    };
    expect(pendingCallOf(plain)).toBeUndefined();
    expect(pendingCallOf(null)).toBeUndefined();
    expect(
      pendingCallOf({ ...plain, metadata: { tool_approval: { tool: 'x' } } } as WidgetItem),
    ).toBeUndefined();
  });
});
