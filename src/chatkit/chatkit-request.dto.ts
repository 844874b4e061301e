/**
 * The POST /chatkit body as a DTO: the global ZodValidationPipe validates it with
 * ChatKitRequestSchema and the OpenAPI document shows the same schema. It must stay the one place
 * the body is validated: the handler trusts what it receives.
 */
import { createZodDto } from 'nestjs-zod';
import { ChatKitRequestSchema, type ChatKitRequest } from 'src/protocol/chatkit.schemas';

// A union has no class shape, so the class carries only the schema; `requestOf` gives the type back.
// The DTO validates with an unnamed copy: the OpenAPI document names the union itself
// (src/openapi/), and the DTO scanner cannot name a union root.
export class ChatKitRequestDto extends (createZodDto(
  ChatKitRequestSchema.clone() as never,
) as new () => object) {}

/** The request the pipe parsed, typed as the protocol union it was parsed with. */
export function requestOf(body: ChatKitRequestDto): ChatKitRequest {
  return body as ChatKitRequest;
}

const KNOWN_TYPES = new Set<string>(ChatKitRequestSchema.options.map((o) => o.shape.type.value));

/**
 * The `type` label of a body that failed validation: a request type the protocol knows, else
 * 'unknown', so clients cannot grow the metric's label set.
 */
export function invalidRequestType(body: unknown): string {
  // Only a string can name a type; String() of a client object may throw (`{"toString": {}}`).
  const type =
    typeof body === 'object' && body && 'type' in body ? (body as { type: unknown }).type : undefined;
  return typeof type === 'string' && KNOWN_TYPES.has(type) ? type : 'unknown';
}
