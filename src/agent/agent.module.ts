/**
 * The agent feature: the model client and runner, the tool registry, the model-backed responder
 * and the offline one, and the two ports of the protocol layer it provides, each bound once here:
 * RESPONDER — AgentService when a model is configured (OPENAI_API_KEY or OPENAI_BASE_URL),
 * otherwise OfflineResponder — and TRANSCRIBER behind `input.transcribe`.
 *
 * It imports what it needs from below and injects the services those modules export: the
 * attachments (to read attachment bytes for the model), the knowledge base (the offline
 * responder's search and the `search_knowledge_base` tool, registered here) and the tools file's
 * tools (HTTP tools registered here, MCP servers handed to the SDK agent). Nothing below may
 * import this module; the app passes it to ChatKitModule.register.
 */
import { Inject, Module, type OnModuleInit, type Provider } from '@nestjs/common';
import { AgentMetrics } from 'src/agent/agent.metrics';
import { AgentService } from 'src/agent/agent.service';
import { withRunSpans } from 'src/agent/agent.tracing';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { AGENT_RUNNER, OPENAI_CLIENT, modelProviders } from 'src/agent/model-provider';
import { OfflineResponder } from 'src/agent/offline.responder';
import { KNOWLEDGE_BASE_TOOL } from 'src/agent/prompt';
import { AttachmentsModule } from 'src/attachments/attachments.module';
import { RESPONDER, TRANSCRIBER, type Responder, type Transcriber } from 'src/chatkit/chatkit.ports';
import { agentConfig, type AgentConfig } from 'src/config/agent.config';
import { RagModule } from 'src/rag/rag.module';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { activeTracing } from 'src/telemetry/tracing.state';
import { KnowledgeSearchTool } from 'src/rag/rag.tool';
import { KNOWLEDGE_SOURCES_WIDGET } from 'src/widgets/knowledge-sources.widget';
import { WidgetsModule } from 'src/widgets/widgets.module';
import { ToolCallError } from 'src/tools/http-tool';
import { requestApproval } from 'src/tools/tool-approval';
import { ToolApprovals } from 'src/tools/tool-approvals.service';
import { ToolsModule } from 'src/tools/tools.module';
import { ConfiguredTools } from 'src/tools/tools.service';

/** The agent's name in traces: the one AgentService gives the SDK's Agent. */
const AGENT_NAME = 'Assistant';

/**
 * The one binding of RESPONDER: the agent when a model is configured (in an `agent run` span per
 * answer with tracing on), else the offline responder.
 */
const responderProvider: Provider = {
  provide: RESPONDER,
  useFactory: (config: AgentConfig, agent: AgentService, offline: OfflineResponder): Responder =>
    config.modelConfigured ? (activeTracing() ? withRunSpans(agent, AGENT_NAME) : agent) : offline,
  inject: [agentConfig.KEY, AgentService, OfflineResponder],
};

/** TRANSCRIBER for `input.transcribe`; null (→ 501) unless AGENT_TRANSCRIBE_MODEL is set. */
const transcriberProvider: Provider = {
  provide: TRANSCRIBER,
  useFactory: (agent: AgentService): Transcriber | null =>
    agent.transcriptionEnabled
      ? { transcribe: async (_ctx, audio, mimeType) => ({ text: await agent.transcribe(audio, mimeType) }) }
      : null,
  inject: [AgentService],
};

@Module({
  imports: [AttachmentsModule, RagModule, WidgetsModule, ToolsModule],
  providers: [
    ...modelProviders,
    AgentMetrics,
    AgentTools,
    AgentService,
    OfflineResponder,
    responderProvider,
    transcriberProvider,
  ],
  exports: [RESPONDER, TRANSCRIBER, AgentService, AgentTools, OPENAI_CLIENT, AGENT_RUNNER],
})
export class AgentModule implements OnModuleInit {
  constructor(
    private readonly tools: AgentTools,
    private readonly knowledge: KnowledgeSearchTool,
    @Inject(ragConfig.KEY) private readonly rag: RagConfig,
    private readonly configured: ConfiguredTools,
    private readonly metrics: AgentMetrics,
    private readonly approvals: ToolApprovals,
  ) {}

  /** Registered at start-up, before any request, so the built-in instructions can mention it. */
  onModuleInit(): void {
    const knowledge = this.knowledge;
    this.tools.register({
      name: KNOWLEDGE_BASE_TOOL,
      description: knowledge.description,
      parameters: knowledge.parameters,
      execute: (args, context) => knowledge.execute(args.query, context),
      // The answer's [n] markers become ChatKit annotations pointing at the cited passages.
      annotate: (text, outputs) => knowledge.annotate(text, outputs),
      // RAG_SOURCES_WIDGET: the passages' sources also shown as a card under the answer.
      widget: this.rag.sourcesWidget ? KNOWLEDGE_SOURCES_WIDGET : undefined,
    });
    this.registerConfiguredTools();
  }

  /** The tools file's HTTP tools and MCP servers (validated by ToolsModule at boot). */
  private registerConfiguredTools(): void {
    for (const http of this.configured.httpTools)
      this.tools.registerJsonSchemaTool({
        ...http,
        execute: (args, context, signal) => http.execute(args, { userId: context.request.userId }, signal),
        describeError: (error) =>
          error instanceof ToolCallError
            ? error.message
            : `The ${http.name} tool failed unexpectedly; it may work if tried again later.`,
        askApproval: http.requireApproval
          ? (args, context, callId) => {
              // Arguments that cannot make a request are the model's to fix, not the user's to approve.
              http.checkArguments(args);
              return requestApproval(context, {
                kind: 'http',
                source: http.name,
                tool: http.name,
                title: http.display?.title ?? http.name,
                arguments: args,
                call_id: callId,
              });
            }
          : undefined,
      });
    // Approved calls are counted like the model's.
    this.approvals.onCall = (name, outcome) => this.metrics.toolCall(name, outcome);
    for (const server of this.configured.mcpServers) {
      this.tools.addMcpServer(server);
      server.onCall = (name, outcome) => this.metrics.toolCall(name, outcome);
      for (const [name, display] of Object.entries(server.displays)) this.tools.setDisplay(name, display);
    }
  }
}
