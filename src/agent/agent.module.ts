/**
 * The agent feature: the model client and runner, the tool registry, the model-backed responder
 * and the offline one, and the RESPONDER the protocol layer streams from — AgentService when a
 * model is configured (OPENAI_API_KEY or OPENAI_BASE_URL), otherwise OfflineResponder — plus the
 * TRANSCRIBER behind `input.transcribe`.
 *
 * The attachment reader (ATTACHMENT_READER) and the knowledge-base search (KNOWLEDGE_SEARCH) are
 * provided by their own modules, which may import this one to register tools; so they are looked
 * up when a request needs them, never required at startup. This module must not import them.
 */
import { Module, type Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type OpenAI from 'openai';
import type { Runner } from '@openai/agents';
import { AgentMetrics } from 'src/agent/agent.metrics';
import { AgentService } from 'src/agent/agent.service';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { ATTACHMENT_READER, NO_ATTACHMENTS, type AttachmentReader } from 'src/agent/history.converter';
import { AGENT_RUNNER, OPENAI_CLIENT, modelProviders } from 'src/agent/model-provider';
import { KNOWLEDGE_SEARCH, OfflineResponder, type KnowledgeSearch } from 'src/agent/offline.responder';
import { TRANSCRIBER, type Transcriber } from 'src/chatkit/attachment-links';
import { RESPONDER, type Responder } from 'src/chatkit/responder';
import { agentConfig, type AgentConfig } from 'src/config/agent.config';

/**
 * A getter for a provider registered anywhere in the application: undefined while nobody
 * provides it, remembered once found.
 */
function lazy<T>(moduleRef: ModuleRef, token: symbol): () => T | undefined {
  let found: T | undefined;
  return () => {
    if (found === undefined) {
      try {
        found = moduleRef.get<T>(token, { strict: false }) ?? undefined;
      } catch {
        // Not provided (yet).
      }
    }
    return found;
  };
}

/**
 * RESPONDER: the agent when a model is configured, else the offline responder. Exported so the
 * protocol module can declare it locally: `ChatKitModule.register({ imports: [AgentModule],
 * responder: responderProvider })`.
 */
export const responderProvider: Provider = {
  provide: RESPONDER,
  useFactory: (config: AgentConfig, agent: AgentService, offline: OfflineResponder): Responder =>
    config.modelConfigured ? agent : offline,
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

const providers: Provider[] = [
  ...modelProviders,
  AgentMetrics,
  AgentTools,
  {
    provide: AgentService,
    useFactory: (
      config: AgentConfig,
      client: OpenAI,
      runner: Runner,
      tools: AgentTools,
      metrics: AgentMetrics,
      moduleRef: ModuleRef,
    ) => {
      const reader = lazy<AttachmentReader>(moduleRef, ATTACHMENT_READER);
      const attachments: AttachmentReader = {
        read: (attachment, maxBytes) => (reader() ?? NO_ATTACHMENTS).read(attachment, maxBytes),
      };
      return new AgentService(config, client, runner, tools, metrics, attachments);
    },
    inject: [agentConfig.KEY, OPENAI_CLIENT, AGENT_RUNNER, AgentTools, AgentMetrics, ModuleRef],
  },
  {
    provide: OfflineResponder,
    useFactory: (moduleRef: ModuleRef) =>
      new OfflineResponder(lazy<KnowledgeSearch>(moduleRef, KNOWLEDGE_SEARCH)),
    inject: [ModuleRef],
  },
  responderProvider,
  transcriberProvider,
];

@Module({
  providers,
  exports: [RESPONDER, TRANSCRIBER, AgentService, OfflineResponder, AgentTools, OPENAI_CLIENT, AGENT_RUNNER],
})
export class AgentModule {}
