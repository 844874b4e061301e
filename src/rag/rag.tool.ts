/**
 * The agent's `search_knowledge_base` tool. Registered with the agent's tool registry when the
 * agent module is part of the app (looked up at start-up, so the knowledge base works without
 * it). Each passage gets a number the answer cites as `[n]`; a passage keeps its number for the
 * whole turn, so two searches in one turn never give one number to two passages.
 *
 * It searches as the user of the turn (`context.request`), never as anyone the model names.
 */
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { z } from 'zod';
import { AgentTools, type AgentRunContext } from 'src/agent/agent-tools.registry';
import { KNOWLEDGE_BASE_TOOL } from 'src/agent/prompt';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import {
  citationAnnotations,
  formatKnowledgeToolOutput,
  knowledgeSourcesFromToolOutput,
  type KnowledgeToolPassage,
} from 'src/rag/rag.citations';
import { SearchService } from 'src/rag/rag.search.service';

const DESCRIPTION =
  'Search the organisation’s knowledge base (documentation, policies, guides) and return the most ' +
  'relevant passages, each with a citation marker such as [1], its title and its source. Use it ' +
  'before answering questions the documents may cover. Write the query as a short question or ' +
  'a few keywords; put exact phrases in double quotes.';

const ToolParameters = z.object({
  query: z.string().describe('What to look for, in the words the documents would likely use'),
});

@Injectable()
export class KnowledgeSearchTool implements OnModuleInit {
  private readonly logger = new Logger('KnowledgeBase');
  /** Per agent turn: chunk id → citation number. */
  private readonly refs = new WeakMap<object, Map<string, number>>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly search: SearchService,
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
  ) {}

  onModuleInit(): void {
    let tools: AgentTools | undefined;
    try {
      tools = this.moduleRef.get(AgentTools, { strict: false });
    } catch {
      this.logger.debug('no agent in this app: the search tool is not registered');
      return;
    }
    if (!tools || tools.has(KNOWLEDGE_BASE_TOOL)) return;
    tools.register({
      name: KNOWLEDGE_BASE_TOOL,
      description: DESCRIPTION,
      parameters: ToolParameters,
      execute: (args, context) => this.execute(args.query, context),
      // The answer's [n] markers become ChatKit annotations pointing at the cited passages.
      annotate: (text, outputs) => citationAnnotations(text, outputs.flatMap(knowledgeSourcesFromToolOutput)),
    });
  }

  /** The JSON the model receives; see rag.citations for its shape. */
  async execute(query: string, context: Pick<AgentRunContext, 'request'>): Promise<string> {
    const results = await this.search.searchForTool(context.request, query, this.config.toolResults);
    let numbers = this.refs.get(context);
    if (!numbers) {
      numbers = new Map();
      this.refs.set(context, numbers);
    }
    const passages: KnowledgeToolPassage[] = results.map((r) => {
      let ref = numbers.get(r.chunkId);
      if (ref === undefined) {
        ref = numbers.size + 1;
        numbers.set(r.chunkId, ref);
      }
      const section = r.headingPath.join(' > ');
      return { ref, title: r.title, source: r.source, ...(section ? { section } : {}), text: r.text };
    });
    return formatKnowledgeToolOutput(query, passages);
  }
}
