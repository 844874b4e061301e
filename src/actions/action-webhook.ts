/**
 * One configured action webhook: the ActionHandler that answers a widget action by POSTing it,
 * signed, to the operator's endpoint and turning the answer into thread changes. Both
 * `threads.custom_action` (streamed) and `threads.sync_custom_action` (JSON) go through it.
 *
 * The URL is the operator's own configuration, so private addresses are allowed (a webhook is
 * usually an internal service). Every call has a deadline and a cap on the answer's size. Logs
 * name the action type, the HTTP status and what was wrong with the answer, never its content,
 * the payload or the user's data.
 */
import { createHmac } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { z } from 'zod';
import type { ActionFollowUp, ActionHandler } from 'src/chatkit/chatkit.actions';
import { CustomStreamError } from 'src/chatkit/chatkit.errors';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';
import { AppException } from 'src/common/app.exception';
import { formatZodError } from 'src/common/zod-errors';
import type {
  Action,
  AssistantMessageItem,
  ThreadItem,
  ThreadMetadata,
  ThreadStreamEvent,
  WidgetItem,
} from 'src/protocol/chatkit.schemas';
import type { ActionWebhookConfig } from 'src/actions/actions.config';
import type { ActionsMetrics, WebhookOutcome } from 'src/actions/actions.metrics';
import type { WidgetTreeRoot } from 'src/widgets/widget.schema';
import type { WidgetTemplates } from 'src/widgets/widget-templates.service';
import { asWidget, widgetProblems } from 'src/widgets/widget.template';

/** The codes of a failed sync action's error body (the streamed action gets an error event). */
export enum ActionErrorCode {
  WebhookFailed = 'action_webhook_failed',
  WebhookTimeout = 'action_webhook_timeout',
}

/** The largest answer read; a bigger one is a failed call. */
export const MAX_ANSWER_BYTES = 256 * 1024;
const MAX_TEXT_CHARS = 16_000;

export const SIGNATURE_HEADER = 'X-ChatKit-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the header the endpoint checks. */
export function signature(secret: string, body: string, at: number = Date.now()): string {
  const t = Math.floor(at / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/** What the endpoint may answer; every field is optional, `{}` changes nothing. */
const AnswerSchema = z.strictObject({
  /** A widget tree, or `{ template, data }` naming a template of AGENT_WIDGETS_DIR. */
  replace_widget: z
    .union([
      z.strictObject({ template: z.string().min(1), data: z.unknown().optional() }),
      z.looseObject({ type: z.string() }),
    ])
    .optional(),
  add_message: z.string().min(1).max(MAX_TEXT_CHARS).optional(),
  /** Context the model sees in later turns and the user never does. */
  hidden_context: z.string().min(1).max(MAX_TEXT_CHARS).optional(),
  start_turn: z.boolean().optional(),
});
type Answer = z.infer<typeof AnswerSchema>;

/** Why a call failed, worded for the user (streams) and mapped to 502/504 (sync). */
class WebhookFailure extends Error {
  constructor(
    readonly reason: string,
    readonly outcome: Exclude<WebhookOutcome, 'ok'>,
  ) {
    super(reason);
  }

  get timedOut(): boolean {
    return this.outcome === 'timeout';
  }
}

export class ActionWebhook implements ActionHandler {
  private readonly logger = new Logger('ActionWebhook');
  readonly type: string;

  constructor(
    private readonly config: ActionWebhookConfig,
    private readonly widgets: WidgetTemplates,
    private readonly metrics: ActionsMetrics,
  ) {
    this.type = config.type;
  }

  async *action(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncGenerator<ThreadStreamEvent, ActionFollowUp, undefined> {
    let answer: Answer;
    let widget: WidgetTreeRoot | null;
    try {
      ({ answer, widget } = await this.call(thread, action, sender, context, false, signal));
    } catch (error) {
      if (!(error instanceof WebhookFailure)) throw error;
      throw new CustomStreamError(
        error.timedOut
          ? 'This action could not be completed: the service did not answer in time. Please try again.'
          : 'This action could not be completed. Please try again later.',
        true,
      );
    }
    if (widget) {
      yield sender
        ? { type: 'thread.item.replaced', item: { ...sender, widget } }
        : { type: 'thread.item.done', item: this.newWidget(thread, widget, context) };
    }
    if (answer.hidden_context)
      await context.saveItem(this.hiddenContext(thread, answer.hidden_context, context));
    if (answer.add_message)
      yield { type: 'thread.item.done', item: this.message(thread, answer.add_message, context) };
    return { respond: answer.start_turn === true };
  }

  async sync(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
  ): Promise<{ updated_item?: ThreadItem | null }> {
    let answer: Answer;
    let widget: WidgetTreeRoot | null;
    try {
      ({ answer, widget } = await this.call(thread, action, sender, context, true));
    } catch (error) {
      if (!(error instanceof WebhookFailure)) throw error;
      throw error.timedOut
        ? new AppException(
            ActionErrorCode.WebhookTimeout,
            `the endpoint for action "${this.type}" did not answer within ${this.config.timeoutMs} ms`,
            504,
          )
        : new AppException(
            ActionErrorCode.WebhookFailed,
            `the endpoint for action "${this.type}" failed: ${error.reason}`,
            502,
          );
    }
    // No stream to show them on: stored, they appear when the thread is next loaded.
    if (answer.hidden_context)
      await context.saveItem(this.hiddenContext(thread, answer.hidden_context, context));
    if (answer.add_message) await context.saveItem(this.message(thread, answer.add_message, context));
    if (answer.start_turn)
      this.logger.warn(`action "${this.type}": start_turn is ignored for threads.sync_custom_action`);
    return widget && sender ? { updated_item: { ...sender, widget } } : {};
  }

  // ------------------------------------------------------------------------------ the call

  private async call(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
    sync: boolean,
    signal?: AbortSignal,
  ): Promise<{ answer: Answer; widget: WidgetTreeRoot | null }> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const answer = await this.send(thread, action, sender, context, sync, signal);
      const widget = this.widgetOf(answer);
      // A sync answer can only update the widget the client sent the action from.
      if (widget && sync && !sender)
        throw this.failure('replace_widget needs the widget that sent the action (item_id)', 'bad_answer');
      this.metrics.call(this.type, 'ok', seconds());
      return { answer, widget };
    } catch (error) {
      if (error instanceof WebhookFailure) this.metrics.call(this.type, error.outcome, seconds());
      throw error;
    }
  }

  private async send(
    thread: ThreadMetadata,
    action: Action,
    sender: WidgetItem | null,
    context: ResponderContext,
    sync: boolean,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const body = JSON.stringify({
      type: action.type,
      payload: action.payload ?? null,
      thread_id: thread.id,
      item_id: sender?.id ?? null,
      user: { id: context.request.userId, org_id: context.request.orgId ?? null },
      widget: sender?.widget ?? null,
      sync,
    });
    const deadline = AbortSignal.timeout(this.config.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          ...this.config.headers,
          'Content-Type': 'application/json',
          [SIGNATURE_HEADER]: signature(this.config.secret, body),
        },
        body,
        redirect: 'error',
        signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
      });
      text = await readCapped(response, MAX_ANSWER_BYTES);
    } catch (error) {
      if (signal?.aborted) throw error;
      if (deadline.aborted) throw this.failure(`no answer within ${this.config.timeoutMs} ms`, 'timeout');
      if (error instanceof WebhookFailure) throw this.failure(error.reason, error.outcome);
      throw this.failure(
        `the request failed (${(error as { cause?: { code?: string } }).cause?.code ?? 'network error'})`,
        'unreachable',
      );
    }
    if (!response.ok) throw this.failure(`it answered HTTP ${response.status}`, 'http_error');
    let json: unknown;
    try {
      json = text.trim() ? JSON.parse(text) : {};
    } catch {
      throw this.failure('the answer is not JSON', 'bad_answer');
    }
    const parsed = AnswerSchema.safeParse(json);
    if (!parsed.success)
      throw this.failure(`the answer is not valid: ${formatZodError(parsed.error, json)}`, 'bad_answer');
    return parsed.data;
  }

  /** The widget the answer asks for, checked against the widget schema; null when none. */
  private widgetOf(answer: Answer): WidgetTreeRoot | null {
    const replace = answer.replace_widget;
    if (!replace) return null;
    const template = typeof replace.template === 'string' && !('type' in replace);
    if (template && !this.widgets.has(replace.template as string))
      throw this.failure(
        `replace_widget: no widget template named "${String(replace.template)}"`,
        'bad_answer',
      );
    if (!template) {
      // A tree the endpoint wrote is taken as it is: no placeholders are filled in it.
      const problem = widgetProblems(replace);
      if (problem) throw this.failure(`replace_widget: ${problem}`, 'bad_answer');
      return asWidget(replace);
    }
    const rendered = this.widgets.render(replace.template as string, replace.data);
    if (!rendered.widget)
      throw this.failure(
        `replace_widget: ${rendered.problem ?? 'the template made no widget'}`,
        'bad_answer',
      );
    return rendered.widget;
  }

  private failure(reason: string, outcome: WebhookFailure['outcome']): WebhookFailure {
    this.logger.warn(`action "${this.type}": ${reason}`);
    return new WebhookFailure(reason, outcome);
  }

  // ------------------------------------------------------------------------------ items

  private message(thread: ThreadMetadata, text: string, context: ResponderContext): AssistantMessageItem {
    return {
      type: 'assistant_message',
      id: context.generateId('message'),
      thread_id: thread.id,
      created_at: context.now(),
      content: [{ type: 'output_text', text, annotations: [] }],
    };
  }

  private newWidget(thread: ThreadMetadata, widget: WidgetTreeRoot, context: ResponderContext): WidgetItem {
    return {
      type: 'widget',
      id: context.generateId('message'),
      thread_id: thread.id,
      created_at: context.now(),
      widget,
    };
  }

  private hiddenContext(thread: ThreadMetadata, content: string, context: ResponderContext): ThreadItem {
    return {
      type: 'hidden_context_item',
      id: context.generateId('message'),
      thread_id: thread.id,
      created_at: context.now(),
      content,
    };
  }
}

/** The body as text, refusing more than `max` bytes without reading the rest. */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > max) {
    await response.body?.cancel();
    throw new WebhookFailure(`the answer is larger than ${max} bytes`, 'bad_answer');
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new WebhookFailure(`the answer is larger than ${max} bytes`, 'bad_answer');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
