/**
 * The responder used when no language model is configured: it says so honestly, then shows the
 * knowledge-base passages most relevant to the question, each cited with its source, so a fresh
 * install is useful (and testable) before anyone has an API key.
 *
 * It must never pretend to be a model: it does not summarise or rephrase, it quotes. Searching
 * goes through the knowledge base's SearchService, scoped by the request.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { lastUserMessage, userMessageText } from 'src/agent/history.converter';
import { fallbackTitle } from 'src/agent/thread-title';
import type { Source, ThreadStreamEvent, UserMessageItem } from 'src/protocol/chatkit.schemas';
import type { Responder, ResponderContext, ThreadView } from 'src/chatkit/chatkit.ports';
import { streamAssistantMessage } from 'src/chatkit/assistant-message.stream';
import type { RequestContext } from 'src/common/request-context';
import { SearchService, type KnowledgePassage } from 'src/rag/rag.search.service';

/** The part of the knowledge base's SearchService this responder uses. */
export interface KnowledgeSearch {
  search(query: string, context: RequestContext, limit: number): Promise<KnowledgePassage[]>;
}

const PASSAGES = 3;
const EXCERPT_CHARS = 400;

const NO_MODEL = 'No language model is configured on this server, so I can’t write an answer myself.';

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= EXCERPT_CHARS) return flat;
  const cut = flat.slice(0, EXCERPT_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${space > EXCERPT_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

function sourceOf(passage: KnowledgePassage): Source {
  if (/^https?:\/\//i.test(passage.source)) return { type: 'url', url: passage.source, title: passage.title };
  const filename = passage.source.split(/[\\/]/).filter(Boolean).at(-1) ?? passage.source;
  return { type: 'file', filename, title: passage.title, description: passage.source };
}

interface Piece {
  text: string;
  source?: Source;
}

@Injectable()
export class OfflineResponder implements Responder {
  private readonly logger = new Logger(OfflineResponder.name);

  /** Without a knowledge base (only where a test builds one by hand) there is nothing to show. */
  constructor(@Inject(SearchService) private readonly knowledge?: KnowledgeSearch) {}

  async *respond(
    thread: ThreadView,
    input: UserMessageItem | null,
    context: ResponderContext,
    signal: AbortSignal,
  ): AsyncGenerator<ThreadStreamEvent, void> {
    const question = (input ? userMessageText(input) : await this.lastQuestion(context)).trim();
    const pieces = await this.answer(question, context.request);
    if (signal.aborted) return;

    yield* streamAssistantMessage({
      threadId: thread.id,
      id: context.generateId('message'),
      createdAt: context.now(),
      pieces,
      signal,
    });

    if (input !== null && !thread.title) context.updateThread({ title: fallbackTitle(question) });
  }

  private async answer(question: string, request: RequestContext): Promise<Piece[]> {
    const knowledge = this.knowledge;
    if (!knowledge) {
      return [
        { text: `${NO_MODEL} The knowledge base is empty as well, so there is nothing I can show you yet.` },
      ];
    }
    if (question === '') {
      return [{ text: `${NO_MODEL} I can only search the knowledge base for a written question.` }];
    }
    let passages: KnowledgePassage[];
    try {
      passages = await knowledge.search(question, request, PASSAGES);
    } catch (error) {
      this.logger.warn(
        `Knowledge-base search failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return [
        {
          text: `${NO_MODEL} The knowledge base could not be searched right now either; please try again later.`,
        },
      ];
    }
    if (passages.length === 0) {
      return [{ text: `${NO_MODEL} I found nothing in the knowledge base that matches your question.` }];
    }
    const intro =
      passages.length === 1
        ? 'This passage from the knowledge base looks relevant to your question:'
        : `These ${passages.length} passages from the knowledge base look most relevant to your question:`;
    return [
      { text: `${NO_MODEL} ${intro}` },
      ...passages.map((p, i) => ({
        text: `\n\n${i + 1}. **${p.title.replace(/\s+/g, ' ').trim()}**\n> ${excerpt(p.text)}`,
        source: sourceOf(p),
      })),
    ];
  }

  /** Without a new user message (e.g. a structured-input answer) the question is the last one asked. */
  private async lastQuestion(context: ResponderContext): Promise<string> {
    const last = lastUserMessage(await context.loadHistory(20));
    return last ? userMessageText(last) : '';
  }
}
