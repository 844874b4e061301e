import express from 'express';
import { weakEtag } from 'src/common/etag';

describe('weakEtag', () => {
  // The generator Express compiles for its default setting ('weak').
  const reference = express().get('etag fn') as (body: string | Buffer, encoding?: BufferEncoding) => string;

  it.each([
    ['an empty body', ''],
    ['a small JSON document', '{"status":"ok"}'],
    ['text outside ASCII', '{"title":"Grüße, 世界 🌍"}'],
    ['a larger body', JSON.stringify({ data: Array.from({ length: 500 }, (_, i) => ({ id: `item_${i}` })) })],
  ])('writes the same tag as Express for %s', (_name, text) => {
    expect(weakEtag(text, 'utf8')).toBe(reference(text, 'utf8'));
    expect(weakEtag(Buffer.from(text))).toBe(reference(Buffer.from(text)));
  });
});
