/**
 * The model-backed responder: builds the agent (instructions with the request's user and page
 * context, registered tools, model settings from config), turns the thread's history into model
 * input, runs it through the Agents SDK with streaming and maps the run to ChatKit events. After
 * the first answer of an untitled thread it names the thread; it keeps cumulative token counts in
 * the thread's private metadata (both through `context.updateThread`, never by writing to the
 * thread it is shown); it also transcribes dictated audio. Every model call's tokens, the title
 * call's included, go to `context.recordUsage`, which stores them with the turn (token_usage).
 *
 * It must stop as soon as `signal` aborts (the SDK then tears down the model request), and it
 * never retries a model call itself: the client retries only before the first byte, so nothing
 * the user has seen can be streamed twice.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import OpenAI, { toFile } from 'openai';
import { Agent, Runner } from '@openai/agents';
import type { ModelSettings } from '@openai/agents';
import { AgentMetrics, type RunOutcome } from 'src/agent/agent.metrics';
import { mapAgentStream, type RunUsage } from 'src/agent/agent-stream.mapper';
import { AgentTools, type AgentRunContext } from 'src/agent/agent-tools.registry';
import {
  lastUserMessage,
  splitHistory,
  toAgentInput,
  userMessageText,
  withEarlierItems,
  type AttachmentReader,
} from 'src/agent/history.converter';
import { AGENT_RUNNER, OPENAI_CLIENT } from 'src/agent/model-provider';
import { KNOWLEDGE_BASE_TOOL, buildInstructions } from 'src/agent/prompt';
import { TITLE_INSTRUCTIONS, cleanTitle, fallbackTitle } from 'src/agent/thread-title';
import { AttachmentReaderService } from 'src/attachments/attachment-reader.service';
import type {
  ThreadItem,
  ThreadStreamEvent,
  UserMessageInput,
  UserMessageItem,
  WorkflowItem,
} from 'src/protocol/chatkit.schemas';
import type { Responder, ResponderContext, ThreadView } from 'src/chatkit/chatkit.ports';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { agentConfig, type AgentConfig } from 'src/config/agent.config';
import type { ModelCallUsage } from 'src/usage/usage.types';

/** Cumulative token counts kept in `thread.metadata.usage` (never sent to the client). */
export interface ThreadUsage {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

const AUDIO_EXTENSIONS = new Map<string, string>(
  Object.entries({
    'audio/webm': 'webm',
    'audio/ogg': 'ogg',
    'audio/mp4': 'mp4',
    'audio/m4a': 'm4a',
    'audio/x-m4a': 'm4a',
    'audio/mpeg': 'mp3',
    'audio/mp3': 'mp3',
    'audio/wav': 'wav',
    'audio/x-wav': 'wav',
    'audio/flac': 'flac',
  }),
);

const TITLE_TIMEOUT_MS = 15_000;
/** Agents kept built: one per offered model and forced tool, so a handful; a bound all the same. */
const MAX_CACHED_AGENTS = 64;

/**
 * The workflow a previous turn left open because it ended in a client tool call: the newest
 * item, or the one before a client tool call.
 */
function openWorkflowOf(history: readonly ThreadItem[]): WorkflowItem | undefined {
  const last = history.at(-1);
  const before = history.at(-2);
  if (last?.type === 'workflow' && !last.workflow.summary) return last;
  if (last?.type === 'client_tool_call' && before?.type === 'workflow' && !before.workflow.summary)
    return before;
  return undefined;
}

/** The thread's private metadata with this run's token counts added; null when nothing ran. */
function withUsage(thread: ThreadView, run: ThreadUsage): Record<string, unknown> | null {
  if (run.requests === 0) return null;
  const metadata = thread.metadata ?? {};
  const previous = (metadata.usage ?? {}) as Partial<ThreadUsage>;
  return {
    ...metadata,
    usage: {
      requests: (previous.requests ?? 0) + run.requests,
      input_tokens: (previous.input_tokens ?? 0) + run.input_tokens,
      output_tokens: (previous.output_tokens ?? 0) + run.output_tokens,
      total_tokens: (previous.total_tokens ?? 0) + run.total_tokens,
    } satisfies ThreadUsage,
  };
}

@Injectable()
export class AgentService implements Responder {
  private readonly logger = new Logger(AgentService.name);
  private readonly agents = new Map<string, Agent<AgentRunContext>>();

  constructor(
    @Inject(agentConfig.KEY) private readonly config: AgentConfig,
    @Inject(OPENAI_CLIENT) private readonly client: OpenAI,
    @Inject(AGENT_RUNNER) private readonly runner: Runner,
    private readonly tools: AgentTools,
    private readonly metrics: AgentMetrics,
    // Typed by the part it uses, so unit specs can hand in a plain reader.
    @Inject(AttachmentReaderService)
    private readonly attachments: AttachmentReader,
  ) {}

  /** Enough items to find the last N messages among tool calls, workflows and hidden context. */
  get historyLimit(): number {
    return this.config.historyMessages * 4 + 10;
  }

  /** The messages the model is sent (toAgentInput keeps nothing older). */
  get historyMessages(): number {
    return this.config.historyMessages;
  }

  get transcriptionEnabled(): boolean {
    return this.config.modelConfigured && this.config.transcribeModel !== undefined;
  }

  /** A composer model choice must be one this server offers; otherwise 400 before anything is stored. */
  checkInput(input: UserMessageInput): void {
    const chosen = input.inference_options.model;
    if (chosen == null || this.config.models.includes(chosen)) return;
    throw new AppException(
      ErrorCode.ValidationFailed,
      `params.input.inference_options.model: "${chosen}" is not offered here; choose one of ${this.config.models
        .map((m) => `"${m}"`)
        .join(', ')} or leave it out`,
    );
  }

  async *respond(
    thread: ThreadView,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncGenerator<ThreadStreamEvent, void> {
    let model = this.modelFor(input);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    const usage: ThreadUsage = {
      requests: 0,
      input_tokens: 0,
      output_tokens: 0,
      total_tokens: 0,
    };
    // Stays 'cancelled' if the consumer stops pulling (the client went away) before the end.
    let outcome: RunOutcome = 'cancelled';
    let modelCalled = false;
    const addUsage = (): void => {
      const metadata = withUsage(thread, usage);
      if (metadata) context.updateThread({ metadata });
    };
    try {
      const history = await context.loadHistory(this.historyLimit);
      // A turn continued after a client tool or a structured input keeps the model it began with.
      if (input === null) model = this.modelFor(lastUserMessage(history));
      const modelInput = await toAgentInput(history, {
        maxMessages: this.config.historyMessages,
        tokenBudget: this.config.historyTokenBudget,
        attachmentMaxBytes: this.config.attachmentMaxBytes,
        attachments: this.attachments,
      });
      const toolEvents: ThreadStreamEvent[] = [];
      const runContext: AgentRunContext = {
        request: context.request,
        thread,
        responder: context,
        emit: (event) => void toolEvents.push(event),
      };
      modelCalled = true;
      const { earlier, last } = splitHistory(modelInput);
      const result = await this.runner.run(this.agentFor(input, model), last, {
        stream: true,
        signal,
        context: runContext,
        maxTurns: this.config.maxTurns,
        callModelInputFilter: earlier.length ? withEarlierItems(earlier) : undefined,
      });
      const summary = yield* mapAgentStream(result, {
        threadId: thread.id,
        context,
        isClientTool: (name) => this.tools.isClientTool(name),
        toolDisplay: (name) => this.tools.display(name),
        openWorkflow: input === null ? openWorkflowOf(history) : undefined,
        notBefore: history.at(-1)?.created_at,
        takeToolEvents: () => toolEvents.splice(0),
        annotate: (text, outputs) => this.tools.annotate(text, outputs),
        onFirstToken: () => this.metrics.timeToFirstToken(model, seconds()),
        onUsage: (u: RunUsage) => {
          usage.requests++;
          usage.input_tokens += u.inputTokens;
          usage.output_tokens += u.outputTokens;
          usage.total_tokens += u.totalTokens;
          this.spent(context, {
            model,
            inputTokens: u.inputTokens,
            cachedInputTokens: u.cachedInputTokens,
            outputTokens: u.outputTokens,
            reasoningTokens: u.reasoningTokens,
          });
        },
      });
      if (summary.clientToolCall) this.metrics.toolCall(summary.clientToolCall.name, 'client');
      outcome = summary.outcome;
      addUsage();
      if (summary.outcome === 'completed' && input !== null && !thread.title) {
        context.updateThread({
          title: await this.generateTitle(userMessageText(input), summary.answer, signal, (call) =>
            this.spent(context, call),
          ),
        });
      }
    } catch (error) {
      addUsage();
      if (!signal.aborted) {
        outcome = 'error';
        const reason = error instanceof Error ? error.message : String(error);
        // Only failures of the model run count as model errors, not a failed history load.
        if (modelCalled)
          this.logger.warn(`Agent run failed (${this.metrics.modelError(model, error)}): ${reason}`);
        else this.logger.warn(`Could not prepare the agent run: ${reason}`);
      }
      throw error;
    } finally {
      this.metrics.run(model, outcome, seconds());
    }
  }

  /** One model call's tokens: counted in the metrics and handed to the turn to store. */
  private spent(context: ResponderContext, call: ModelCallUsage): void {
    this.metrics.usage(call);
    context.recordUsage(call);
  }

  /** Speech to text for `input.transcribe`; 501 unless AGENT_TRANSCRIBE_MODEL is set. */
  async transcribe(audio: Buffer, mimeType: string): Promise<string> {
    if (!this.transcriptionEnabled) {
      throw new AppException(
        ErrorCode.NotImplemented,
        'Dictation is not configured on this server (set AGENT_TRANSCRIBE_MODEL).',
      );
    }
    const type = mimeType.split(';')[0].trim().toLowerCase();
    const file = await toFile(audio, `dictation.${AUDIO_EXTENSIONS.get(type) ?? 'webm'}`, { type });
    const result = await this.client.audio.transcriptions.create({
      model: this.config.transcribeModel!,
      file,
    });
    return result.text.trim();
  }

  /**
   * A short title from one small model call (no agent run: nothing to loop over, no tools); the
   * question's first words whenever that fails. It goes to the API the agent uses; what the call
   * spent goes to `record` (model: AGENT_TITLE_MODEL).
   */
  async generateTitle(
    question: string,
    answer: string,
    signal?: AbortSignal,
    record?: (usage: ModelCallUsage) => void,
  ): Promise<string> {
    try {
      const prompt = `Question: ${question.slice(0, 2000)}\n\nAnswer: ${answer.slice(0, 1000)}`;
      const options = { signal, timeout: TITLE_TIMEOUT_MS };
      let text: string;
      if (this.config.api === 'responses') {
        const response = await this.client.responses.create(
          {
            model: this.config.titleModel,
            instructions: TITLE_INSTRUCTIONS,
            input: prompt,
            max_output_tokens: 60,
            stream: false,
          },
          options,
        );
        text = response.output_text;
        if (response.usage)
          record?.({
            model: this.config.titleModel,
            inputTokens: response.usage.input_tokens,
            cachedInputTokens: response.usage.input_tokens_details?.cached_tokens ?? 0,
            outputTokens: response.usage.output_tokens,
            reasoningTokens: response.usage.output_tokens_details?.reasoning_tokens ?? 0,
          });
      } else {
        const completion = await this.client.chat.completions.create(
          {
            model: this.config.titleModel,
            messages: [
              { role: 'system', content: TITLE_INSTRUCTIONS },
              { role: 'user', content: prompt },
            ],
            max_tokens: 60,
            stream: false,
          },
          options,
        );
        text = completion.choices[0]?.message.content ?? '';
        if (completion.usage)
          record?.({
            model: this.config.titleModel,
            inputTokens: completion.usage.prompt_tokens,
            cachedInputTokens: completion.usage.prompt_tokens_details?.cached_tokens ?? 0,
            outputTokens: completion.usage.completion_tokens,
            reasoningTokens: completion.usage.completion_tokens_details?.reasoning_tokens ?? 0,
          });
      }
      const title = cleanTitle(text);
      if (title) return title;
    } catch (error) {
      this.logger.debug(`Title generation failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return fallbackTitle(question);
  }

  /**
   * The model the user picked for this message, when this server still offers it (a retried old
   * message may name one since removed), else AGENT_MODEL.
   */
  private modelFor(message: UserMessageItem | undefined | null): string {
    const chosen = message?.inference_options.model;
    return chosen != null && this.config.models.includes(chosen) ? chosen : this.config.model;
  }

  /**
   * The agent for a model and a forced tool: built once and shared by every turn (an Agent is
   * configuration; each run keeps its own state), rebuilt when a tool is registered. The page
   * context differs per request, so the instructions are read from the run's context.
   */
  private agentFor(input: UserMessageItem | null, model: string): Agent<AgentRunContext> {
    // The composer's tool menu may force a tool for this turn; the SDK resets it after one call.
    const wanted = input?.inference_options.tool_choice?.id;
    const chosen = wanted && this.tools.has(wanted) ? wanted : undefined;
    const key = `${this.tools.version}\u0000${model}\u0000${chosen ?? ''}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    if (this.agents.size >= MAX_CACHED_AGENTS) this.agents.clear();
    const clientTools = this.tools.clientToolNames();
    const modelSettings: ModelSettings = {
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
      ...(this.config.maxOutputTokens !== undefined ? { maxTokens: this.config.maxOutputTokens } : {}),
      ...(chosen ? { toolChoice: chosen } : {}),
    };
    const knowledgeBase = this.tools.has(KNOWLEDGE_BASE_TOOL);
    agent = new Agent<AgentRunContext>({
      name: 'Assistant',
      instructions: (run) =>
        buildInstructions({
          instructions: this.config.instructions,
          knowledgeBase,
          metadata: run.context.request.metadata ?? {},
          maxContextChars: this.config.contextMaxChars,
        }),
      model,
      modelSettings,
      tools: this.tools.tools(),
      mcpServers: this.tools.mcpServers,
      toolUseBehavior: clientTools.length > 0 ? { stopAtToolNames: clientTools } : 'run_llm_again',
    });
    this.agents.set(key, agent);
    return agent;
  }
}
