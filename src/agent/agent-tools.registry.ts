/**
 * The tools the agent may call, registered at startup (the agent module registers the knowledge
 * base's `search_knowledge_base` and the tools file's HTTP tools and MCP servers). Two kinds:
 * - server tools run here (MCP tools too: the SDK calls their server); the stream shows a
 *   progress line and a task while they run;
 * - client tools run in the browser (ChatKit `onClientTool`): the run stops at the call, the
 *   turn ends with a pending `client_tool_call` item, and the client posts the result back.
 *
 * A tool receives the AgentRunContext and must scope any user data it reads by
 * `context.request` — the model decides the arguments, never who is asking.
 */
import { Injectable, Logger } from '@nestjs/common';
import { tool } from '@openai/agents';
import type { FunctionTool, MCPServer } from '@openai/agents';
import { z } from 'zod';
import { AgentMetrics } from 'src/agent/agent.metrics';
import { KNOWLEDGE_BASE_TOOL } from 'src/agent/prompt';
import type { Annotation, ThreadMetadata, ThreadStreamEvent } from 'src/protocol/chatkit.schemas';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';
import { toolCallSpan } from 'src/telemetry/tracer';
import type { RequestContext } from 'src/common/request-context';
import { WidgetTemplates } from 'src/widgets/widget-templates.service';

/** What a tool sees of the turn it runs in (`runContext.context` in SDK terms). */
export interface AgentRunContext {
  request: RequestContext;
  thread: ThreadMetadata;
  responder: ResponderContext;
  /** Streams an event to the client right away, between model events (e.g. a task with sources). */
  emit(event: ThreadStreamEvent): void;
}

/** How a server tool call looks in the chat while it runs and in the workflow afterwards. */
/** What a tool returned in this run, kept so the answer's citations can point at it. */
export interface ToolOutput {
  name: string;
  output: unknown;
}

export interface ToolDisplay {
  /** Ephemeral status line while the tool runs, e.g. "Searching the knowledge base…". */
  progress: string;
  /** Title of the workflow task that records the call (replayed to the model in later turns). */
  title: string;
  icon: string;
}

export interface ServerToolDefinition<P extends z.ZodObject> {
  name: string;
  description: string;
  parameters: P;
  execute(args: z.infer<P>, context: AgentRunContext): Promise<unknown> | unknown;
  display?: Partial<ToolDisplay>;
  /**
   * Citations in a finished answer that point at what this tool returned (e.g. `[1]` markers for
   * search results), as ChatKit annotations. `outputs` are this tool's results in this turn.
   */
  annotate?(text: string, outputs: unknown[]): Annotation[];
  /**
   * A widget template (WidgetTemplates) to show the tool's result with: after each successful
   * call its output fills the template and the widget is streamed and stored as a widget item;
   * the model still gets the output. Unknown names are refused at registration.
   */
  widget?: string;
}

/**
 * A server tool described by configuration rather than code: JSON Schema parameters (checked by
 * the model API, not strictly), and a message for the model when a call fails.
 */
export interface JsonSchemaToolDefinition {
  name: string;
  description: string;
  parameters: JsonSchemaObject;
  /** `output` is what the model reads; `data`, when there is any, fills the tool's widget. */
  execute(
    args: Record<string, unknown>,
    context: AgentRunContext,
    signal?: AbortSignal,
  ): Promise<{ output: string; data?: unknown }>;
  display?: Partial<ToolDisplay>;
  widget?: string;
  /** What the model reads when `execute` throws (the SDK's own message says nothing useful). */
  describeError(error: unknown): string;
  /**
   * Present when a call waits for the user's approval: called instead of `execute` (which then
   * runs only once the user approves); returns what the model reads meanwhile.
   */
  askApproval?(args: Record<string, unknown>, context: AgentRunContext, callId: string | undefined): string;
}

/** A JSON Schema object, for client tools described by front-end teams rather than in zod. */
export type JsonSchemaObject = {
  type: 'object';
  properties: Record<string, unknown>;
  [key: string]: unknown;
};

export interface ClientToolDefinition {
  name: string;
  description: string;
  parameters: z.ZodObject | JsonSchemaObject;
}

type AgentTool = FunctionTool<AgentRunContext, any, any>;

const BUILT_IN_DISPLAY: Record<string, Partial<ToolDisplay>> = {
  [KNOWLEDGE_BASE_TOOL]: {
    progress: 'Searching the knowledge base…',
    title: 'Searched the knowledge base',
    icon: 'search',
  },
};

/** What a client tool "returns" inside the run; the real result comes from the browser. */
const CLIENT_TOOL_PENDING = 'Waiting for the client to run this tool.';

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

@Injectable()
export class AgentTools {
  private readonly server = new Map<
    string,
    { tool: AgentTool; display: ToolDisplay; annotate?: ServerToolDefinition<z.ZodObject>['annotate'] }
  >();
  private readonly logger = new Logger(AgentTools.name);
  private readonly client = new Map<string, AgentTool>();
  private readonly displays = new Map<string, ToolDisplay>();
  private readonly mcp: MCPServer[] = [];
  private registrations = 0;

  constructor(
    private readonly metrics: AgentMetrics,
    private readonly widgets: WidgetTemplates,
  ) {}

  /** Changes whenever a tool is registered: what was built from the tool list is stale then. */
  get version(): number {
    return this.registrations;
  }

  register<P extends z.ZodObject>(definition: ServerToolDefinition<P>): void {
    this.assertNewName(definition.name);
    const execute = this.instrumented(definition.name, definition.widget, (args: z.infer<P>, context) =>
      definition.execute(args, context),
    );
    const built = tool({
      name: definition.name,
      description: definition.description,
      parameters: definition.parameters as z.ZodObject,
      strict: true,
      execute: (args, runContext) => execute(args as z.infer<P>, runContext!.context as AgentRunContext),
    }) as AgentTool;
    this.registrations++;
    this.server.set(definition.name, {
      tool: built,
      display: this.displayFor(definition.name, definition.display),
      annotate: definition.annotate?.bind(definition),
    });
  }

  registerJsonSchemaTool(definition: JsonSchemaToolDefinition): void {
    this.assertNewName(definition.name);
    const execute = this.instrumented(
      definition.name,
      definition.widget,
      definition.execute.bind(definition),
      (result) => result.data,
    );
    const built = tool({
      name: definition.name,
      description: definition.description,
      parameters: { required: [], additionalProperties: false, ...definition.parameters } as any,
      strict: false,
      execute: async (args, runContext, details) =>
        definition.askApproval
          ? definition.askApproval(
              args as Record<string, unknown>,
              runContext!.context as AgentRunContext,
              details?.toolCall?.callId,
            )
          : (
              await execute(
                args as Record<string, unknown>,
                runContext!.context as AgentRunContext,
                details?.signal,
              )
            ).output,
      errorFunction: (_context, error) => definition.describeError(error),
    }) as AgentTool;
    this.registrations++;
    this.server.set(definition.name, {
      tool: built,
      display: this.displayFor(definition.name, definition.display),
    });
  }

  /**
   * A server tool's `execute` as the agent runs it: in an `execute_tool` span, counted by outcome,
   * and, when the tool names a widget template (refused here if there is no such template), its
   * successful result (or the part `widgetData` picks; nothing to show when that is undefined)
   * shown as that widget. A failure is rethrown: the SDK turns it into a message for the model and
   * the run goes on.
   */
  private instrumented<A, R>(
    name: string,
    widget: string | undefined,
    run: (args: A, context: AgentRunContext, signal?: AbortSignal) => Promise<R> | R,
    widgetData: (result: R) => unknown = (result) => result,
  ): (args: A, context: AgentRunContext, signal?: AbortSignal) => Promise<R> {
    if (widget !== undefined && !this.widgets.has(widget))
      throw new Error(
        `Tool "${name}" names the widget template "${widget}", which does not exist (known: ${this.widgets.names.join(', ')})`,
      );
    return (args, context, signal) =>
      toolCallSpan(name, async () => {
        try {
          const result = await run(args, context, signal);
          this.metrics.toolCall(name, 'ok');
          const data = widget === undefined ? undefined : widgetData(result);
          if (data !== undefined) this.showWidget(name, widget!, data, context);
          return result;
        } catch (error) {
          this.metrics.toolCall(name, 'error');
          throw error;
        }
      });
  }

  /**
   * MCP servers whose tools the agent offers: the SDK lists and calls them itself during a run
   * (each server decides which tools it shows and turns its failures into messages for the model).
   */
  addMcpServer(server: MCPServer): void {
    this.registrations++;
    this.mcp.push(server);
  }

  get mcpServers(): MCPServer[] {
    return [...this.mcp];
  }

  /**
   * How calls of a tool that is not registered here look in the chat: tools an MCP server lists
   * reach the agent through the SDK's MCP support, but their calls are shown like any other.
   */
  setDisplay(name: string, display: Partial<ToolDisplay>): void {
    this.displays.set(name, this.displayFor(name, display));
  }

  registerClientTool(definition: ClientToolDefinition): void {
    this.assertNewName(definition.name);
    const common = {
      name: definition.name,
      description: definition.description,
      execute: () => CLIENT_TOOL_PENDING,
    };
    const built =
      definition.parameters instanceof z.ZodObject
        ? tool({ ...common, parameters: definition.parameters, strict: true })
        : tool({
            ...common,
            parameters: { required: [], additionalProperties: true, ...definition.parameters } as any,
            strict: false,
          });
    this.registrations++;
    this.client.set(definition.name, built as AgentTool);
  }

  has(name: string): boolean {
    return this.server.has(name) || this.client.has(name);
  }

  isClientTool(name: string): boolean {
    return this.client.has(name);
  }

  clientToolNames(): string[] {
    return [...this.client.keys()];
  }

  /** Every tool, server tools first, in registration order. */
  tools(): AgentTool[] {
    return [...[...this.server.values()].map((entry) => entry.tool), ...this.client.values()];
  }

  /** How a call of `name` is shown; unknown names get a generic line. */
  display(name: string): ToolDisplay {
    return this.server.get(name)?.display ?? this.displays.get(name) ?? this.displayFor(name, undefined);
  }

  private displayFor(name: string, display: Partial<ToolDisplay> | undefined): ToolDisplay {
    const fallback = BUILT_IN_DISPLAY[name] ?? {};
    return {
      progress: display?.progress ?? fallback.progress ?? `Using ${name}…`,
      title: display?.title ?? fallback.title ?? `Used ${name}`,
      icon: display?.icon ?? fallback.icon ?? 'bolt',
    };
  }

  /** What every tool with an `annotate` hook finds in `text` from its own outputs of this turn. */
  annotate(text: string, outputs: readonly ToolOutput[]): Annotation[] {
    const annotations: Annotation[] = [];
    for (const [name, entry] of this.server) {
      const mine = outputs.filter((o) => o.name === name).map((o) => o.output);
      if (!entry.annotate || mine.length === 0) continue;
      try {
        annotations.push(...entry.annotate(text, mine));
      } catch (error) {
        // A citation that cannot be built is not worth failing an answer the user already read.
        this.logger.warn(
          `${name}: citations failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return annotations;
  }

  /**
   * Streams the tool's result as a widget item (stored with the turn like any item). A result the
   * template cannot make a valid widget of is only logged, by template and path, never by value:
   * the model has the output anyway.
   */
  private showWidget(tool: string, template: string, result: unknown, context: AgentRunContext): void {
    const rendered = this.widgets.render(template, result);
    if (!rendered.widget) {
      if (rendered.problem) this.logger.warn(`${tool}: widget "${template}" not shown: ${rendered.problem}`);
      return;
    }
    context.emit({
      type: 'thread.item.done',
      item: {
        type: 'widget',
        id: context.responder.generateId('message'),
        thread_id: context.thread.id,
        created_at: context.responder.now(),
        widget: rendered.widget,
      },
    });
  }

  private assertNewName(name: string): void {
    if (!TOOL_NAME.test(name))
      throw new Error(`Invalid tool name "${name}": use 1-64 letters, digits, _ or -`);
    if (this.has(name)) throw new Error(`A tool named "${name}" is already registered`);
  }
}
