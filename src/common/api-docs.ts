/**
 * How routes describe their answers in the OpenAPI document, shared so that every controller
 * says it the same way. A body is named by the zod schema that defines it (its `.meta({ id })`),
 * never written out by hand: src/openapi/ turns the registry into `components.schemas` and refuses
 * to build a document whose references name a schema it does not have.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiResponse, DECORATORS } from '@nestjs/swagger';
import { z } from 'zod';

/** The body of every 4xx/5xx answer (`{statusCode, code, message, requestId}`). */
export const ERROR_RESPONSE_SCHEMA = 'ErrorResponse';

/** A schema the document describes: a registered zod schema, or the id of one defined in src/openapi/. */
export type DocumentedSchema = z.ZodType | string;

export function schemaId(schema: DocumentedSchema): string {
  const id = typeof schema === 'string' ? schema : z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('a schema named in the API documentation needs .meta({ id })');
  return id;
}

export function schemaRef(schema: DocumentedSchema): { $ref: string } {
  return { $ref: `#/components/schemas/${schemaId(schema)}` };
}

/** A JSON answer whose body is `schema`. */
export const ApiJsonResponse = (status: number, schema: DocumentedSchema, description: string) =>
  ApiResponse({ status, description, content: { 'application/json': { schema: schemaRef(schema) } } });

/** A Server-Sent Events answer: one `data: <json>` frame per `schema` value. */
export const ApiEventStreamResponse = (schema: DocumentedSchema, description: string) =>
  ApiResponse({ status: 200, description, content: { 'text/event-stream': { schema: schemaRef(schema) } } });

/** Error answers a route gives, by status; each body is an ErrorResponse. */
export const ApiErrorResponses = (errors: Record<number, string>) =>
  applyDecorators(
    ...Object.entries(errors).map(([status, description]) =>
      ApiResponse({
        status: Number(status),
        description,
        content: { 'application/json': { schema: schemaRef(ERROR_RESPONSE_SCHEMA) } },
      }),
    ),
  );

const BINARY = { type: 'string', format: 'binary' } as const;

/** A file download: the stored bytes with their own Content-Type. */
export const ApiBinaryResponse = (status: number, description: string) =>
  ApiResponse({ status, description, content: { 'application/octet-stream': { schema: BINARY } } });

/**
 * A file upload read from the raw request (no `@Body()`), as a form with the file in `field`
 * and/or as the bytes themselves, in the order given (Swagger UI offers the first by default).
 * ApiBody cannot give each media type its own schema, so this writes the operation's
 * `requestBody` directly, merged with whatever ApiOperation says.
 */
export const ApiFileBody =
  (field: string, mediaTypes: Array<'multipart/form-data' | 'application/octet-stream'>): MethodDecorator =>
  (_target, _key, descriptor) => {
    const content = Object.fromEntries(
      mediaTypes.map((type) => [
        type,
        {
          schema:
            type === 'multipart/form-data'
              ? { type: 'object', required: [field], properties: { [field]: BINARY } }
              : BINARY,
        },
      ]),
    );
    const previous = (Reflect.getMetadata(DECORATORS.API_OPERATION, descriptor.value as object) ??
      {}) as object;
    Reflect.defineMetadata(
      DECORATORS.API_OPERATION,
      { ...previous, requestBody: { required: true, content } },
      descriptor.value as object,
    );
  };
