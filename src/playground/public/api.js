// The ChatKit protocol from the browser: one POST /chatkit endpoint answering JSON or an SSE
// stream, plus the two-phase upload of attachments. The identity goes with every request.

const ENDPOINT = '/chatkit';
const IDENTITY_KEY = 'chatkit-playground.identity';

/** An error answer of the gateway: `{statusCode, code, message, requestId}`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'http_error';
    this.requestId = body?.requestId;
  }
}

export function loadIdentity(defaultMode) {
  try {
    const saved = JSON.parse(localStorage.getItem(IDENTITY_KEY) || 'null');
    if (saved && (saved.mode === 'dev' || saved.mode === 'token')) return saved;
  } catch {
    // A damaged entry is replaced below.
  }
  return { mode: defaultMode, userId: defaultMode === 'dev' ? 'playground-user' : '', orgId: '', token: '' };
}

export function saveIdentity(identity) {
  localStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
}

export function describeIdentity(identity) {
  if (identity.mode === 'token') return identity.token ? 'bearer token' : 'no token';
  if (!identity.userId) return 'no user';
  return identity.orgId ? `${identity.userId} @ ${identity.orgId}` : identity.userId;
}

function authHeaders(identity) {
  const headers = {};
  if (identity.mode === 'token') {
    if (identity.token) headers.Authorization = `Bearer ${identity.token.trim()}`;
  } else {
    if (identity.userId) headers['X-User-ID'] = identity.userId.trim();
    if (identity.orgId) headers['X-Org-ID'] = identity.orgId.trim();
  }
  return headers;
}

export class ChatKitClient {
  constructor(getIdentity) {
    this.getIdentity = getIdentity;
  }

  async post(type, params, signal) {
    const response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders(this.getIdentity()) },
      body: JSON.stringify({ type, params }),
      signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => undefined);
      throw new ApiError(response.status, body);
    }
    return response;
  }

  /** A JSON operation (threads.list, items.feedback, attachments.create …). */
  async request(type, params = {}) {
    const response = await this.post(type, params);
    return response.json();
  }

  /**
   * A streaming operation: calls `onEvent` for every event, in order, until the server ends the
   * stream or `signal` aborts it (then it resolves with `{ aborted: true }`).
   */
  async stream(type, params, onEvent, signal) {
    let response;
    try {
      response = await this.post(type, params, signal);
    } catch (err) {
      if (signal?.aborted) return { aborted: true };
      throw err;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        // Frames end with a blank line; a network chunk may hold several or half of one.
        let end;
        while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          const data = frame
            .split(/\r?\n/)
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).replace(/^ /, ''))
            .join('\n');
          // Lines starting with ":" are keep-alive comments: no data, nothing to do.
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (err) {
      if (signal?.aborted) return { aborted: true };
      throw err;
    }
    return { aborted: false };
  }

  /**
   * Sends a file's bytes to the upload URL `attachments.create` returned. XMLHttpRequest rather
   * than fetch: only it reports upload progress. The URL is signed, so no identity is sent.
   */
  upload(descriptor, file, onProgress) {
    const xhr = new XMLHttpRequest();
    const done = new Promise((resolve, reject) => {
      xhr.open(descriptor.method || 'PUT', descriptor.url);
      for (const [name, value] of Object.entries(descriptor.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        let body;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(body);
        } else reject(new ApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new ApiError(0, { message: 'the upload failed (network error)' }));
      xhr.onabort = () => reject(new ApiError(0, { code: 'aborted', message: 'upload cancelled' }));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    });
    return { done, abort: () => xhr.abort() };
  }
}
