/**
 * The ChatKit wire protocol (requests, threads, items, stream events) described once in zod; the
 * TypeScript types, the request validation and the OpenAPI schema all derive from these
 * definitions. Field names and defaults follow the reference server (chatkit-python 1.6.5).
 * This module must stay pure data description: no I/O, no Nest imports, no transforms that
 * would make a schema unrepresentable as JSON Schema.
 *
 * Conventions:
 * - Objects strip unknown keys on parse (the reference ignores extra keys); widget JSON is the
 *   one exception and passes through untouched.
 * - Optional scalar fields are `.nullish()`: the reference treats `null` and "absent" alike and
 *   the wire serializer omits both.
 * - Defaults that are not null (`[]`, `{}`, `false`, `"none"`, …) are declared with `.default()`
 *   so a parsed value always carries them and they are emitted on the wire.
 * - Every string and free-form JSON value a client sends is bounded (INPUT_LIMITS) and refused
 *   when PostgreSQL could not store it (NUL, unpaired surrogate). The global input pipe refuses
 *   the same earlier; the schemas say it too so a body parsed anywhere else obeys the same rule.
 */
import { z } from 'zod';
import { INPUT_LIMITS } from 'src/common/input-limits';
import { findUnstorable, jsonLength, textProblem } from 'src/common/storable-text';

// ---------------------------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------------------------

/** Free-form JSON object (`dict[str, Any]` in the reference). */
export const JsonObjectSchema = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObjectSchema>;

/** Text from a client: at most `maxChars` long and storable by PostgreSQL. */
export function ClientTextSchema(maxChars: number) {
  return z
    .string()
    .max(maxChars)
    .check((ctx) => {
      const reason = textProblem(ctx.value);
      if (reason) ctx.issues.push({ code: 'custom', message: reason, input: ctx.value });
    });
}

/** Free-form JSON from a client: storable, and at most `maxChars` long as JSON. */
export function ClientJsonSchema<T extends z.ZodType>(schema: T, maxChars: number) {
  return schema.check((ctx) => {
    const found = findUnstorable(ctx.value);
    if (found) {
      ctx.issues.push({ code: 'custom', message: found.reason, input: ctx.value, path: found.path });
    } else if (jsonLength(ctx.value) > maxChars) {
      ctx.issues.push({
        code: 'custom',
        message: `must be at most ${maxChars} characters as JSON`,
        input: ctx.value,
      });
    }
  });
}

/**
 * Ids coming from the client. Non-empty so that an empty id is a 400 rather than a lookup that
 * can only fail later.
 */
export const IdSchema = ClientTextSchema(INPUT_LIMITS.idChars).min(1);

/** Short client-chosen names: action types, model and tool ids, tag ids, MIME types. */
const NameSchema = ClientTextSchema(INPUT_LIMITS.nameChars);

/** A thread title; the same bound on `threads.update` and on the REST routes. */
export const ThreadTitleSchema = ClientTextSchema(INPUT_LIMITS.titleChars);

/** A page cursor: the id of the last element of the previous page. */
export const CursorSchema = ClientTextSchema(INPUT_LIMITS.idChars);

/**
 * ISO-8601 date-time. The reference emits naive local times without a zone; we emit `...Z`;
 * both must parse.
 */
export const IsoDateTimeSchema = z.iso.datetime({ local: true, offset: true });

/**
 * Icon names are a fixed list plus `vendor:`/`lucide:` prefixes that grow with every client
 * release, so the server treats them as opaque strings rather than rejecting new names.
 */
export const IconNameSchema = z.string();

/** Page size used when `limit` is missing, null or 0. */
export const DEFAULT_PAGE_LIMIT = 20;

/** `limit: 0` means "default", not "nothing" (fact sheet 9.8). */
export function resolvePageLimit(limit: number | null | undefined): number {
  return limit ? limit : DEFAULT_PAGE_LIMIT;
}

export const PageOrderSchema = z.enum(['asc', 'desc']);
export type PageOrder = z.infer<typeof PageOrderSchema>;

/** `Page<T>`: `after` is the id of the last element and is present only when `has_more`. */
export function PageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    has_more: z.boolean().default(false),
    after: z.string().nullish(),
  });
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  after?: string | null;
}

// ---------------------------------------------------------------------------------------------
// Widgets (opaque pass-through)
// ---------------------------------------------------------------------------------------------

/**
 * A widget root (`Card`, `ListView`, `Basic`, …). The server never interprets widget JSON apart
 * from the streaming diff rules, and ChatKit.js adds components in minor releases, so only `type`
 * is checked and everything else is kept verbatim.
 */
export const WidgetRootSchema = z.looseObject({ type: z.string() });
export type WidgetRoot = z.infer<typeof WidgetRootSchema>;

/** One widget component (`Text`, `Markdown`, `Button`, …), same pass-through treatment. */
export const WidgetComponentSchema = z.looseObject({ type: z.string() });
export type WidgetComponent = z.infer<typeof WidgetComponentSchema>;

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

/** Wire action sent by widgets: `payload` may be omitted (since 1.1.0). */
export const ActionSchema = z.object({
  type: NameSchema.min(1),
  payload: ClientJsonSchema(z.unknown(), INPUT_LIMITS.payloadJsonChars).optional(),
});
export type Action = z.infer<typeof ActionSchema>;

// ---------------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------------

export const UploadDescriptorSchema = z.object({
  url: z.string(),
  method: z.enum(['POST', 'PUT']),
  headers: z.record(z.string(), z.string()).default({}),
});
export type UploadDescriptor = z.infer<typeof UploadDescriptorSchema>;

const attachmentBase = {
  id: z.string(),
  name: z.string(),
  mime_type: z.string(),
  upload_descriptor: UploadDescriptorSchema.nullish(),
  thread_id: z.string().nullish(),
  /** Server-private; the wire serializer strips it from every output. */
  metadata: JsonObjectSchema.nullish(),
};

export const FileAttachmentSchema = z.object({ ...attachmentBase, type: z.literal('file') });
export type FileAttachment = z.infer<typeof FileAttachmentSchema>;

export const ImageAttachmentSchema = z.object({
  ...attachmentBase,
  type: z.literal('image'),
  preview_url: z.string(),
});
export type ImageAttachment = z.infer<typeof ImageAttachmentSchema>;

export const AttachmentSchema = z.discriminatedUnion('type', [FileAttachmentSchema, ImageAttachmentSchema]);
export type Attachment = z.infer<typeof AttachmentSchema>;

// ---------------------------------------------------------------------------------------------
// User message input and content
// ---------------------------------------------------------------------------------------------

export const InputTextContentSchema = z.object({
  type: z.literal('input_text'),
  text: ClientTextSchema(INPUT_LIMITS.messageTextChars),
});
export type InputTextContent = z.infer<typeof InputTextContentSchema>;

/**
 * An @-mention. The reference requires `data`; ChatKit.js types mark it optional, so it
 * defaults to `{}` rather than turning a valid client message into a 400.
 */
export const InputTagContentSchema = z.object({
  type: z.literal('input_tag'),
  id: NameSchema,
  text: ClientTextSchema(INPUT_LIMITS.messageTextChars),
  data: ClientJsonSchema(JsonObjectSchema, INPUT_LIMITS.payloadJsonChars).default({}),
  group: NameSchema.nullish(),
  interactive: z.boolean().default(false),
});
export type InputTagContent = z.infer<typeof InputTagContentSchema>;

export const UserMessageContentSchema = z.discriminatedUnion('type', [
  InputTextContentSchema,
  InputTagContentSchema,
]);
export type UserMessageContent = z.infer<typeof UserMessageContentSchema>;

export const ToolChoiceSchema = z.object({ id: NameSchema });
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** The composer's tool menu and model picker choices. */
export const InferenceOptionsSchema = z.object({
  tool_choice: ToolChoiceSchema.nullish(),
  model: NameSchema.nullish(),
});
export type InferenceOptions = z.infer<typeof InferenceOptionsSchema>;

/**
 * `params.input` of `threads.create` / `threads.add_user_message`.
 *
 * The reference makes `attachments` and `inference_options` required (fact sheet 9.7). We
 * default them to `[]` and `{}` instead: ChatKit.js always sends both, so nothing changes for it,
 * while hand-written clients (curl, the REST front ends) that leave them out get the obvious
 * meaning instead of a 400. The stored user_message item still always carries both fields, so
 * the wire output is identical to the reference's. `content` stays required: a message without
 * content is a client bug worth reporting.
 */
export const UserMessageInputSchema = z.object({
  content: z.array(UserMessageContentSchema).max(INPUT_LIMITS.contentParts),
  attachments: z.array(IdSchema).max(INPUT_LIMITS.itemsPerRequest).default([]),
  quoted_text: ClientTextSchema(INPUT_LIMITS.quotedTextChars).nullish(),
  inference_options: InferenceOptionsSchema.default({}),
});
export type UserMessageInput = z.infer<typeof UserMessageInputSchema>;

// ---------------------------------------------------------------------------------------------
// Assistant content, annotations, sources
// ---------------------------------------------------------------------------------------------

const sourceBase = {
  title: z.string(),
  description: z.string().nullish(),
  timestamp: z.string().nullish(),
  group: z.string().nullish(),
};

export const URLSourceSchema = z.object({
  ...sourceBase,
  type: z.literal('url'),
  url: z.string(),
  attribution: z.string().nullish(),
});
export type URLSource = z.infer<typeof URLSourceSchema>;

export const FileSourceSchema = z.object({
  ...sourceBase,
  type: z.literal('file'),
  filename: z.string(),
});
export type FileSource = z.infer<typeof FileSourceSchema>;

/** `preview` is deprecated and ignored by clients; accepted so old stored items still parse. */
export const EntitySourceSchema = z.object({
  ...sourceBase,
  type: z.literal('entity'),
  id: z.string(),
  icon: IconNameSchema.nullish(),
  label: z.string().nullish(),
  inline_label: z.string().nullish(),
  interactive: z.boolean().default(false),
  data: JsonObjectSchema.default({}),
  preview: z.string().nullish(),
});
export type EntitySource = z.infer<typeof EntitySourceSchema>;

export const SourceSchema = z.discriminatedUnion('type', [
  URLSourceSchema,
  FileSourceSchema,
  EntitySourceSchema,
]);
export type Source = z.infer<typeof SourceSchema>;

/** `index` is the character offset in the text where the citation marker goes. */
export const AnnotationSchema = z.object({
  type: z.literal('annotation'),
  source: SourceSchema,
  index: z.int().min(0).nullish(),
});
export type Annotation = z.infer<typeof AnnotationSchema>;

export const AssistantMessageContentSchema = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(AnnotationSchema).default([]),
});
export type AssistantMessageContent = z.infer<typeof AssistantMessageContentSchema>;

// ---------------------------------------------------------------------------------------------
// Workflows and tasks
// ---------------------------------------------------------------------------------------------

export const TaskStatusIndicatorSchema = z.enum(['none', 'loading', 'complete']);
export type TaskStatusIndicator = z.infer<typeof TaskStatusIndicatorSchema>;

const taskBase = { status_indicator: TaskStatusIndicatorSchema.default('none') };

export const CustomTaskSchema = z.object({
  ...taskBase,
  type: z.literal('custom'),
  title: z.string().nullish(),
  icon: IconNameSchema.nullish(),
  content: z.string().nullish(),
});
export type CustomTask = z.infer<typeof CustomTaskSchema>;

export const WebSearchTaskSchema = z.object({
  ...taskBase,
  type: z.literal('web_search'),
  title: z.string().nullish(),
  title_query: z.string().nullish(),
  queries: z.array(z.string()).default([]),
  sources: z.array(URLSourceSchema).default([]),
});
export type WebSearchTask = z.infer<typeof WebSearchTaskSchema>;

export const ThoughtTaskSchema = z.object({
  ...taskBase,
  type: z.literal('thought'),
  title: z.string().nullish(),
  content: z.string(),
});
export type ThoughtTask = z.infer<typeof ThoughtTaskSchema>;

export const FileTaskSchema = z.object({
  ...taskBase,
  type: z.literal('file'),
  title: z.string().nullish(),
  sources: z.array(FileSourceSchema).default([]),
});
export type FileTask = z.infer<typeof FileTaskSchema>;

export const ImageTaskSchema = z.object({
  ...taskBase,
  type: z.literal('image'),
  title: z.string().nullish(),
});
export type ImageTask = z.infer<typeof ImageTaskSchema>;

export const TaskSchema = z.discriminatedUnion('type', [
  CustomTaskSchema,
  WebSearchTaskSchema,
  ThoughtTaskSchema,
  FileTaskSchema,
  ImageTaskSchema,
]);
export type Task = z.infer<typeof TaskSchema>;

export const CustomSummarySchema = z.object({
  title: z.string(),
  icon: IconNameSchema.nullish(),
});
export type CustomSummary = z.infer<typeof CustomSummarySchema>;

/** Elapsed seconds, shown as "Thought for Ns". */
export const DurationSummarySchema = z.object({ duration: z.int().min(0) });
export type DurationSummary = z.infer<typeof DurationSummarySchema>;

/** Undiscriminated in the protocol: the shape tells which one it is. */
export const WorkflowSummarySchema = z.union([CustomSummarySchema, DurationSummarySchema]);
export type WorkflowSummary = z.infer<typeof WorkflowSummarySchema>;

export const WorkflowSchema = z.object({
  type: z.enum(['custom', 'reasoning']),
  tasks: z.array(TaskSchema),
  summary: WorkflowSummarySchema.nullish(),
  expanded: z.boolean().default(false),
});
export type Workflow = z.infer<typeof WorkflowSchema>;

// ---------------------------------------------------------------------------------------------
// Structured input (since 1.6.4)
// ---------------------------------------------------------------------------------------------

export const StructuredInputAnswerSchema = z.object({
  values: z.array(z.string()).default([]),
  skipped: z.boolean().default(false),
});
export type StructuredInputAnswer = z.infer<typeof StructuredInputAnswerSchema>;

const structuredInputBase = {
  id: z.string(),
  question: z.string(),
  answer: StructuredInputAnswerSchema.nullish(),
};

export const MultipleChoiceOptionSchema = z.object({ value: z.string() });
export type MultipleChoiceOption = z.infer<typeof MultipleChoiceOptionSchema>;

export const MultipleChoiceInputSchema = z.object({
  ...structuredInputBase,
  type: z.literal('multiple_choice'),
  options: z.array(MultipleChoiceOptionSchema),
  multiple: z.boolean().default(false),
});
export type MultipleChoiceInput = z.infer<typeof MultipleChoiceInputSchema>;

export const FreeformInputSchema = z.object({
  ...structuredInputBase,
  type: z.literal('freeform'),
  description: z.string().nullish(),
});
export type FreeformInput = z.infer<typeof FreeformInputSchema>;

export const StructuredInputSchema = z.discriminatedUnion('type', [
  MultipleChoiceInputSchema,
  FreeformInputSchema,
]);
export type StructuredInput = z.infer<typeof StructuredInputSchema>;

export const StructuredInputItemStatusSchema = z.enum(['pending', 'answered', 'skipped']);
export type StructuredInputItemStatus = z.infer<typeof StructuredInputItemStatusSchema>;

/** `params.input` of `threads.add_structured_input`; answers are keyed by input id. */
const StructuredInputAnswerSubmissionSchema = z.object({
  values: z
    .array(ClientTextSchema(INPUT_LIMITS.answerTextChars))
    .max(INPUT_LIMITS.itemsPerRequest)
    .default([]),
  skipped: z.boolean().default(false),
});

export const StructuredInputSubmissionSchema = z.object({
  status: z.enum(['answered', 'skipped']).default('answered'),
  answers: z
    .record(NameSchema, StructuredInputAnswerSubmissionSchema)
    .refine((answers) => Object.keys(answers).length <= INPUT_LIMITS.itemsPerRequest, {
      message: `must have at most ${INPUT_LIMITS.itemsPerRequest} answers`,
    })
    .default({}),
});
export type StructuredInputSubmission = z.infer<typeof StructuredInputSubmissionSchema>;

// ---------------------------------------------------------------------------------------------
// Thread items
// ---------------------------------------------------------------------------------------------

const itemBase = {
  id: z.string(),
  thread_id: z.string(),
  created_at: IsoDateTimeSchema,
};

export const UserMessageItemSchema = z.object({
  ...itemBase,
  type: z.literal('user_message'),
  content: z.array(UserMessageContentSchema),
  attachments: z.array(AttachmentSchema).default([]),
  quoted_text: z.string().nullish(),
  inference_options: InferenceOptionsSchema.default({}),
});
export type UserMessageItem = z.infer<typeof UserMessageItemSchema>;

export const AssistantMessageItemSchema = z.object({
  ...itemBase,
  type: z.literal('assistant_message'),
  content: z.array(AssistantMessageContentSchema),
});
export type AssistantMessageItem = z.infer<typeof AssistantMessageItemSchema>;

export const ClientToolCallStatusSchema = z.enum(['pending', 'completed']);
export type ClientToolCallStatus = z.infer<typeof ClientToolCallStatusSchema>;

export const ClientToolCallItemSchema = z.object({
  ...itemBase,
  type: z.literal('client_tool_call'),
  status: ClientToolCallStatusSchema.default('pending'),
  call_id: z.string(),
  name: z.string(),
  arguments: JsonObjectSchema,
  output: z.unknown().optional(),
});
export type ClientToolCallItem = z.infer<typeof ClientToolCallItemSchema>;

export const WidgetItemSchema = z.object({
  ...itemBase,
  type: z.literal('widget'),
  widget: WidgetRootSchema,
  copy_text: z.string().nullish(),
});
export type WidgetItem = z.infer<typeof WidgetItemSchema>;

export const GeneratedImageSchema = z.object({ id: z.string(), url: z.string() });
export type GeneratedImage = z.infer<typeof GeneratedImageSchema>;

/** `image` is absent while the image is still being generated. */
export const GeneratedImageItemSchema = z.object({
  ...itemBase,
  type: z.literal('generated_image'),
  image: GeneratedImageSchema.nullish(),
});
export type GeneratedImageItem = z.infer<typeof GeneratedImageItemSchema>;

export const StructuredInputItemSchema = z.object({
  ...itemBase,
  type: z.literal('structured_input'),
  status: StructuredInputItemStatusSchema.default('pending'),
  inputs: z.array(StructuredInputSchema),
});
export type StructuredInputItem = z.infer<typeof StructuredInputItemSchema>;

export const WorkflowItemSchema = z.object({
  ...itemBase,
  type: z.literal('workflow'),
  workflow: WorkflowSchema,
});
export type WorkflowItem = z.infer<typeof WorkflowItemSchema>;

export const TaskItemSchema = z.object({
  ...itemBase,
  type: z.literal('task'),
  task: TaskSchema,
});
export type TaskItem = z.infer<typeof TaskItemSchema>;

/** UI hint marking the end of an assistant turn; carries no data. */
export const EndOfTurnItemSchema = z.object({
  ...itemBase,
  type: z.literal('end_of_turn'),
});
export type EndOfTurnItem = z.infer<typeof EndOfTurnItemSchema>;

/** Context for the model only; must never reach the client. */
export const HiddenContextItemSchema = z.object({
  ...itemBase,
  type: z.literal('hidden_context_item'),
  content: z.unknown(),
});
export type HiddenContextItem = z.infer<typeof HiddenContextItemSchema>;

/** Context written by the server itself (e.g. the cancel marker); must never reach the client. */
export const SDKHiddenContextItemSchema = z.object({
  ...itemBase,
  type: z.literal('sdk_hidden_context'),
  content: z.string(),
});
export type SDKHiddenContextItem = z.infer<typeof SDKHiddenContextItemSchema>;

export const ThreadItemSchema = z.discriminatedUnion('type', [
  UserMessageItemSchema,
  AssistantMessageItemSchema,
  ClientToolCallItemSchema,
  WidgetItemSchema,
  GeneratedImageItemSchema,
  StructuredInputItemSchema,
  WorkflowItemSchema,
  TaskItemSchema,
  EndOfTurnItemSchema,
  HiddenContextItemSchema,
  SDKHiddenContextItemSchema,
]);
export type ThreadItem = z.infer<typeof ThreadItemSchema>;
export type ThreadItemType = ThreadItem['type'];

export const HIDDEN_ITEM_TYPES = ['hidden_context_item', 'sdk_hidden_context'] as const;
export type HiddenThreadItem = HiddenContextItem | SDKHiddenContextItem;

/** Hidden items are persisted for the model but filtered from every client-facing output. */
export function isHiddenItem(item: ThreadItem): item is HiddenThreadItem {
  return (HIDDEN_ITEM_TYPES as readonly string[]).includes(item.type);
}

/** The conversation's messages: what a model history counts in "the last N messages". */
export const MESSAGE_ITEM_TYPES = ['user_message', 'assistant_message'] as const;

export function isMessageItem(item: ThreadItem): item is UserMessageItem | AssistantMessageItem {
  return (MESSAGE_ITEM_TYPES as readonly string[]).includes(item.type);
}

export const ThreadItemPageSchema = PageSchema(ThreadItemSchema);
export type ThreadItemPage = Page<ThreadItem>;

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

export const ActiveStatusSchema = z.object({ type: z.literal('active') });
export const LockedStatusSchema = z.object({ type: z.literal('locked'), reason: z.string().nullish() });
export const ClosedStatusSchema = z.object({ type: z.literal('closed'), reason: z.string().nullish() });

/** Not enforced by the protocol layer; whoever handles a request must refuse work on locked/closed threads. */
export const ThreadStatusSchema = z.discriminatedUnion('type', [
  ActiveStatusSchema,
  LockedStatusSchema,
  ClosedStatusSchema,
]);
export type ThreadStatus = z.infer<typeof ThreadStatusSchema>;

/**
 * What the store persists. `metadata` is server-private state (e.g. a previous response id);
 * it is never sent to the client.
 */
export const ThreadMetadataSchema = z.object({
  id: z.string(),
  created_at: IsoDateTimeSchema,
  title: z.string().nullish(),
  status: ThreadStatusSchema.default({ type: 'active' }),
  allowed_image_domains: z.array(z.string()).nullish(),
  metadata: JsonObjectSchema.default({}),
});
export type ThreadMetadata = z.infer<typeof ThreadMetadataSchema>;

/** What the wire carries: metadata fields plus a page of (visible) items. */
export const ThreadSchema = ThreadMetadataSchema.extend({ items: ThreadItemPageSchema });
export type Thread = z.infer<typeof ThreadSchema>;

export const ThreadPageSchema = PageSchema(ThreadSchema);
export type ThreadPage = Page<Thread>;

// ---------------------------------------------------------------------------------------------
// Thread item updates (payload of `thread.item.updated`)
// ---------------------------------------------------------------------------------------------

const IndexSchema = z.int().min(0);

export const AssistantMessageContentPartAddedSchema = z.object({
  type: z.literal('assistant_message.content_part.added'),
  content_index: IndexSchema,
  content: AssistantMessageContentSchema,
});
export type AssistantMessageContentPartAdded = z.infer<typeof AssistantMessageContentPartAddedSchema>;

export const AssistantMessageContentPartTextDeltaSchema = z.object({
  type: z.literal('assistant_message.content_part.text_delta'),
  content_index: IndexSchema,
  delta: z.string(),
});
export type AssistantMessageContentPartTextDelta = z.infer<typeof AssistantMessageContentPartTextDeltaSchema>;

export const AssistantMessageContentPartAnnotationAddedSchema = z.object({
  type: z.literal('assistant_message.content_part.annotation_added'),
  content_index: IndexSchema,
  annotation_index: IndexSchema,
  annotation: AnnotationSchema,
});
export type AssistantMessageContentPartAnnotationAdded = z.infer<
  typeof AssistantMessageContentPartAnnotationAddedSchema
>;

export const AssistantMessageContentPartDoneSchema = z.object({
  type: z.literal('assistant_message.content_part.done'),
  content_index: IndexSchema,
  content: AssistantMessageContentSchema,
});
export type AssistantMessageContentPartDone = z.infer<typeof AssistantMessageContentPartDoneSchema>;

export const WidgetStreamingTextValueDeltaSchema = z.object({
  type: z.literal('widget.streaming_text.value_delta'),
  component_id: z.string(),
  delta: z.string(),
  done: z.boolean(),
});
export type WidgetStreamingTextValueDelta = z.infer<typeof WidgetStreamingTextValueDeltaSchema>;

export const WidgetRootUpdatedSchema = z.object({
  type: z.literal('widget.root.updated'),
  widget: WidgetRootSchema,
});
export type WidgetRootUpdated = z.infer<typeof WidgetRootUpdatedSchema>;

export const WidgetComponentUpdatedSchema = z.object({
  type: z.literal('widget.component.updated'),
  component_id: z.string(),
  component: WidgetComponentSchema,
});
export type WidgetComponentUpdated = z.infer<typeof WidgetComponentUpdatedSchema>;

export const WorkflowTaskAddedSchema = z.object({
  type: z.literal('workflow.task.added'),
  task_index: IndexSchema,
  task: TaskSchema,
});
export type WorkflowTaskAdded = z.infer<typeof WorkflowTaskAddedSchema>;

/** Carries the full task, not a delta. */
export const WorkflowTaskUpdatedSchema = z.object({
  type: z.literal('workflow.task.updated'),
  task_index: IndexSchema,
  task: TaskSchema,
});
export type WorkflowTaskUpdated = z.infer<typeof WorkflowTaskUpdatedSchema>;

export const GeneratedImageUpdatedSchema = z.object({
  type: z.literal('generated_image.updated'),
  image: GeneratedImageSchema,
  progress: z.number().min(0).max(1).nullish(),
});
export type GeneratedImageUpdated = z.infer<typeof GeneratedImageUpdatedSchema>;

export const ThreadItemUpdateSchema = z.discriminatedUnion('type', [
  AssistantMessageContentPartAddedSchema,
  AssistantMessageContentPartTextDeltaSchema,
  AssistantMessageContentPartAnnotationAddedSchema,
  AssistantMessageContentPartDoneSchema,
  WidgetStreamingTextValueDeltaSchema,
  WidgetRootUpdatedSchema,
  WidgetComponentUpdatedSchema,
  WorkflowTaskAddedSchema,
  WorkflowTaskUpdatedSchema,
  GeneratedImageUpdatedSchema,
]);
export type ThreadItemUpdate = z.infer<typeof ThreadItemUpdateSchema>;

// ---------------------------------------------------------------------------------------------
// Thread stream events (one SSE frame each)
// ---------------------------------------------------------------------------------------------

export const ThreadCreatedEventSchema = z.object({ type: z.literal('thread.created'), thread: ThreadSchema });
export type ThreadCreatedEvent = z.infer<typeof ThreadCreatedEventSchema>;

export const ThreadUpdatedEventSchema = z.object({ type: z.literal('thread.updated'), thread: ThreadSchema });
export type ThreadUpdatedEvent = z.infer<typeof ThreadUpdatedEventSchema>;

/** Not persisted: the item is pending until its `done` (or `replaced`/`removed`). */
export const ThreadItemAddedEventSchema = z.object({
  type: z.literal('thread.item.added'),
  item: ThreadItemSchema,
});
export type ThreadItemAddedEvent = z.infer<typeof ThreadItemAddedEventSchema>;

/** Never persisted (fact sheet 9.2); use `thread.item.replaced` to change a stored item. */
export const ThreadItemUpdatedEventSchema = z.object({
  type: z.literal('thread.item.updated'),
  item_id: z.string(),
  update: ThreadItemUpdateSchema,
});
export type ThreadItemUpdatedEvent = z.infer<typeof ThreadItemUpdatedEventSchema>;

export const ThreadItemDoneEventSchema = z.object({
  type: z.literal('thread.item.done'),
  item: ThreadItemSchema,
});
export type ThreadItemDoneEvent = z.infer<typeof ThreadItemDoneEventSchema>;

export const ThreadItemRemovedEventSchema = z.object({
  type: z.literal('thread.item.removed'),
  item_id: z.string(),
});
export type ThreadItemRemovedEvent = z.infer<typeof ThreadItemRemovedEventSchema>;

export const ThreadItemReplacedEventSchema = z.object({
  type: z.literal('thread.item.replaced'),
  item: ThreadItemSchema,
});
export type ThreadItemReplacedEvent = z.infer<typeof ThreadItemReplacedEventSchema>;

/** `allow_cancel` shows the client's stop button. */
export const StreamOptionsSchema = z.object({ allow_cancel: z.boolean() });
export type StreamOptions = z.infer<typeof StreamOptionsSchema>;

export const StreamOptionsEventSchema = z.object({
  type: z.literal('stream_options'),
  stream_options: StreamOptionsSchema,
});
export type StreamOptionsEvent = z.infer<typeof StreamOptionsEventSchema>;

export const ProgressUpdateEventSchema = z.object({
  type: z.literal('progress_update'),
  text: z.string(),
  icon: IconNameSchema.nullish(),
});
export type ProgressUpdateEvent = z.infer<typeof ProgressUpdateEventSchema>;

export const ClientEffectEventSchema = z.object({
  type: z.literal('client_effect'),
  name: z.string(),
  data: JsonObjectSchema.default({}),
});
export type ClientEffectEvent = z.infer<typeof ClientEffectEventSchema>;

/**
 * ChatKit.js localizes `stream.error` itself and shows `message` for `custom`; it knows no
 * other codes, so application error codes must be mapped onto these two before they reach
 * the stream.
 */
export const StreamErrorCodeSchema = z.enum(['stream.error', 'custom']);
export type StreamErrorCode = z.infer<typeof StreamErrorCodeSchema>;

export const ErrorEventSchema = z.object({
  type: z.literal('error'),
  code: StreamErrorCodeSchema.default('custom'),
  message: z.string().nullish(),
  allow_retry: z.boolean().default(false),
});
export type ErrorEvent = z.infer<typeof ErrorEventSchema>;

/** `message` is markdown. */
export const NoticeEventSchema = z.object({
  type: z.literal('notice'),
  level: z.enum(['info', 'warning', 'danger']),
  message: z.string(),
  title: z.string().nullish(),
});
export type NoticeEvent = z.infer<typeof NoticeEventSchema>;

export const ThreadStreamEventSchema = z.discriminatedUnion('type', [
  ThreadCreatedEventSchema,
  ThreadUpdatedEventSchema,
  ThreadItemAddedEventSchema,
  ThreadItemUpdatedEventSchema,
  ThreadItemDoneEventSchema,
  ThreadItemRemovedEventSchema,
  ThreadItemReplacedEventSchema,
  StreamOptionsEventSchema,
  ProgressUpdateEventSchema,
  ClientEffectEventSchema,
  ErrorEventSchema,
  NoticeEventSchema,
]);
export type ThreadStreamEvent = z.infer<typeof ThreadStreamEventSchema>;
export type ThreadStreamEventType = ThreadStreamEvent['type'];

// ---------------------------------------------------------------------------------------------
// Request params
// ---------------------------------------------------------------------------------------------

export const FeedbackKindSchema = z.enum(['positive', 'negative']);
export type FeedbackKind = z.infer<typeof FeedbackKindSchema>;

const pageParams = {
  limit: z.int().min(0).nullish(),
  order: PageOrderSchema.default('desc'),
  after: CursorSchema.nullish(),
};

export const ThreadsGetByIdParamsSchema = z.object({ thread_id: IdSchema });
export type ThreadsGetByIdParams = z.infer<typeof ThreadsGetByIdParamsSchema>;

export const ThreadsListParamsSchema = z.object(pageParams);
export type ThreadsListParams = z.infer<typeof ThreadsListParamsSchema>;

/** `title` is the only field a client may change. */
export const ThreadsUpdateParamsSchema = z.object({ thread_id: IdSchema, title: ThreadTitleSchema });
export type ThreadsUpdateParams = z.infer<typeof ThreadsUpdateParamsSchema>;

export const ThreadsDeleteParamsSchema = z.object({ thread_id: IdSchema });
export type ThreadsDeleteParams = z.infer<typeof ThreadsDeleteParamsSchema>;

export const ThreadsCreateParamsSchema = z.object({ input: UserMessageInputSchema });
export type ThreadsCreateParams = z.infer<typeof ThreadsCreateParamsSchema>;

export const ThreadsAddUserMessageParamsSchema = z.object({
  thread_id: IdSchema,
  input: UserMessageInputSchema,
});
export type ThreadsAddUserMessageParams = z.infer<typeof ThreadsAddUserMessageParamsSchema>;

/** `result` is whatever the client tool returned; `null` is a legitimate result, absence is not. */
export const ThreadsAddClientToolOutputParamsSchema = z.object({
  thread_id: IdSchema,
  result: ClientJsonSchema(z.unknown(), INPUT_LIMITS.payloadJsonChars),
});
export type ThreadsAddClientToolOutputParams = z.infer<typeof ThreadsAddClientToolOutputParamsSchema>;

export const ThreadsAddStructuredInputParamsSchema = z.object({
  thread_id: IdSchema,
  item_id: IdSchema,
  input: StructuredInputSubmissionSchema,
});
export type ThreadsAddStructuredInputParams = z.infer<typeof ThreadsAddStructuredInputParamsSchema>;

/** `item_id` names the user message to answer again; everything after it is deleted. */
export const ThreadsRetryAfterItemParamsSchema = z.object({ thread_id: IdSchema, item_id: IdSchema });
export type ThreadsRetryAfterItemParams = z.infer<typeof ThreadsRetryAfterItemParamsSchema>;

/** `item_id` is the sending widget item, absent for actions not tied to a widget. */
export const ThreadsCustomActionParamsSchema = z.object({
  thread_id: IdSchema,
  item_id: IdSchema.nullish(),
  action: ActionSchema,
});
export type ThreadsCustomActionParams = z.infer<typeof ThreadsCustomActionParamsSchema>;

export const ThreadsSyncCustomActionParamsSchema = ThreadsCustomActionParamsSchema;
export type ThreadsSyncCustomActionParams = ThreadsCustomActionParams;

export const ItemsListParamsSchema = z.object({ thread_id: IdSchema, ...pageParams });
export type ItemsListParams = z.infer<typeof ItemsListParamsSchema>;

export const ItemsFeedbackParamsSchema = z.object({
  thread_id: IdSchema,
  item_ids: z.array(IdSchema).max(INPUT_LIMITS.itemsPerRequest),
  kind: FeedbackKindSchema,
});
export type ItemsFeedbackParams = z.infer<typeof ItemsFeedbackParamsSchema>;

/** `size` is informational; the attachment storage decides whether to enforce it. */
export const AttachmentsCreateParamsSchema = z.object({
  name: ClientTextSchema(INPUT_LIMITS.fileNameChars).min(1),
  size: z.int().min(0),
  mime_type: NameSchema.min(1),
});
export type AttachmentsCreateParams = z.infer<typeof AttachmentsCreateParamsSchema>;

export const AttachmentsDeleteParamsSchema = z.object({ attachment_id: IdSchema });
export type AttachmentsDeleteParams = z.infer<typeof AttachmentsDeleteParamsSchema>;

/** `mime_type` arrives raw, e.g. `audio/webm;codecs=opus`. */
export const InputTranscribeParamsSchema = z.object({
  audio_base64: z.base64(),
  mime_type: NameSchema.min(1),
});
export type InputTranscribeParams = z.infer<typeof InputTranscribeParamsSchema>;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/**
 * Request-level metadata is free-form; the reference ignores it, we hand it to the request
 * context instead of dropping it (fact sheet 9.17).
 */
export const RequestMetadataSchema = ClientJsonSchema(
  JsonObjectSchema,
  INPUT_LIMITS.metadataJsonChars,
).default({});

/** `threads.add_user_message` → `ThreadsAddUserMessageRequest`, its name in the OpenAPI document. */
function requestSchemaId(type: string): string {
  return `${type.replace(/(^|[._])([a-z])/g, (_m: string, _sep: string, c: string) => c.toUpperCase())}Request`;
}

function requestSchema<T extends string, P extends z.ZodType>(type: T, params: P) {
  const schema = z.object({ type: z.literal(type), params, metadata: RequestMetadataSchema });
  z.globalRegistry.add(schema, { id: requestSchemaId(type), description: `The \`${type}\` request.` });
  return schema;
}

export const ThreadsGetByIdRequestSchema = requestSchema('threads.get_by_id', ThreadsGetByIdParamsSchema);
export type ThreadsGetByIdRequest = z.infer<typeof ThreadsGetByIdRequestSchema>;

export const ThreadsListRequestSchema = requestSchema('threads.list', ThreadsListParamsSchema);
export type ThreadsListRequest = z.infer<typeof ThreadsListRequestSchema>;

export const ThreadsUpdateRequestSchema = requestSchema('threads.update', ThreadsUpdateParamsSchema);
export type ThreadsUpdateRequest = z.infer<typeof ThreadsUpdateRequestSchema>;

export const ThreadsDeleteRequestSchema = requestSchema('threads.delete', ThreadsDeleteParamsSchema);
export type ThreadsDeleteRequest = z.infer<typeof ThreadsDeleteRequestSchema>;

export const ThreadsCreateRequestSchema = requestSchema('threads.create', ThreadsCreateParamsSchema);
export type ThreadsCreateRequest = z.infer<typeof ThreadsCreateRequestSchema>;

export const ThreadsAddUserMessageRequestSchema = requestSchema(
  'threads.add_user_message',
  ThreadsAddUserMessageParamsSchema,
);
export type ThreadsAddUserMessageRequest = z.infer<typeof ThreadsAddUserMessageRequestSchema>;

export const ThreadsAddClientToolOutputRequestSchema = requestSchema(
  'threads.add_client_tool_output',
  ThreadsAddClientToolOutputParamsSchema,
);
export type ThreadsAddClientToolOutputRequest = z.infer<typeof ThreadsAddClientToolOutputRequestSchema>;

export const ThreadsAddStructuredInputRequestSchema = requestSchema(
  'threads.add_structured_input',
  ThreadsAddStructuredInputParamsSchema,
);
export type ThreadsAddStructuredInputRequest = z.infer<typeof ThreadsAddStructuredInputRequestSchema>;

export const ThreadsRetryAfterItemRequestSchema = requestSchema(
  'threads.retry_after_item',
  ThreadsRetryAfterItemParamsSchema,
);
export type ThreadsRetryAfterItemRequest = z.infer<typeof ThreadsRetryAfterItemRequestSchema>;

export const ThreadsCustomActionRequestSchema = requestSchema(
  'threads.custom_action',
  ThreadsCustomActionParamsSchema,
);
export type ThreadsCustomActionRequest = z.infer<typeof ThreadsCustomActionRequestSchema>;

export const ThreadsSyncCustomActionRequestSchema = requestSchema(
  'threads.sync_custom_action',
  ThreadsSyncCustomActionParamsSchema,
);
export type ThreadsSyncCustomActionRequest = z.infer<typeof ThreadsSyncCustomActionRequestSchema>;

export const ItemsListRequestSchema = requestSchema('items.list', ItemsListParamsSchema);
export type ItemsListRequest = z.infer<typeof ItemsListRequestSchema>;

export const ItemsFeedbackRequestSchema = requestSchema('items.feedback', ItemsFeedbackParamsSchema);
export type ItemsFeedbackRequest = z.infer<typeof ItemsFeedbackRequestSchema>;

export const AttachmentsCreateRequestSchema = requestSchema(
  'attachments.create',
  AttachmentsCreateParamsSchema,
);
export type AttachmentsCreateRequest = z.infer<typeof AttachmentsCreateRequestSchema>;

export const AttachmentsDeleteRequestSchema = requestSchema(
  'attachments.delete',
  AttachmentsDeleteParamsSchema,
);
export type AttachmentsDeleteRequest = z.infer<typeof AttachmentsDeleteRequestSchema>;

export const InputTranscribeRequestSchema = requestSchema('input.transcribe', InputTranscribeParamsSchema);
export type InputTranscribeRequest = z.infer<typeof InputTranscribeRequestSchema>;

/** Every body accepted by `POST /chatkit`. */
export const ChatKitRequestSchema = z.discriminatedUnion('type', [
  ThreadsGetByIdRequestSchema,
  ThreadsListRequestSchema,
  ThreadsUpdateRequestSchema,
  ThreadsDeleteRequestSchema,
  ThreadsCreateRequestSchema,
  ThreadsAddUserMessageRequestSchema,
  ThreadsAddClientToolOutputRequestSchema,
  ThreadsAddStructuredInputRequestSchema,
  ThreadsRetryAfterItemRequestSchema,
  ThreadsCustomActionRequestSchema,
  ThreadsSyncCustomActionRequestSchema,
  ItemsListRequestSchema,
  ItemsFeedbackRequestSchema,
  AttachmentsCreateRequestSchema,
  AttachmentsDeleteRequestSchema,
  InputTranscribeRequestSchema,
]);
export type ChatKitRequest = z.infer<typeof ChatKitRequestSchema>;
export type ChatKitRequestType = ChatKitRequest['type'];

/** Operations answered with an SSE stream of `ThreadStreamEvent`s. */
export const STREAMING_REQUEST_TYPES = [
  'threads.create',
  'threads.add_user_message',
  'threads.add_client_tool_output',
  'threads.add_structured_input',
  'threads.retry_after_item',
  'threads.custom_action',
] as const satisfies readonly ChatKitRequestType[];

/** Operations answered with one JSON document. Note `threads.sync_custom_action` is here. */
export const NON_STREAMING_REQUEST_TYPES = [
  'threads.get_by_id',
  'threads.list',
  'threads.update',
  'threads.delete',
  'items.list',
  'items.feedback',
  'attachments.create',
  'attachments.delete',
  'input.transcribe',
  'threads.sync_custom_action',
] as const satisfies readonly ChatKitRequestType[];

export type StreamingRequestType = (typeof STREAMING_REQUEST_TYPES)[number];
export type NonStreamingRequestType = (typeof NON_STREAMING_REQUEST_TYPES)[number];
export type StreamingChatKitRequest = Extract<ChatKitRequest, { type: StreamingRequestType }>;
export type NonStreamingChatKitRequest = Extract<ChatKitRequest, { type: NonStreamingRequestType }>;

// Compile-time guard: adding a request type without classifying it fails the build.
type _AssertNever<T extends never> = T;
type _UnclassifiedRequestType = _AssertNever<
  Exclude<ChatKitRequestType, StreamingRequestType | NonStreamingRequestType>
>;

export const CHATKIT_REQUEST_TYPES: readonly ChatKitRequestType[] = [
  ...STREAMING_REQUEST_TYPES,
  ...NON_STREAMING_REQUEST_TYPES,
];

export function isStreamingRequest(req: ChatKitRequest): req is StreamingChatKitRequest {
  return (STREAMING_REQUEST_TYPES as readonly string[]).includes(req.type);
}

// ---------------------------------------------------------------------------------------------
// Non-streaming responses
// ---------------------------------------------------------------------------------------------

/** Body of `threads.delete`, `items.feedback`, `attachments.delete`. */
export const EmptyResultSchema = z.object({});
export type EmptyResult = z.infer<typeof EmptyResultSchema>;

/** Text to place in the composer. */
export const TranscriptionResultSchema = z.object({ text: z.string() });
export type TranscriptionResult = z.infer<typeof TranscriptionResultSchema>;

/** Not persisted by the protocol layer: whoever produces `updated_item` must save it. */
export const SyncCustomActionResultSchema = z.object({ updated_item: ThreadItemSchema.nullish() });
export type SyncCustomActionResult = z.infer<typeof SyncCustomActionResultSchema>;

// ---------------------------------------------------------------------------------------------
// Names in the OpenAPI document
// ---------------------------------------------------------------------------------------------

/**
 * Every protocol value a client sees by name: registered (not cloned) in zod's global registry,
 * so the schemas above keep their identity and the document builder (src/openapi/) emits each as
 * a named component that the others refer to. Request types name themselves in `requestSchema`.
 */
const NAMED_SCHEMAS: ReadonlyArray<[z.ZodType, string]> = [
  [WidgetRootSchema, 'WidgetRoot'],
  [WidgetComponentSchema, 'WidgetComponent'],
  [ActionSchema, 'Action'],
  [UploadDescriptorSchema, 'UploadDescriptor'],
  [FileAttachmentSchema, 'FileAttachment'],
  [ImageAttachmentSchema, 'ImageAttachment'],
  [AttachmentSchema, 'Attachment'],
  [InputTextContentSchema, 'InputTextContent'],
  [InputTagContentSchema, 'InputTagContent'],
  [UserMessageContentSchema, 'UserMessageContent'],
  [ToolChoiceSchema, 'ToolChoice'],
  [InferenceOptionsSchema, 'InferenceOptions'],
  [UserMessageInputSchema, 'UserMessageInput'],
  [URLSourceSchema, 'URLSource'],
  [FileSourceSchema, 'FileSource'],
  [EntitySourceSchema, 'EntitySource'],
  [SourceSchema, 'Source'],
  [AnnotationSchema, 'Annotation'],
  [AssistantMessageContentSchema, 'AssistantMessageContent'],
  [CustomTaskSchema, 'CustomTask'],
  [WebSearchTaskSchema, 'WebSearchTask'],
  [ThoughtTaskSchema, 'ThoughtTask'],
  [FileTaskSchema, 'FileTask'],
  [ImageTaskSchema, 'ImageTask'],
  [TaskSchema, 'Task'],
  [CustomSummarySchema, 'CustomSummary'],
  [DurationSummarySchema, 'DurationSummary'],
  [WorkflowSummarySchema, 'WorkflowSummary'],
  [WorkflowSchema, 'Workflow'],
  [StructuredInputAnswerSchema, 'StructuredInputAnswer'],
  [MultipleChoiceOptionSchema, 'MultipleChoiceOption'],
  [MultipleChoiceInputSchema, 'MultipleChoiceInput'],
  [FreeformInputSchema, 'FreeformInput'],
  [StructuredInputSchema, 'StructuredInput'],
  [StructuredInputSubmissionSchema, 'StructuredInputSubmission'],
  [UserMessageItemSchema, 'UserMessageItem'],
  [AssistantMessageItemSchema, 'AssistantMessageItem'],
  [ClientToolCallItemSchema, 'ClientToolCallItem'],
  [WidgetItemSchema, 'WidgetItem'],
  [GeneratedImageSchema, 'GeneratedImage'],
  [GeneratedImageItemSchema, 'GeneratedImageItem'],
  [StructuredInputItemSchema, 'StructuredInputItem'],
  [WorkflowItemSchema, 'WorkflowItem'],
  [TaskItemSchema, 'TaskItem'],
  [EndOfTurnItemSchema, 'EndOfTurnItem'],
  [HiddenContextItemSchema, 'HiddenContextItem'],
  [SDKHiddenContextItemSchema, 'SDKHiddenContextItem'],
  [ThreadItemSchema, 'ThreadItem'],
  [ThreadItemPageSchema, 'ThreadItemPage'],
  [ActiveStatusSchema, 'ActiveStatus'],
  [LockedStatusSchema, 'LockedStatus'],
  [ClosedStatusSchema, 'ClosedStatus'],
  [ThreadStatusSchema, 'ThreadStatus'],
  [ThreadSchema, 'Thread'],
  [ThreadPageSchema, 'ThreadPage'],
  [AssistantMessageContentPartAddedSchema, 'AssistantMessageContentPartAdded'],
  [AssistantMessageContentPartTextDeltaSchema, 'AssistantMessageContentPartTextDelta'],
  [AssistantMessageContentPartAnnotationAddedSchema, 'AssistantMessageContentPartAnnotationAdded'],
  [AssistantMessageContentPartDoneSchema, 'AssistantMessageContentPartDone'],
  [WidgetStreamingTextValueDeltaSchema, 'WidgetStreamingTextValueDelta'],
  [WidgetRootUpdatedSchema, 'WidgetRootUpdated'],
  [WidgetComponentUpdatedSchema, 'WidgetComponentUpdated'],
  [WorkflowTaskAddedSchema, 'WorkflowTaskAdded'],
  [WorkflowTaskUpdatedSchema, 'WorkflowTaskUpdated'],
  [GeneratedImageUpdatedSchema, 'GeneratedImageUpdated'],
  [ThreadItemUpdateSchema, 'ThreadItemUpdate'],
  [ThreadCreatedEventSchema, 'ThreadCreatedEvent'],
  [ThreadUpdatedEventSchema, 'ThreadUpdatedEvent'],
  [ThreadItemAddedEventSchema, 'ThreadItemAddedEvent'],
  [ThreadItemUpdatedEventSchema, 'ThreadItemUpdatedEvent'],
  [ThreadItemDoneEventSchema, 'ThreadItemDoneEvent'],
  [ThreadItemRemovedEventSchema, 'ThreadItemRemovedEvent'],
  [ThreadItemReplacedEventSchema, 'ThreadItemReplacedEvent'],
  [StreamOptionsSchema, 'StreamOptions'],
  [StreamOptionsEventSchema, 'StreamOptionsEvent'],
  [ProgressUpdateEventSchema, 'ProgressUpdateEvent'],
  [ClientEffectEventSchema, 'ClientEffectEvent'],
  [ErrorEventSchema, 'ErrorEvent'],
  [NoticeEventSchema, 'NoticeEvent'],
  [ThreadStreamEventSchema, 'ThreadStreamEvent'],
  [ThreadsGetByIdParamsSchema, 'ThreadsGetByIdParams'],
  [ThreadsListParamsSchema, 'ThreadsListParams'],
  [ThreadsUpdateParamsSchema, 'ThreadsUpdateParams'],
  [ThreadsDeleteParamsSchema, 'ThreadsDeleteParams'],
  [ThreadsCreateParamsSchema, 'ThreadsCreateParams'],
  [ThreadsAddUserMessageParamsSchema, 'ThreadsAddUserMessageParams'],
  [ThreadsAddClientToolOutputParamsSchema, 'ThreadsAddClientToolOutputParams'],
  [ThreadsAddStructuredInputParamsSchema, 'ThreadsAddStructuredInputParams'],
  [ThreadsRetryAfterItemParamsSchema, 'ThreadsRetryAfterItemParams'],
  [ThreadsCustomActionParamsSchema, 'ThreadsCustomActionParams'],
  [ItemsListParamsSchema, 'ItemsListParams'],
  [ItemsFeedbackParamsSchema, 'ItemsFeedbackParams'],
  [AttachmentsCreateParamsSchema, 'AttachmentsCreateParams'],
  [AttachmentsDeleteParamsSchema, 'AttachmentsDeleteParams'],
  [InputTranscribeParamsSchema, 'InputTranscribeParams'],
  [ChatKitRequestSchema, 'ChatKitRequest'],
  [EmptyResultSchema, 'EmptyResult'],
  [TranscriptionResultSchema, 'TranscriptionResult'],
  [SyncCustomActionResultSchema, 'SyncCustomActionResult'],
];
for (const [schema, id] of NAMED_SCHEMAS) z.globalRegistry.add(schema, { id });
