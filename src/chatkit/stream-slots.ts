/**
 * The cap on concurrent streams per user (CHATKIT_MAX_STREAMS_PER_USER). A slot is taken before
 * anything of a streaming request is stored and given back exactly once, however the request
 * ends: refused before the stream opens, finished, failed, left by the client, cut as too slow.
 *
 * Counted in this process's memory, so the cap holds per replica: behind N replicas a user may
 * have up to N times the cap open. A crashed process takes its counts with it, so nothing can
 * stay stuck.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { RequestContext } from 'src/common/request-context';
import { chatkitConfig, type ChatKitConfig } from 'src/config/chatkit.config';

export interface StreamSlot {
  release(): void;
}

@Injectable()
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(@Inject(chatkitConfig.KEY) private readonly config: ChatKitConfig) {}

  /** Takes one of the user's slots or throws 429 too_many_streams. */
  take(ctx: RequestContext): StreamSlot {
    const max = this.config.maxStreamsPerUser;
    // Users are told apart as their data is: by organization and user id.
    const key = JSON.stringify([ctx.orgId ?? null, ctx.userId]);
    const count = this.open.get(key) ?? 0;
    if (max > 0 && count >= max) {
      throw new AppException(
        ErrorCode.TooManyStreams,
        `at most ${max} responses can stream at once for one user; wait for one to finish or stop it`,
      );
    }
    this.open.set(key, count + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.open.get(key) ?? 1) - 1;
        if (left > 0) this.open.set(key, left);
        else this.open.delete(key);
      },
    };
  }
}
