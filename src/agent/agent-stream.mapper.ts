/**
 * Agents SDK run events → ChatKit thread stream events (fact sheet §7.2). On the Responses API
 * the raw Responses events drive everything: assistant messages keep the Responses item id,
 * content parts, text deltas and citations stream as they arrive, reasoning summaries become
 * thought tasks of a `reasoning` workflow. On Chat Completions only normalised text deltas and
 * citation chunks exist, so the message id is generated. Server tool calls show a progress line
 * and a `custom` task (replayed to the model in later turns); a client tool call ends the turn
 * with a pending `client_tool_call` item.
 *
 * The mapper never swallows a failure: a model or connection error is re-thrown after whatever
 * was already streamed, and a guardrail tripwire first retracts every item of the run. It never
 * emits an object it will mutate later (every emitted item is a copy).
 */
import {
  InputGuardrailTripwireTriggered,
  OutputGuardrailTripwireTriggered,
  isOpenAIChatCompletionsRawModelStreamEvent,
  isOpenAIResponsesRawModelStreamEvent,
} from '@openai/agents';
import type { RunStreamEvent } from '@openai/agents';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { ToolDisplay, ToolOutput } from 'src/agent/agent-tools.registry';
import { AssistantMessageBuilder } from 'src/chatkit/assistant-message.builder';
import type {
  Annotation,
  AssistantMessageContent,
  ClientToolCallItem,
  Task,
  ThreadItem,
  ThreadItemUpdate,
  ThreadStreamEvent,
  WorkflowItem,
} from 'src/protocol/chatkit.schemas';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';

/** The part of `StreamedRunResult` the mapper needs. */
export interface AgentRunStream extends AsyncIterable<RunStreamEvent> {
  readonly cancelled: boolean;
  readonly error: unknown;
}

export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** The part of inputTokens served from the prompt cache (0 when the server does not say). */
  cachedInputTokens: number;
  /** The part of outputTokens spent on reasoning (0 when the server does not say). */
  reasoningTokens: number;
}

/**
 * One count from the SDK's token details: a record per response (`cached_tokens`,
 * `reasoning_tokens`), or a list of them when the SDK merged several responses' details.
 */
export function tokenDetail(details: unknown, key: string): number {
  const list = Array.isArray(details) ? (details as unknown[]) : [details];
  let sum = 0;
  for (const entry of list) {
    const value = entry && typeof entry === 'object' ? (entry as Record<string, unknown>)[key] : undefined;
    if (typeof value === 'number' && Number.isFinite(value)) sum += value;
  }
  return sum;
}

export interface StreamMapperOptions {
  threadId: string;
  context: Pick<ResponderContext, 'generateId' | 'now' | 'saveItem'>;
  isClientTool(name: string): boolean;
  toolDisplay(name: string): ToolDisplay;
  /** A workflow the previous turn left open (it ended in a client tool call): continue it. */
  openWorkflow?: WorkflowItem;
  /** `created_at` of the newest stored item: new items are stamped strictly after it. */
  notBefore?: string;
  /** Events tools emitted while running, streamed before the next model event. */
  takeToolEvents?(): ThreadStreamEvent[];
  onFirstToken?(): void;
  /**
   * Annotations for a finished content part from the outputs the run's tools returned, e.g.
   * `[1]` markers that cite a search result. Added to those the model itself streamed.
   */
  annotate?(text: string, toolOutputs: readonly ToolOutput[]): Annotation[];
  /** Called once per model response with that response's token counts. */
  onUsage?(usage: RunUsage): void;
}

export interface StreamSummary {
  outcome: 'completed' | 'client_tool' | 'cancelled';
  /** The text of the assistant messages completed in this run. */
  answer: string;
  clientToolCall?: { name: string; arguments: Record<string, unknown> };
}

type ResponsesEvent = ResponseStreamEvent;
type RawAnnotation = Extract<ResponsesEvent, { type: 'response.output_text.annotation.added' }>['annotation'];

/** Responses/Chat citation → ChatKit annotation; file paths and unknown kinds are dropped. */
export function convertAnnotation(raw: unknown): Annotation | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const a = raw as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const int = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
  switch (a.type) {
    case 'url_citation': {
      // Chat Completions nests the fields under `url_citation`.
      const c = (
        typeof a.url_citation === 'object' && a.url_citation !== null ? a.url_citation : a
      ) as Record<string, unknown>;
      const url = str(c.url);
      if (!url) return undefined;
      return {
        type: 'annotation',
        source: { type: 'url', url, title: str(c.title) ?? url },
        index: int(c.end_index),
      };
    }
    case 'file_citation': {
      const filename = str(a.filename);
      if (!filename) return undefined;
      return { type: 'annotation', source: { type: 'file', filename, title: filename }, index: int(a.index) };
    }
    case 'container_file_citation': {
      const filename = str(a.filename);
      if (!filename) return undefined;
      return {
        type: 'annotation',
        source: { type: 'file', filename, title: filename },
        index: int(a.end_index),
      };
    }
    default:
      return undefined;
  }
}

/** Tool arguments as a short human-readable line for the workflow task (and later prompts). */
export function describeToolArguments(raw: string, maxChars = 300): string {
  let text = raw;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      text = Object.entries(parsed)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join('; ');
    }
  } catch {
    // Not JSON: show it as it came.
  }
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

function isGuardrailTripwire(error: unknown): boolean {
  return (
    error instanceof InputGuardrailTripwireTriggered || error instanceof OutputGuardrailTripwireTriggered
  );
}

const clone = <T>(value: T): T => structuredClone(value);

const sameAnnotation = (a: Annotation, b: Annotation): boolean => JSON.stringify(a) === JSON.stringify(b);

class StreamMapper {
  /** Ids of the items this run created, retracted if a guardrail trips. */
  readonly produced: string[] = [];
  private source: string | undefined;
  private readonly messages = new Map<string, AssistantMessageBuilder>();
  private chatMessage: AssistantMessageBuilder | undefined;
  private chatAnnotations: Annotation[] = [];
  private workflow: WorkflowItem | undefined;
  private readonly thoughts = new Map<string, number>();
  private readonly toolTasks = new Map<string, number>();
  private readonly toolOutputs: ToolOutput[] = [];
  private clientCall: ClientToolCallItem | undefined;
  private firstTokenSeen = false;
  private answer = '';
  private lastStamp: number;

  constructor(private readonly options: StreamMapperOptions) {
    if (options.openWorkflow) this.workflow = clone(options.openWorkflow);
    this.lastStamp = options.notBefore ? Date.parse(options.notBefore) : Number.NEGATIVE_INFINITY;
  }

  /**
   * `created_at` for a new item: the context's clock, nudged to stay strictly increasing. Items
   * are ordered by (created_at, id), and Responses ids are random, so two items stamped in the
   * same millisecond could otherwise come back from the store in the wrong order.
   */
  private stamp(): string {
    const ms = Math.max(Date.parse(this.options.context.now()), this.lastStamp + 1);
    this.lastStamp = ms;
    return new Date(ms).toISOString();
  }

  handle(event: RunStreamEvent): ThreadStreamEvent[] {
    const out = this.options.takeToolEvents?.() ?? [];
    for (const e of out) this.track(e);
    if (event.type === 'raw_model_stream_event') {
      if (isOpenAIResponsesRawModelStreamEvent(event)) {
        this.source = event.source;
        out.push(...this.responsesEvent(event.data.event));
      } else if (isOpenAIChatCompletionsRawModelStreamEvent(event)) {
        this.source = event.source;
        const annotations = event.data.event.choices?.[0]?.delta as { annotations?: unknown } | undefined;
        if (Array.isArray(annotations?.annotations))
          out.push(...this.chatAnnotationsArrived(annotations.annotations));
      } else if (event.data.type === 'response_started') {
        this.source = undefined;
      } else if (event.data.type === 'output_text_delta' && this.source !== 'openai-responses') {
        out.push(...this.chatDelta(event.data.delta));
      } else if (event.data.type === 'response_done') {
        const usage = event.data.response.usage;
        this.options.onUsage?.({
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          totalTokens: usage.totalTokens,
          cachedInputTokens: tokenDetail(usage.inputTokensDetails, 'cached_tokens'),
          reasoningTokens: tokenDetail(usage.outputTokensDetails, 'reasoning_tokens'),
        });
        out.push(...this.closeChatMessage());
      }
    } else if (event.type === 'run_item_stream_event') {
      const item = event.item as { rawItem: unknown; output?: unknown };
      out.push(...this.runItem(event.name, item.rawItem as Record<string, unknown>, item.output));
    }
    return out;
  }

  /** What is left to say once the SDK stream ended normally. */
  async finish(): Promise<{ events: ThreadStreamEvent[]; summary: StreamSummary }> {
    const events = this.options.takeToolEvents?.() ?? [];
    events.push(...this.closeChatMessage());
    if (this.clientCall) {
      if (this.workflow) {
        // Left open on purpose: the next turn (after the client's result) continues it.
        await this.options.context.saveItem(clone(this.workflow));
      }
      events.push({ type: 'thread.item.done', item: clone(this.clientCall) });
      const { name, arguments: args } = this.clientCall;
      return {
        events,
        summary: { outcome: 'client_tool', answer: this.answer, clientToolCall: { name, arguments: args } },
      };
    }
    events.push(...this.closeWorkflow());
    return { events, summary: { outcome: 'completed', answer: this.answer } };
  }

  /** Items tools streamed themselves belong to the run too (a guardrail retracts them). */
  private track(event: ThreadStreamEvent): void {
    const created =
      event.type === 'thread.item.added' || event.type === 'thread.item.done' ? event.item.id : undefined;
    if (created !== undefined && !this.produced.includes(created)) this.produced.push(created);
  }

  private added(item: ThreadItem): ThreadStreamEvent {
    this.produced.push(item.id);
    return { type: 'thread.item.added', item: clone(item) };
  }

  private updated(itemId: string, update: ThreadItemUpdate): ThreadStreamEvent {
    return { type: 'thread.item.updated', item_id: itemId, update: clone(update) };
  }

  private firstToken(): void {
    if (this.firstTokenSeen) return;
    this.firstTokenSeen = true;
    this.options.onFirstToken?.();
  }

  // ---- workflows ------------------------------------------------------------------------------

  private startWorkflow(type: 'custom' | 'reasoning', tasks: Task[]): ThreadStreamEvent {
    this.workflow = {
      id: this.options.context.generateId('workflow'),
      thread_id: this.options.threadId,
      created_at: this.stamp(),
      type: 'workflow',
      workflow: { type, tasks, expanded: false },
    };
    return this.added(this.workflow);
  }

  private addTask(task: Task): { events: ThreadStreamEvent[]; index: number } {
    if (!this.workflow) return { events: [this.startWorkflow('custom', [task])], index: 0 };
    const index = this.workflow.workflow.tasks.push(task) - 1;
    return {
      events: [this.updated(this.workflow.id, { type: 'workflow.task.added', task_index: index, task })],
      index,
    };
  }

  private updateTask(index: number, change: (task: Task) => void): ThreadStreamEvent[] {
    const task = this.workflow?.workflow.tasks[index];
    if (!this.workflow || !task) return [];
    change(task);
    return [this.updated(this.workflow.id, { type: 'workflow.task.updated', task_index: index, task })];
  }

  private closeWorkflow(): ThreadStreamEvent[] {
    const workflow = this.workflow;
    if (!workflow) return [];
    this.workflow = undefined;
    this.thoughts.clear();
    this.toolTasks.clear();
    const elapsedMs = Date.parse(this.options.context.now()) - Date.parse(workflow.created_at);
    workflow.workflow.summary ??= { duration: Math.max(0, Math.round(elapsedMs / 1000)) };
    workflow.workflow.expanded = false;
    return [{ type: 'thread.item.done', item: clone(workflow) }];
  }

  private thought(key: string, text: string, mode: 'delta' | 'done'): ThreadStreamEvent[] {
    const events: ThreadStreamEvent[] = [];
    if (!this.workflow) events.push(this.startWorkflow('reasoning', []));
    const index = this.thoughts.get(key);
    if (index !== undefined) {
      events.push(
        ...this.updateTask(index, (task) => {
          if (task.type === 'thought') task.content = mode === 'delta' ? task.content + text : text;
        }),
      );
      if (mode === 'done') this.thoughts.delete(key);
      return events;
    }
    const added = this.addTask({ type: 'thought', content: text, status_indicator: 'none' });
    if (mode === 'delta') this.thoughts.set(key, added.index);
    return [...events, ...added.events];
  }

  // ---- assistant messages -----------------------------------------------------------------------

  private openMessage(id: string, content: AssistantMessageContent[]): AssistantMessageBuilder {
    return new AssistantMessageBuilder({
      id,
      threadId: this.options.threadId,
      createdAt: this.stamp(),
      content,
    });
  }

  private startMessage(message: AssistantMessageBuilder): ThreadStreamEvent {
    this.produced.push(message.id);
    return message.start();
  }

  private textDelta(message: AssistantMessageBuilder, index: number, delta: string): ThreadStreamEvent {
    this.firstToken();
    return message.appendText(index, delta);
  }

  private partDone(message: AssistantMessageBuilder, index: number, text: string): ThreadStreamEvent[] {
    const events: ThreadStreamEvent[] = [];
    if (this.options.annotate && this.toolOutputs.length > 0) {
      // Annotated from the final text, which is authoritative over the deltas.
      const known = message.part(index).annotations;
      for (const annotation of this.options.annotate(text, this.toolOutputs)) {
        if (!known.some((k) => sameAnnotation(k, annotation))) {
          events.push(message.addAnnotation(index, annotation));
        }
      }
    }
    events.push(message.finishPart(index, text));
    return events;
  }

  private messageDone(message: AssistantMessageBuilder): ThreadStreamEvent {
    this.answer += message.text();
    return message.done();
  }

  private convertPart(part: { type: string; text?: string; refusal?: string; annotations?: unknown[] }) {
    const annotations = (part.annotations ?? []).flatMap((a) => convertAnnotation(a) ?? []);
    return {
      type: 'output_text' as const,
      text: part.type === 'refusal' ? (part.refusal ?? '') : (part.text ?? ''),
      annotations,
    };
  }

  private responsesEvent(e: ResponsesEvent): ThreadStreamEvent[] {
    switch (e.type) {
      case 'response.output_item.added': {
        if (e.item.type === 'reasoning') return this.workflow ? [] : [this.startWorkflow('reasoning', [])];
        if (e.item.type !== 'message') return [];
        const events = this.closeWorkflow();
        const id = e.item.id || this.options.context.generateId('message');
        const message = this.openMessage(
          id,
          e.item.content.map((p) => this.convertPart(p)),
        );
        this.messages.set(e.item.id, message);
        return [...events, this.startMessage(message)];
      }
      case 'response.content_part.added': {
        const message = this.messages.get(e.item_id);
        if (!message || (e.part.type !== 'output_text' && e.part.type !== 'refusal')) return [];
        return [message.addPart(e.content_index, this.convertPart(e.part))];
      }
      case 'response.output_text.delta':
      case 'response.refusal.delta': {
        const message = this.messages.get(e.item_id);
        return message ? [this.textDelta(message, e.content_index, e.delta)] : [];
      }
      case 'response.output_text.annotation.added': {
        const message = this.messages.get(e.item_id);
        const annotation = convertAnnotation(e.annotation as RawAnnotation);
        return message && annotation ? [message.addAnnotation(e.content_index, annotation)] : [];
      }
      case 'response.output_text.done': {
        const message = this.messages.get(e.item_id);
        return message ? this.partDone(message, e.content_index, e.text) : [];
      }
      case 'response.refusal.done': {
        const message = this.messages.get(e.item_id);
        return message ? this.partDone(message, e.content_index, e.refusal) : [];
      }
      case 'response.output_item.done': {
        if (e.item.type !== 'message') return [];
        const message = this.messages.get(e.item.id);
        if (!message) return [];
        this.messages.delete(e.item.id);
        // The final item is authoritative for text; keep annotations added from tool outputs.
        const streamed = message.content;
        message.replaceContent(
          e.item.content.map((p, i) => {
            const part = this.convertPart(p);
            for (const annotation of streamed[i]?.annotations ?? []) {
              if (!part.annotations.some((known) => sameAnnotation(known, annotation)))
                part.annotations.push(annotation);
            }
            return part;
          }),
        );
        return [this.messageDone(message)];
      }
      case 'response.reasoning_summary_text.delta':
        return this.thought(`${e.item_id}:${e.summary_index}`, e.delta, 'delta');
      case 'response.reasoning_summary_text.done':
        return this.thought(`${e.item_id}:${e.summary_index}`, e.text, 'done');
      default:
        return [];
    }
  }

  private chatDelta(delta: string): ThreadStreamEvent[] {
    const events: ThreadStreamEvent[] = [];
    if (!this.chatMessage) {
      events.push(...this.closeWorkflow());
      // A completion id is shared by every item of the completion, so it cannot name the item.
      const message = this.openMessage(this.options.context.generateId('message'), []);
      this.chatMessage = message;
      events.push(this.startMessage(message));
      events.push(message.addPart(0, { type: 'output_text', text: '', annotations: [] }));
      for (const annotation of this.chatAnnotations.splice(0))
        events.push(message.addAnnotation(0, annotation));
    }
    events.push(this.textDelta(this.chatMessage, 0, delta));
    return events;
  }

  private chatAnnotationsArrived(raw: unknown[]): ThreadStreamEvent[] {
    const events: ThreadStreamEvent[] = [];
    for (const annotation of raw.flatMap((a) => convertAnnotation(a) ?? [])) {
      const known = [...(this.chatMessage?.content[0]?.annotations ?? []), ...this.chatAnnotations];
      if (known.some((k) => JSON.stringify(k) === JSON.stringify(annotation))) continue;
      if (this.chatMessage) events.push(this.chatMessage.addAnnotation(0, annotation));
      else this.chatAnnotations.push(annotation);
    }
    return events;
  }

  private closeChatMessage(): ThreadStreamEvent[] {
    const message = this.chatMessage;
    if (!message) return [];
    this.chatMessage = undefined;
    return [...this.partDone(message, 0, message.part(0).text), this.messageDone(message)];
  }

  // ---- tools ------------------------------------------------------------------------------------

  private runItem(name: string, raw: Record<string, unknown>, output: unknown): ThreadStreamEvent[] {
    if (name === 'tool_called' && raw.type === 'function_call') {
      const toolName = String(raw.name);
      const callId = String(raw.callId ?? '');
      const args = String(raw.arguments ?? '');
      if (this.options.isClientTool(toolName)) {
        // One client tool call per turn: the run stops at the first one.
        if (this.clientCall) return [];
        let parsed: unknown = {};
        try {
          parsed = JSON.parse(args || '{}');
        } catch {
          parsed = { arguments: args };
        }
        // Only Responses function-call item ids (`fc_…`) are unique per item.
        const id =
          this.source === 'openai-responses' && typeof raw.id === 'string' && raw.id
            ? raw.id
            : this.options.context.generateId('tool_call');
        this.clientCall = {
          id,
          thread_id: this.options.threadId,
          created_at: this.stamp(),
          type: 'client_tool_call',
          status: 'pending',
          call_id: callId || this.options.context.generateId('tool_call'),
          name: toolName,
          arguments:
            typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
              ? (parsed as Record<string, unknown>)
              : { value: parsed },
        };
        this.produced.push(id);
        return [];
      }
      const display = this.options.toolDisplay(toolName);
      const task = this.addTask({
        type: 'custom',
        title: display.title,
        icon: display.icon,
        content: describeToolArguments(args),
        status_indicator: 'loading',
      });
      this.toolTasks.set(callId, task.index);
      return [{ type: 'progress_update', text: display.progress, icon: display.icon }, ...task.events];
    }
    if (name === 'tool_output' && raw.type === 'function_call_result') {
      this.toolOutputs.push({ name: String(raw.name), output });
      const index = this.toolTasks.get(String(raw.callId));
      if (index === undefined) return [];
      this.toolTasks.delete(String(raw.callId));
      return this.updateTask(index, (task) => {
        task.status_indicator = 'complete';
      });
    }
    return [];
  }
}

/**
 * Streams the ChatKit events of one agent run and returns how it ended. Errors from the run are
 * re-thrown after the events already produced; a guardrail tripwire first emits
 * `thread.item.removed` for every item this run created.
 */
export async function* mapAgentStream(
  run: AgentRunStream,
  options: StreamMapperOptions,
): AsyncGenerator<ThreadStreamEvent, StreamSummary> {
  const mapper = new StreamMapper(options);
  try {
    for await (const event of run) {
      for (const out of mapper.handle(event)) yield out;
    }
    if (run.cancelled) return { outcome: 'cancelled', answer: '' };
    if (run.error) throw run.error;
    const { events, summary } = await mapper.finish();
    for (const out of events) yield out;
    return summary;
  } catch (error) {
    if (isGuardrailTripwire(error)) {
      for (const id of mapper.produced) yield { type: 'thread.item.removed', item_id: id };
    }
    throw error;
  }
}
