/**
 * The size of every free-text field a client may send, in one table: the protocol schemas, the
 * REST schemas and the global input check read their bounds from here, and docs/protocol.md
 * lists the same numbers. Lengths are in UTF-16 code units (JavaScript string length), JSON
 * sizes are the length of the value serialized as compact JSON. All of them fit well inside the
 * request body limit (BODY_LIMIT_KB, 1 MB by default), which stays the bound on the whole body.
 * Pure data: no Nest or zod imports, so any layer may use it.
 */
export const INPUT_LIMITS = {
  /** Ids the server issued (threads, items, attachments) and page cursors (`after`). */
  idChars: 64,
  /**
   * Short names chosen by the client or the integration: action types, model and tool ids,
   * input_tag ids and groups, structured-input ids, MIME types.
   */
  nameChars: 256,
  /** Attachment file names (the usual file-system bound). */
  fileNameChars: 255,
  /** Thread and document titles, on POST /chatkit and on the REST routes alike. */
  titleChars: 500,
  /** Document source of the knowledge base (usually a path or URL). */
  sourceChars: 2048,
  /** One text part of a user message (input_text, input_tag text). */
  messageTextChars: 100_000,
  /** The passage a user quotes from an earlier answer. */
  quotedTextChars: 20_000,
  /** One answer value of a structured input. */
  answerTextChars: 10_000,
  /** Content parts of one message. */
  contentParts: 100,
  /** Array elements of one list field: attachment ids, feedback item ids, answers and values. */
  itemsPerRequest: 100,
  /** Request `metadata` as JSON. */
  metadataJsonChars: 16_384,
  /** Free-form JSON a client hands over: action payloads, client tool results, input_tag data. */
  payloadJsonChars: 65_536,
  /** Nesting of arrays and objects anywhere in a body, query or route parameter. */
  jsonDepth: 32,
} as const;
