import { SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { cachedRouteMetadata } from 'src/rate-limit/user-throttler.guard';

describe('cachedRouteMetadata', () => {
  class Routes {
    @SetMetadata('limit', 5)
    limited(): void {}

    open(): void {}
  }
  @SetMetadata('limit', 9)
  class Other extends Routes {}

  it('answers as the reflector does, handler before class, and asks it once per handler and key', () => {
    const reflector = new Reflector();
    const calls = jest.spyOn(reflector, 'getAllAndOverride');
    const cached = cachedRouteMetadata(reflector);
    const limited = Routes.prototype.limited;
    const open = Routes.prototype.open;
    expect(cached.getAllAndOverride('limit', [limited, Routes])).toBe(5);
    expect(cached.getAllAndOverride('limit', [limited, Routes])).toBe(5);
    expect(cached.getAllAndOverride('limit', [open, Routes])).toBeUndefined();
    expect(cached.getAllAndOverride('limit', [open, Routes])).toBeUndefined();
    expect(calls).toHaveBeenCalledTimes(2);
    // The same handler under another class is asked afresh: its class metadata differs.
    expect(cached.getAllAndOverride('limit', [open, Other])).toBe(9);
    expect(cached.getAllAndOverride('limit', [limited, Other])).toBe(5);
    expect(calls).toHaveBeenCalledTimes(4);
  });
});
