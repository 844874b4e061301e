/**
 * How the protocol layer turns attachment ids in a user message into attachment objects, and
 * how it serves attachments.create/delete. The attachments module provides the real thing; until
 * then every attachment id is unknown (a 400 before anything is saved) and the attachment
 * requests answer 501.
 */
import type { Attachment, AttachmentsCreateParams } from 'src/chatkit/chatkit.schemas';
import type { RequestContext } from 'src/common/request-context';
import type { EntityManager } from 'typeorm';

export interface AttachmentLinks {
  /** Resolves ids to the caller's own, ready attachments; throws a 4xx naming any that is not. */
  resolve(ctx: RequestContext, ids: string[]): Promise<Attachment[]>;
  /** Stamps the thread on the attachments, inside the transaction that stores the message. */
  link(ctx: RequestContext, threadId: string, ids: string[], manager: EntityManager): Promise<void>;
  create(ctx: RequestContext, params: AttachmentsCreateParams): Promise<Attachment>;
  delete(ctx: RequestContext, attachmentId: string): Promise<void>;
  /** Removes the attachments of a thread that is being deleted. */
  deleteForThread(ctx: RequestContext, threadId: string): Promise<void>;
  /** Re-signs expiring URLs (preview_url) of items about to be sent. */
  refresh<T>(ctx: RequestContext, value: T): Promise<T>;
}

export const ATTACHMENT_LINKS = Symbol('ATTACHMENT_LINKS');

export interface Transcriber {
  transcribe(ctx: RequestContext, audio: Buffer, mimeType: string): Promise<{ text: string }>;
}

export const TRANSCRIBER = Symbol('TRANSCRIBER');
