/**
 * Counts the /chatkit bodies the global validation pipe refuses, by the type they claim. The pipe
 * runs inside the handler call an interceptor wraps, so its refusal passes through here; the
 * handler's own failures are counted by ChatKitService and must not be counted again.
 */
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { catchError, throwError, type Observable } from 'rxjs';
import { invalidRequestType } from 'src/chatkit/chatkit-request.dto';
import { ChatKitMetrics } from 'src/chatkit/chatkit.metrics';
import { ZodValidationException } from 'src/common/zod-validation.pipe';

@Injectable()
export class InvalidRequestsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: ChatKitMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        if (err instanceof ZodValidationException) {
          const body: unknown = context.switchToHttp().getRequest<Request>().body;
          this.metrics.requests.inc({ type: invalidRequestType(body), outcome: 'invalid' });
        }
        return throwError(() => err);
      }),
    );
  }
}
