/**
 * The knowledge-base search as the agent's tool: its description and parameters for the model,
 * the passages it returns and the citations an answer makes of them. The agent module imports
 * the knowledge base and registers this under its own tool name; this file must never import the
 * agent. Each passage gets a number the answer cites as `[n]`; a passage keeps its number for the
 * whole turn, so two searches in one turn never give one number to two passages.
 *
 * It searches as the user of the turn (`context.request`), never as anyone the model names.
 */
import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { Annotation } from 'src/protocol/chatkit.schemas';
import type { RequestContext } from 'src/common/request-context';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import {
  citationAnnotations,
  formatKnowledgeToolOutput,
  knowledgeSourcesFromToolOutput,
  type KnowledgeToolPassage,
} from 'src/rag/rag.citations';
import { SearchService } from 'src/rag/rag.search.service';

/** The turn a search runs in; the same object for every call of one turn (numbers are kept per object). */
export interface KnowledgeToolTurn {
  request: RequestContext;
}

const DESCRIPTION =
  'Search the organisation’s knowledge base (documentation, policies, guides) and return the most ' +
  'relevant passages, each with a citation marker such as [1], its title and its source. Use it ' +
  'before answering questions the documents may cover. Write the query as a short question or ' +
  'a few keywords; put exact phrases in double quotes.';

const ToolParameters = z.object({
  query: z.string().describe('What to look for, in the words the documents would likely use'),
});

@Injectable()
export class KnowledgeSearchTool {
  readonly description = DESCRIPTION;
  readonly parameters = ToolParameters;
  /** Per agent turn: chunk id → citation number. */
  private readonly refs = new WeakMap<object, Map<string, number>>();

  constructor(
    private readonly search: SearchService,
    @Inject(ragConfig.KEY) private readonly config: RagConfig,
  ) {}

  /** The JSON the model receives; see rag.citations for its shape. */
  async execute(query: string, context: KnowledgeToolTurn): Promise<string> {
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

  /** The answer's [n] markers as ChatKit annotations pointing at the passages this tool returned. */
  annotate(text: string, outputs: unknown[]): Annotation[] {
    return citationAnnotations(text, outputs.flatMap(knowledgeSourcesFromToolOutput));
  }
}
