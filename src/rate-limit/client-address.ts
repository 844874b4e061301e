/**
 * The address a client is counted under when it has no identity: the IP Express resolved under
 * `trust proxy`, with IPv6 addresses reduced to their /64, because one host is usually given a
 * whole /64 and could otherwise take a fresh budget with every address of it.
 */
import { normalizeIp } from '@nestjs/throttler';
import type { Request } from 'express';

export function clientAddress(req: Request): string {
  const ip = req.ip ?? req.socket?.remoteAddress;
  return ip ? normalizeIp(ip) : 'unknown';
}
