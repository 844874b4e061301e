/**
 * Thread items (oldest first) → the model input of the next turn (Agents SDK `AgentInputItem`s),
 * following the ChatKit reference converter item kind by item kind (fact sheet §7.3), trimmed to
 * the last N messages and an approximate token budget.
 *
 * It must never drop the newest user message (the question being answered), never split a tool
 * call from its result, and never pass raw attachment bytes it could not vouch for: a missing,
 * oversized or unreadable attachment becomes a short note to the model instead.
 */
import type {
  AgentInputItem,
  CallModelInputFilter,
  AssistantMessageItem as ModelAssistantMessage,
  UserMessageItem as ModelUserMessage,
} from '@openai/agents';
import type {
  Attachment,
  ClientToolCallItem,
  GeneratedImageItem,
  StructuredInputItem,
  Task,
  ThreadItem,
  UserMessageItem,
  WidgetItem,
} from 'src/protocol/chatkit.schemas';
import { isMessageItem } from 'src/protocol/chatkit.schemas';
import type { AttachmentFile } from 'src/attachments/attachment-reader.service';

/** The part of AttachmentReaderService the conversion uses (a plain object in unit specs). */
export interface AttachmentReader {
  /**
   * The bytes of an attachment, or null when they are gone. A file larger than `maxBytes` is not
   * loaded at all: a note is all the model gets of it, so only its size comes back.
   */
  read(attachment: Attachment, maxBytes: number): Promise<AttachmentFile | null>;
}

export const NO_ATTACHMENTS: AttachmentReader = { read: () => Promise.resolve(null) };

export interface HistoryOptions {
  /** How many user/assistant messages to keep, counting back from the newest. */
  maxMessages: number;
  /** Approximate token budget; the newest user message and what follows it are kept even beyond it. */
  tokenBudget: number;
  /** Attachments larger than this become a note instead of content. */
  attachmentMaxBytes: number;
  attachments: AttachmentReader;
}

type UserContentPart = Exclude<ModelUserMessage['content'], string>[number];

/** Images the OpenAI vision models accept. */
const MODEL_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Documents file inputs accept; other binaries would make the whole request fail, every turn. */
const MODEL_FILE_TYPES = new Set([
  'application/pdf',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/rtf',
  'application/vnd.oasis.opendocument.text',
]);

/** Rough cost of one image in prompt tokens (a detail:auto image is 85–1100). */
const IMAGE_TOKENS = 800;

function baseMimeType(mimeType: string): string {
  return mimeType.split(';')[0].trim().toLowerCase();
}

export function isTextMimeType(mimeType: string): boolean {
  const type = baseMimeType(mimeType);
  return (
    type.startsWith('text/') ||
    type.endsWith('+json') ||
    type.endsWith('+xml') ||
    [
      'application/json',
      'application/xml',
      'application/yaml',
      'application/x-yaml',
      'application/csv',
      'application/x-ndjson',
      'application/javascript',
      'application/sql',
      'image/svg+xml',
    ].includes(type)
  );
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function quoteName(name: string): string {
  return JSON.stringify(name.replace(/[\r\n]+/g, ' '));
}

/** How one attachment is shown to the model. */
export async function attachmentContent(
  attachment: Attachment,
  reader: AttachmentReader,
  maxBytes: number,
): Promise<UserContentPart> {
  const name = quoteName(attachment.name);
  const note = (text: string): UserContentPart => ({
    type: 'input_text',
    text: `[Attachment ${name}: ${text}]`,
  });
  let file: AttachmentFile | null;
  try {
    file = await reader.read(attachment, maxBytes);
  } catch {
    file = null;
  }
  if (file === null) return note('no longer available, its content cannot be shown.');
  // A reader may hand back more than it was asked for; the limit holds either way.
  if (file.data === null || file.data.length > maxBytes) {
    const size = file.data === null ? file.size : file.data.length;
    return note(`too large to include (${megabytes(size)}, the limit is ${megabytes(maxBytes)}).`);
  }
  const mimeType = baseMimeType(file.mimeType || attachment.mime_type);
  const dataUrl = `data:${mimeType};base64,${file.data.toString('base64')}`;
  if (MODEL_IMAGE_TYPES.has(mimeType)) return { type: 'input_image', image: dataUrl, detail: 'auto' };
  if (isTextMimeType(mimeType)) {
    return {
      type: 'input_text',
      text: `Attachment ${name} (${mimeType}):\n<attachment>\n${file.data.toString('utf8')}\n</attachment>`,
    };
  }
  if (MODEL_FILE_TYPES.has(mimeType)) return { type: 'input_file', file: dataUrl, filename: attachment.name };
  return note(`a ${mimeType} file the model cannot read.`);
}

/** The newest user message of a thread's items (oldest first), if any. */
export function lastUserMessage(items: readonly ThreadItem[]): UserMessageItem | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item.type === 'user_message') return item;
  }
  return undefined;
}

/** The user's text with @-mentions rendered as `@name`, as ChatKit displays it. */
export function userMessageText(item: Pick<UserMessageItem, 'content'>): string {
  return item.content.map((part) => (part.type === 'input_text' ? part.text : `@${part.text}`)).join('');
}

function userText(text: string): ModelUserMessage {
  return { role: 'user', content: text };
}

function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === null ? undefined : v)) ?? 'null';
}

async function convertUserMessage(
  item: UserMessageItem,
  isLast: boolean,
  options: HistoryOptions,
): Promise<AgentInputItem[]> {
  const attachments = await Promise.all(
    item.attachments.map((a) => attachmentContent(a, options.attachments, options.attachmentMaxBytes)),
  );
  const out: AgentInputItem[] = [
    { role: 'user', content: [{ type: 'input_text', text: userMessageText(item) }, ...attachments] },
  ];
  if (isLast && item.quoted_text) {
    out.push(
      userText(
        `The user is referring to this passage in particular:\n<quoted_text>\n${item.quoted_text}\n</quoted_text>`,
      ),
    );
  }
  const tags = item.content.filter((part) => part.type === 'input_tag');
  if (tags.length > 0) {
    const unique = [...new Map(tags.map((tag) => [tag.text, tag])).values()];
    out.push({
      role: 'user',
      content: [
        {
          type: 'input_text',
          text:
            'The user mentioned these entities with "@". Their details follow; refer to them by name, ' +
            'without the "@".',
        },
        ...unique.map((tag): UserContentPart => ({
          type: 'input_text',
          text: `<tag name=${quoteName(tag.text)} id=${quoteName(tag.id)}${
            tag.group ? ` group=${quoteName(tag.group)}` : ''
          }>${json(tag.data)}</tag>`,
        })),
      ],
    });
  }
  return out;
}

function convertClientToolCall(item: ClientToolCallItem): AgentInputItem[] {
  if (item.status !== 'completed') return [];
  return [
    {
      type: 'function_call',
      callId: item.call_id,
      name: item.name,
      arguments: JSON.stringify(item.arguments),
      status: 'completed',
    },
    {
      type: 'function_call_result',
      callId: item.call_id,
      name: item.name,
      status: 'completed',
      output: JSON.stringify(item.output ?? null),
    },
  ];
}

function convertWidget(item: WidgetItem): AgentInputItem[] {
  return [userText(`A widget (id: ${item.id}) was displayed to the user:\n${json(item.widget)}`)];
}

function convertTask(task: Task): AgentInputItem[] {
  if (task.type !== 'custom' || (!task.title && !task.content)) return [];
  const text = [task.title, task.content].filter(Boolean).join(': ');
  return [userText(`A task was performed in an earlier answer:\n<Task>${text}</Task>`)];
}

function convertStructuredInput(item: StructuredInputItem): AgentInputItem[] {
  const lines = item.inputs.map((input) => {
    const answer = !input.answer
      ? 'unanswered'
      : input.answer.skipped
        ? 'skipped'
        : input.answer.values.length > 0
          ? input.answer.values.join(', ')
          : 'unanswered';
    return `- ${input.question}\n  answer: ${answer}`;
  });
  return [
    userText(
      `The user was asked to fill in a form (status: ${item.status}):\n<StructuredInput>\n${lines.join('\n')}\n</StructuredInput>`,
    ),
  ];
}

function convertHiddenContext(content: unknown): AgentInputItem[] {
  const text = typeof content === 'string' ? content : json(content);
  return [
    userText(
      `Context from the application, not shown to the user:\n<HiddenContext>\n${text}\n</HiddenContext>`,
    ),
  ];
}

function convertGeneratedImage(item: GeneratedImageItem): AgentInputItem[] {
  if (!item.image) return [];
  return [
    {
      role: 'user',
      content: [
        { type: 'input_text', text: 'This image was generated and shown to the user:' },
        { type: 'input_image', image: item.image.url, detail: 'auto' },
      ],
    },
  ];
}

/** One thread item → its model input items (possibly none). */
export async function convertItem(
  item: ThreadItem,
  isLast: boolean,
  options: HistoryOptions,
): Promise<AgentInputItem[]> {
  switch (item.type) {
    case 'user_message':
      return convertUserMessage(item, isLast, options);
    case 'assistant_message': {
      const message: ModelAssistantMessage = {
        role: 'assistant',
        status: 'completed',
        content: item.content.map((part) => ({ type: 'output_text', text: part.text })),
      };
      return [message];
    }
    case 'client_tool_call':
      return convertClientToolCall(item);
    case 'widget':
      return convertWidget(item);
    case 'workflow':
      return item.workflow.tasks.flatMap(convertTask);
    case 'task':
      return convertTask(item.task);
    case 'structured_input':
      return convertStructuredInput(item);
    case 'hidden_context_item':
    case 'sdk_hidden_context':
      return convertHiddenContext(item.content);
    case 'generated_image':
      return convertGeneratedImage(item);
    case 'end_of_turn':
      return [];
  }
}

/** Approximate prompt tokens: ~4 characters a token for text, a flat cost for images. */
export function estimateTokens(items: readonly AgentInputItem[]): number {
  let chars = 0;
  let tokens = 0;
  const parts = (content: unknown): void => {
    if (typeof content === 'string') {
      chars += content.length;
      return;
    }
    if (!Array.isArray(content)) return;
    for (const part of content as Array<Record<string, unknown>>) {
      if (part.type === 'input_image') tokens += IMAGE_TOKENS;
      else if (part.type === 'input_file' && typeof part.file === 'string')
        chars += (part.file.length * 3) / 4;
      else if (typeof part.text === 'string') chars += part.text.length;
    }
  };
  for (const item of items) {
    const record = item as Record<string, unknown>;
    if ('content' in record) parts(record.content);
    if (typeof record.arguments === 'string') chars += record.arguments.length;
    if ('output' in record) parts(record.output);
    tokens += 4; // per-message framing
  }
  return tokens + Math.ceil(chars / 4);
}

/**
 * Converts the history. Items older than the `maxMessages`-th newest message are dropped first;
 * then items are converted newest first until the token budget is spent, so attachments of
 * messages that will not fit are never read. The newest user message and everything after it
 * are always kept, whatever they cost.
 */
export async function toAgentInput(
  items: readonly ThreadItem[],
  options: HistoryOptions,
): Promise<AgentInputItem[]> {
  let start = 0;
  let messages = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    if (!isMessageItem(items[i])) continue;
    messages++;
    if (messages === options.maxMessages) {
      start = i;
      break;
    }
  }
  let pinned = items.length - 1;
  for (let i = items.length - 1; i >= start; i--) {
    if (items[i].type === 'user_message') {
      pinned = i;
      break;
    }
  }

  const groups: AgentInputItem[][] = [];
  let spent = 0;
  for (let i = items.length - 1; i >= start; i--) {
    const converted = await convertItem(items[i], i === items.length - 1, options);
    const cost = estimateTokens(converted);
    if (i < pinned && spent + cost > options.tokenBudget) break;
    spent += cost;
    groups.push(converted);
  }
  return groups.reverse().flat();
}

/**
 * A turn's model input as the run gets it: the last item as the run's own input, the items before
 * it apart. The SDK copies every item of a run's input, and keys each by its JSON, to keep a
 * session in step with what the model saw; this server keeps no SDK session (the thread is the
 * history), so that work bought nothing for the ten messages of history of every turn.
 */
export function splitHistory(input: AgentInputItem[]): { earlier: AgentInputItem[]; last: AgentInputItem[] } {
  return input.length > 1
    ? { earlier: input.slice(0, -1), last: input.slice(-1) }
    : { earlier: [], last: input };
}

/**
 * Puts `earlier` back in front of every model call's input (the run's first call and each one
 * after a tool call), so the model gets the same request as with the whole history as input (a
 * continued turn's tool call and its result stay side by side: the call ends `earlier`).
 * The items are never changed, here or by the SDK, which copies what the filter returns.
 */
export function withEarlierItems(earlier: AgentInputItem[]): CallModelInputFilter {
  return Object.assign(
    ({ modelData }: Parameters<CallModelInputFilter>[0]) => ({
      ...modelData,
      input: [...earlier, ...modelData.input],
    }),
    { preserveInputIdentity: true },
  );
}
