/**
 * Calls that wait for the user's approval (`require_approval` in the tools file). When the model
 * calls such a tool, the tool does not run: a confirmation card is streamed and stored as a
 * widget item, and the model reads that the call waits for the user. The call itself (which
 * tool, its arguments, the call id) is stored with the card, in the widget item's `metadata`:
 * server-private like a thread's, stripped from everything sent to the client (chatkit.wire).
 * The Approve and Deny buttons send an action with an empty payload; what runs when the user
 * approves is read from the stored item, never from the action, so a client cannot change it.
 *
 * Nothing is held in memory between requests: the card's item is the whole state, so any
 * replica can answer the click, after a restart too (ToolApprovals, tool-approvals.service).
 */
import { z } from 'zod';
import type { ThreadItem, ThreadStreamEvent, WidgetItem } from 'src/protocol/chatkit.schemas';
import type { IdKind } from 'src/common/ids';
import type { WidgetTreeRoot } from 'src/widgets/widget.schema';

export const APPROVE_ACTION = 'tool.approve';
export const DENY_ACTION = 'tool.deny';

/** What the model reads instead of a result while the call waits. */
export const APPROVAL_PENDING_OUTPUT =
  'This call needs the user\u2019s approval. A confirmation has been shown; wait for the user\u2019s decision. ' +
  'Tell the user briefly what you asked to do; do not call the tool again for this.';

/** The key of the widget item's `metadata` that holds the call. */
const KEY = 'tool_approval';

const ARGUMENT_LINES = 8;
const VALUE_CHARS = 120;
const RESULT_CHARS = 300;

export const PendingCallSchema = z.object({
  /** Which kind of tool runs it: an HTTP tool, or a tool of an MCP server. */
  kind: z.enum(['http', 'mcp']),
  /** The HTTP tool's or the MCP server's name in the tools file. */
  source: z.string(),
  tool: z.string(),
  /** What the card calls the tool (its display title, or its name). */
  title: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  call_id: z.string().optional(),
  status: z.enum(['pending', 'approved', 'denied']),
});
export type PendingCall = z.infer<typeof PendingCallSchema>;

/** The part of the agent's run context this needs (the agent's AgentRunContext has it). */
export interface ApprovalRunContext {
  thread: { id: string };
  responder: { generateId(kind: IdKind): string; now(): string };
  emit(event: ThreadStreamEvent): void;
}

/** A widget item with the server-private part the client never gets. */
export type ApprovalWidgetItem = WidgetItem & { metadata?: Record<string, unknown> };

/**
 * Shows the confirmation card for a call and stores the call with it; returns what the model
 * reads as the tool's result.
 */
export function requestApproval(context: ApprovalRunContext, call: Omit<PendingCall, 'status'>): string {
  const pending: PendingCall = { ...call, status: 'pending' };
  const item: ApprovalWidgetItem = {
    type: 'widget',
    id: context.responder.generateId('message'),
    thread_id: context.thread.id,
    created_at: context.responder.now(),
    widget: approvalCard(pending) as WidgetItem['widget'],
    metadata: { [KEY]: pending },
  };
  context.emit({ type: 'thread.item.done', item });
  return APPROVAL_PENDING_OUTPUT;
}

/** The call a card stands for, or undefined when the item is not an approval card. */
export function pendingCallOf(item: WidgetItem | null): PendingCall | undefined {
  const stored = (item as ApprovalWidgetItem | null)?.metadata?.[KEY];
  const parsed = PendingCallSchema.safeParse(stored);
  return parsed.success ? parsed.data : undefined;
}

/** The card after the decision: the call marked decided, a new tree without buttons. */
export function decidedItem(item: WidgetItem, call: PendingCall, widget: WidgetTreeRoot): ApprovalWidgetItem {
  return {
    ...item,
    widget: widget as WidgetItem['widget'],
    metadata: { ...(item as ApprovalWidgetItem).metadata, [KEY]: call },
  };
}

/** Context for the model only (never shown): what became of the call it asked for. */
export function decisionContext(
  threadId: string,
  context: { generateId(kind: IdKind): string; now(): string },
  text: string,
): ThreadItem {
  return {
    type: 'hidden_context_item',
    id: context.generateId('message'),
    thread_id: threadId,
    created_at: context.now(),
    content: text,
  };
}

const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}\u2026`;

/**
 * The arguments as a few plain lines (`name: value`), each value cut short. Plain text, never
 * Markdown: the model wrote them, and a link or an image in them must not render.
 */
export function argumentLines(args: Record<string, unknown>): string[] {
  const entries = Object.entries(args);
  if (entries.length === 0) return ['No arguments'];
  const lines = entries
    .slice(0, ARGUMENT_LINES)
    .map(
      ([key, value]) =>
        `${key}: ${cut(typeof value === 'string' ? value : JSON.stringify(value), VALUE_CHARS)}`,
    );
  if (entries.length > ARGUMENT_LINES) lines.push(`\u2026and ${entries.length - ARGUMENT_LINES} more`);
  return lines;
}

/** The confirmation: what would run, with Approve and Deny. The buttons carry nothing that counts. */
export function approvalCard(call: PendingCall): WidgetTreeRoot {
  return {
    type: 'Card',
    size: 'md',
    children: [
      { type: 'Title', value: `Allow ${call.title}?`, size: 'sm' },
      {
        type: 'Col',
        gap: 1,
        children: argumentLines(call.arguments).map((line) => ({
          type: 'Text' as const,
          value: line,
          size: 'sm' as const,
          color: 'secondary',
        })),
      },
      {
        type: 'Row',
        gap: 2,
        justify: 'end',
        children: [
          {
            type: 'Button',
            label: 'Deny',
            style: 'secondary',
            onClickAction: { type: DENY_ACTION, payload: {} },
          },
          {
            type: 'Button',
            label: 'Approve',
            style: 'primary',
            onClickAction: { type: APPROVE_ACTION, payload: {} },
          },
        ],
      },
    ],
  };
}

/** The card once decided: no buttons, what happened, and a short look at the result. */
export function decidedCard(call: PendingCall, outcome: string): WidgetTreeRoot {
  const approved = call.status === 'approved';
  return {
    type: 'Card',
    size: 'md',
    children: [
      {
        type: 'Row',
        gap: 2,
        children: [
          { type: 'Icon', name: approved ? 'check-circle' : 'empty-circle', color: 'secondary' },
          { type: 'Title', value: `${approved ? 'Approved' : 'Denied'} \u2014 ${call.title}`, size: 'sm' },
        ],
      },
      { type: 'Text', value: cut(outcome, RESULT_CHARS), size: 'sm', color: 'secondary' },
    ],
  };
}
