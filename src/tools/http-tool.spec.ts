import { buildHttpRequest, describeHttpResult, httpToolDefinition, ToolCallError } from 'src/tools/http-tool';

describe('buildHttpRequest', () => {
  it('URL-encodes placeholders and puts the rest in the query of a GET', () => {
    expect(
      buildHttpRequest(
        { name: 't', method: 'GET', url: 'https://api.example.com/a/{id}?fixed=1' },
        { id: '../admin?x=1', q: 'two words', n: 3, skip: null },
      ),
    ).toEqual({ url: 'https://api.example.com/a/..%2Fadmin%3Fx%3D1?fixed=1&q=two+words&n=3' });
  });

  it('sends the rest as a JSON body otherwise', () => {
    expect(
      buildHttpRequest(
        { name: 't', method: 'POST', url: 'https://api.example.com/a/{id}' },
        { id: 7, note: 'hi' },
      ),
    ).toEqual({ url: 'https://api.example.com/a/7', body: '{"note":"hi"}' });
  });

  it('puts the arguments named in `query` in the query string whatever the method', () => {
    expect(
      buildHttpRequest(
        { name: 't', method: 'POST', url: 'https://api.example.com/a/{id}', query: ['notify'] },
        { id: 7, notify: true, text: 'hi' },
      ),
    ).toEqual({ url: 'https://api.example.com/a/7?notify=true', body: '{"text":"hi"}' });
  });

  it('refuses a missing placeholder argument in words for the model', () => {
    expect(() => buildHttpRequest({ name: 't', method: 'GET', url: 'https://x.example/{id}' }, {})).toThrow(
      new ToolCallError('Missing the "id" argument, which the t tool needs.'),
    );
  });
});

describe('describeHttpResult', () => {
  it('compacts JSON and marks failures and cut-off bodies', () => {
    expect(describeHttpResult(200, 'application/json', Buffer.from('{ "a": 1 }'), false, 10)).toBe(
      'HTTP 200\n{"a":1}',
    );
    expect(describeHttpResult(404, 'text/plain', Buffer.from('nope'), false, 10)).toBe(
      'HTTP 404 (the call failed)\nnope',
    );
    expect(describeHttpResult(200, 'text/plain', Buffer.from('abc'), true, 3)).toBe(
      'HTTP 200\nabc\n[The response was longer than 3 bytes and was cut off here.]',
    );
  });
});

describe('httpToolDefinition', () => {
  it('explains arguments that do not fit the schema to the model, without calling anything', async () => {
    const tool = httpToolDefinition({
      name: 'get_order',
      description: 'd',
      method: 'GET',
      url: 'https://api.example.com/orders/{order_id}',
      parameters: {
        type: 'object',
        properties: { order_id: { type: 'string' }, limit: { type: 'integer', minimum: 1 } },
        required: ['order_id'],
      },
      timeout_ms: 1000,
      max_response_bytes: 100,
      allow_private_network: false,
      require_approval: false,
    });
    await expect(tool.execute({ limit: 0 }, { userId: 'u' })).rejects.toThrow(
      new ToolCallError(
        'The arguments do not fit the get_order tool: order_id: Invalid input: expected string, received undefined; limit: Too small: expected number to be >=1.',
      ),
    );
  });
});
