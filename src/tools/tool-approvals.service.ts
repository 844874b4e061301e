/**
 * The user's answer to a confirmation card (tool-approval.ts): the `tool.approve` and `tool.deny`
 * widget actions, handed to the protocol layer as TOOL_APPROVAL_HANDLERS.
 *
 * The call comes from the card's stored item (the protocol layer loads the sender item of the
 * caller's thread, under the thread's run lease); the action's payload is never read. Approving
 * runs the call the way the model's call would have run (the HTTP tool's or the MCP server's own
 * limits, its span and metric), denying does not; either way the card is replaced by the
 * decision, the model gets what happened as hidden context and answers in the same stream. A
 * card already decided is refused: the decision is stored with the turn, in the statement that
 * releases the lease, so the next click on any replica reads it.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { ActionFollowUp, ActionHandler } from 'src/chatkit/chatkit.actions';
import { CustomStreamError } from 'src/chatkit/chatkit.errors';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { ThreadStreamEvent, WidgetItem } from 'src/protocol/chatkit.schemas';
import { toolCallSpan } from 'src/telemetry/tracer';
import { ToolCallError } from 'src/tools/http-tool';
import { textOf } from 'src/tools/mcp-server';
import {
  APPROVE_ACTION,
  DENY_ACTION,
  decidedCard,
  decidedItem,
  decisionContext,
  pendingCallOf,
  type PendingCall,
} from 'src/tools/tool-approval';
import { ConfiguredTools } from 'src/tools/tools.service';
import { WidgetTemplates } from 'src/widgets/widget-templates.service';

/** DI token for the two handlers; the app hands it to ChatKitModule.register's `actionHandlers`. */
export const TOOL_APPROVAL_HANDLERS = Symbol('TOOL_APPROVAL_HANDLERS');

interface Outcome {
  /** What the model reads. */
  output: string;
  /** A widget showing the result (an HTTP tool's template), when there is one. */
  widget?: WidgetItem['widget'];
}

@Injectable()
export class ToolApprovals {
  private readonly logger = new Logger(ToolApprovals.name);
  /** Told of every approved HTTP call that ran (the agent counts them like the model's calls). */
  onCall?: (toolName: string, outcome: 'ok' | 'error') => void;

  constructor(
    private readonly tools: ConfiguredTools,
    private readonly widgets: WidgetTemplates,
  ) {}

  get handlers(): ActionHandler[] {
    return [this.handler(APPROVE_ACTION, true), this.handler(DENY_ACTION, false)];
  }

  private handler(type: string, approve: boolean): ActionHandler {
    return {
      type,
      action: (thread, _action, sender, context, signal) =>
        this.decide(thread.id, sender, approve, context, signal),
      // The model continues after the decision, which needs a stream.
      sync: () =>
        Promise.reject(
          new AppException(
            ErrorCode.BadRequest,
            `${type} must be sent as a streaming action (threads.custom_action): the assistant answers after it`,
          ),
        ),
    };
  }

  private async *decide(
    threadId: string,
    sender: WidgetItem | null,
    approve: boolean,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncGenerator<ThreadStreamEvent, ActionFollowUp, undefined> {
    const call = pendingCallOf(sender);
    if (!sender || !call) throw new CustomStreamError('This is not a call waiting for approval.');
    if (call.status !== 'pending')
      throw new CustomStreamError(`This call was already ${call.status}; it is not run again.`);
    const ref = call.call_id ? ` (call ${call.call_id})` : '';

    if (!approve) {
      const denied: PendingCall = { ...call, status: 'denied' };
      yield {
        type: 'thread.item.replaced',
        item: decidedItem(sender, denied, decidedCard(denied, 'Not run.')),
      };
      yield {
        type: 'thread.item.done',
        item: decisionContext(
          threadId,
          context,
          `The user denied the call of ${call.tool}${ref}; it was not made. Do not call it again unless the user asks for it.`,
        ),
      };
      return { respond: true };
    }

    const approved: PendingCall = { ...call, status: 'approved' };
    yield {
      type: 'thread.item.replaced',
      item: decidedItem(sender, approved, decidedCard(approved, 'Running\u2026')),
    };
    const outcome = await this.run(call, context.request.userId, signal);
    yield {
      type: 'thread.item.replaced',
      item: decidedItem(sender, approved, decidedCard(approved, outcome.output)),
    };
    if (outcome.widget)
      yield {
        type: 'thread.item.done',
        item: {
          type: 'widget',
          id: context.generateId('message'),
          thread_id: threadId,
          created_at: context.now(),
          widget: outcome.widget,
        },
      };
    yield {
      type: 'thread.item.done',
      item: decisionContext(
        threadId,
        context,
        `The user approved the call of ${call.tool}${ref} with the arguments ${JSON.stringify(call.arguments)}. ` +
          `It was made; its result:\n${outcome.output}`,
      ),
    };
    return { respond: true };
  }

  /** Makes the stored call; a failure becomes words for the model, as during a run. */
  private async run(call: PendingCall, userId: string, signal: AbortSignal): Promise<Outcome> {
    const gone: Outcome = {
      output: `The tool ${call.tool} is no longer configured; the call was not made.`,
    };
    if (call.kind === 'http') {
      const tool = this.tools.httpTools.find((candidate) => candidate.name === call.source);
      if (!tool) return gone;
      try {
        const result = await toolCallSpan(tool.name, () => tool.execute(call.arguments, { userId }, signal));
        this.onCall?.(tool.name, 'ok');
        return { output: result.output, widget: this.widgetFor(tool.name, tool.widget, result.data) };
      } catch (error) {
        this.onCall?.(tool.name, 'error');
        return {
          output:
            error instanceof ToolCallError
              ? error.message
              : `The ${tool.name} tool failed unexpectedly; it may work if tried again later.`,
        };
      }
    }
    // The tools file may have changed since the card was shown: a tool it now hides is not run.
    const server = this.tools.mcpServers.find((candidate) => candidate.name === call.source);
    if (!server?.allows(call.tool)) return gone;
    try {
      return { output: textOf(await server.runApproved(call.tool, call.arguments, userId, signal)) };
    } catch (error) {
      return { output: server.describeFailure(error) };
    }
  }

  private widgetFor(
    tool: string,
    template: string | undefined,
    data: unknown,
  ): WidgetItem['widget'] | undefined {
    if (template === undefined || data === undefined) return undefined;
    const rendered = this.widgets.render(template, data);
    if (!rendered.widget && rendered.problem)
      this.logger.warn(`${tool}: widget "${template}" not shown: ${rendered.problem}`);
    return (rendered.widget ?? undefined) as WidgetItem['widget'] | undefined;
  }
}
