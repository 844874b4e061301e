/**
 * What the protocol layer uses of the attachments module: turning attachment ids in a user
 * message into attachment objects, linking them to the thread, and serving
 * attachments.create/delete. ChatKitModule imports AttachmentsModule and injects its exported
 * service; this interface only names the part the protocol relies on.
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
