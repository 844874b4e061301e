/**
 * How the page reaches ChatKit Gateway: the endpoint, the identity on every request, and the
 * upload strategy the server implements. Everything here is plain configuration of ChatKit.js's
 * custom API (`CustomApiConfig` in @openai/chatkit); nothing is specific to React.
 */
import type { CustomApiConfig } from '@openai/chatkit';

/** The gateway's ChatKit endpoint. Another origin than the page's needs CORS (see docs/frontend.md). */
export const GATEWAY_URL = 'http://localhost:3000';

/**
 * ChatKit.js checks the page's domain against this key with OpenAI; the gateway never sees it.
 * Register your production domain in the OpenAI dashboard's domain allowlist to get one.
 */
export const DOMAIN_KEY = 'domain_pk_localhost_dev';

/** Where the page gets a token for its user; `null` means development mode (X-User-ID). */
export type TokenSource = () => Promise<string | null>;

/**
 * A fetch that names the user on every request ChatKit.js makes to the gateway: a bearer token
 * from your sign-in, or — only against a server in development mode (`npm start`) — the
 * development headers.
 */
export function gatewayFetch(getToken: TokenSource, devUser = 'alice'): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    const token = await getToken();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    else headers.set('X-User-ID', devUser);
    return fetch(input, { ...init, headers });
  };
}

export function gatewayApi(getToken: TokenSource): CustomApiConfig {
  return {
    url: `${GATEWAY_URL}/chatkit`,
    domainKey: DOMAIN_KEY,
    fetch: gatewayFetch(getToken),
    // attachments.create answers with a signed upload URL on the gateway; ChatKit.js sends the
    // file there. The alternative, { type: 'direct', uploadUrl: `${GATEWAY_URL}/chatkit/attachments` },
    // works too.
    uploadStrategy: { type: 'two_phase' },
  };
}
