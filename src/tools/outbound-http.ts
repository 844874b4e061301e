/**
 * One outbound HTTP call made on the model's behalf: a deadline, a cap on the response size and,
 * unless the caller allows it, no private destinations. The model chooses arguments that end up
 * in URLs, so without the last rule the gateway would be a proxy into its own network (SSRF):
 * loopback, RFC 1918, CGNAT, link-local (including the cloud metadata address 169.254.169.254),
 * unique-local IPv6 and the like are refused.
 *
 * The check runs on the addresses the name resolves to, inside the socket's own lookup, so the
 * connection goes to exactly the address that was checked: a name that resolves to a public
 * address when checked and a private one when connecting (DNS rebinding) cannot slip through.
 * Redirects are never followed (a public server could redirect to a private one); a 3xx comes
 * back as a response like any other.
 *
 * Never log what goes through here: URLs, headers and bodies carry user data and secrets.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface OutboundRequest {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Off by default: private, loopback and link-local destinations are refused. */
  allowPrivateNetwork?: boolean;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  contentType: string | undefined;
  /** At most `maxResponseBytes`. */
  body: Buffer;
  /** The server sent more than `maxResponseBytes`; the rest was not read. */
  truncated: boolean;
}

export type OutboundFailure = 'refused' | 'timeout' | 'network' | 'aborted';

/** A call that produced no response; the message is safe to show to the model. */
export class OutboundHttpError extends Error {
  constructor(
    readonly failure: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundHttpError';
  }
}

/** Addresses no configured tool reaches unless it sets allow_private_network. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64: likewise
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv6');
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) need no rule of their own: BlockList checks them
// against the IPv4 rules (a ::ffff:0:0/96 rule would match every IPv4 address).

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: refuse rather than guess
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const refused = (host: string): OutboundHttpError =>
  new OutboundHttpError(
    'refused',
    `Refused: ${host} is a private, loopback or link-local address, which this tool may not call.`,
  );

/** The socket's lookup: resolves, refuses when any address is private, connects to the checked one. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { all: true, family: options.family, hints: options.hints }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const all = addresses as LookupAddress[];
    if (all.length === 0 || all.some((a) => isPrivateAddress(a.address)))
      return callback(refused(hostname), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all);
    callback(null, all[0].address, all[0].family);
  });
};

/** Makes the call. Resolves with any HTTP status; rejects with OutboundHttpError when there is none. */
export function outboundRequest(req: OutboundRequest): Promise<OutboundResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.reject(new OutboundHttpError('network', 'The URL is not valid.'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new OutboundHttpError('refused', 'Only http and https URLs may be called.'));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host) !== 0;
  if (!req.allowPrivateNetwork && literal && isPrivateAddress(host)) return Promise.reject(refused(host));

  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<OutboundResponse>((resolve, reject) => {
    const fail = (error: unknown): void => {
      if (error instanceof OutboundHttpError) return reject(error);
      const cause = (error as { cause?: unknown } | undefined)?.cause;
      if (cause instanceof OutboundHttpError) return reject(cause);
      if (timeout.aborted)
        return reject(new OutboundHttpError('timeout', `No complete response within ${req.timeoutMs} ms.`));
      if (signal.aborted) return reject(new OutboundHttpError('aborted', 'The call was cancelled.'));
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      reject(new OutboundHttpError('network', `The server could not be reached${code ? ` (${code})` : ''}.`));
    };
    const request = send(
      url,
      {
        method: req.method,
        headers: {
          ...(req.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body) }
            : {}),
          ...req.headers,
        },
        signal,
        // Literal addresses were checked above; names are checked where they are resolved.
        ...(req.allowPrivateNetwork || literal ? {} : { lookup: publicOnlyLookup }),
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const finish = (): void =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers['content-type'],
            body: Buffer.concat(chunks, size),
            truncated,
          });
        response.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = req.maxResponseBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            truncated = true;
            // Nothing more is wanted: stop reading instead of downloading the rest.
            response.destroy();
            finish();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        response.on('end', finish);
        response.on('error', (error) => (truncated ? undefined : fail(error)));
        response.on('aborted', () => (truncated ? undefined : fail(new Error('aborted'))));
      },
    );
    request.on('error', fail);
    request.end(req.body);
  });
}
