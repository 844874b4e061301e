/**
 * The responder used when no language model is configured: it says so honestly, then shows the
 * knowledge-base passages most relevant to the question, each cited with its source, so a fresh
 * install is useful (and testable) before anyone has an API key.
 *
 * It must never pretend to be a model: it does not summarise or rephrase, it quotes, keeping the
 * passage's Markdown as written. Greetings and small talk get a short reply saying what it is and
 * how to configure a model, instead of a search for "hello". Searching goes through the knowledge
 * base's SearchService, scoped by the request.
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
/** Roughly how much of each passage is quoted; cut at a line (or, for one long line, a word). */
const EXCERPT_CHARS = 600;

const NO_MODEL = 'No language model is configured on this server, so I can’t write an answer myself.';
const HOW_TO_CONFIGURE =
  'To get real answers, set `OPENAI_API_KEY` (OpenAI) or `OPENAI_BASE_URL` (any OpenAI-compatible ' +
  'server, such as Ollama at `http://localhost:11434/v1`) and restart the server; docs/models.md ' +
  'has the details.';
const WHAT_I_DO =
  'Ask me a question and I’ll quote the passages of the knowledge base that match it, with their sources.';

export type SmallTalk = 'greeting' | 'thanks' | 'farewell' | 'about';

/**
 * Phrases that carry no question, by kind; a message made only of them (and punctuation, emoji,
 * "there", a name of the bot…) is small talk, answered without searching. Searching "Hello!"
 * would only ever find nothing, or a passage that happens to contain "hello".
 */
const SMALL_TALK: Array<[SmallTalk, RegExp]> = [
  ['thanks', /\b(thanks?( you)?( (so|very) much| a lot)?|thx|ty|cheers|much appreciated)\b/g],
  ['farewell', /\b(good ?bye|bye( bye)?|see you( later| soon)?|good night|later)\b/g],
  [
    'about',
    /\b(who are you|what are you|what can you do|what do you do|are you (a bot|a robot|human|real|an ai|there)|help( me)?|can you help( me)?|test(ing)?|ping)\b/g,
  ],
  [
    'greeting',
    /\b(hi|hello|hey|hiya|howdy|yo|greetings|good (morning|afternoon|evening|day)|how are you( doing| today)?|how('s| is) it going|what'?s up|sup|nice to meet you)\b/g,
  ],
];
const FILLER = /\b(there|everyone|all|folks|bot|assistant|chatkit|again|and|so|ok|okay|oh|please)\b/g;

/** The kind of small talk `text` is, or undefined when it may be a question worth searching for. */
export function smallTalkKind(text: string): SmallTalk | undefined {
  const words = text
    .toLowerCase()
    .replace(/[’`]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (words === '' || words.length > 80) return undefined;
  let rest = words;
  let kind: SmallTalk | undefined;
  for (const [candidate, phrases] of SMALL_TALK) {
    const without = rest.replace(phrases, ' ');
    if (without !== rest) kind ??= candidate;
    rest = without;
  }
  return kind && rest.replace(FILLER, ' ').trim() === '' ? kind : undefined;
}

function smallTalkReply(kind: SmallTalk): string {
  switch (kind) {
    case 'greeting':
      return `Hello! I’m this gateway’s offline responder: no language model is configured, so I can’t chat. ${WHAT_I_DO}\n\n${HOW_TO_CONFIGURE}`;
    case 'thanks':
      return `You’re welcome! ${WHAT_I_DO}\n\n${HOW_TO_CONFIGURE}`;
    case 'farewell':
      return 'Goodbye! Come back with a question any time.';
    case 'about':
      return `I’m the offline responder of this ChatKit Gateway. ${NO_MODEL} ${WHAT_I_DO}\n\n${HOW_TO_CONFIGURE}`;
  }
}

/** A fence line (``` or ~~~) opens a code block, or closes the one opened by the same marker. */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * The start of a passage as Markdown that still renders as written — tables, code blocks, lists
 * and line breaks intact — cut at a line boundary, inside a blockquote. A code block left open (by
 * the cut, or by a chunk that started inside one) is closed, so it cannot swallow what follows.
 */
export function quotePassage(text: string, limit = EXCERPT_CHARS): string {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length && lines[0] === '') lines.shift();
  while (lines.length && lines.at(-1) === '') lines.pop();
  const kept: string[] = [];
  let used = 0;
  let fence: string | undefined;
  let cut = false;
  for (const line of lines) {
    if (used + line.length > limit) {
      cut = true;
      // A first line longer than the whole excerpt (prose without line breaks) is cut at a word.
      if (kept.length === 0) kept.push(cutAtWord(line, limit));
      break;
    }
    kept.push(line);
    used += line.length + 1;
    const marker = FENCE.exec(line)?.[1];
    if (marker && !fence) fence = marker;
    else if (marker && fence && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
  }
  while (kept.length && kept.at(-1) === '') kept.pop();
  if (fence) kept.push(fence);
  if (cut && !kept.at(-1)!.endsWith('…')) kept.push('…');
  return kept.map((line) => (line === '' ? '>' : `> ${line}`)).join('\n');
}

function cutAtWord(line: string, limit: number): string {
  const cut = line.slice(0, limit);
  const space = cut.lastIndexOf(' ');
  return `${space > limit / 2 ? cut.slice(0, space) : cut}…`;
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
    const smallTalk = smallTalkKind(question);
    if (smallTalk) return [{ text: smallTalkReply(smallTalk) }];
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
      return [
        {
          text: `${NO_MODEL} I found nothing in the knowledge base that matches your question.\n\n${HOW_TO_CONFIGURE}`,
        },
      ];
    }
    const intro =
      passages.length === 1
        ? 'This passage from the knowledge base looks relevant to your question:'
        : `These ${passages.length} passages from the knowledge base look most relevant to your question:`;
    return [
      { text: `${NO_MODEL} ${intro}` },
      ...passages.map((p, i) => ({
        text: `\n\n${i + 1}. **${p.title.replace(/\s+/g, ' ').trim()}**\n${quotePassage(p.text)}`,
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
