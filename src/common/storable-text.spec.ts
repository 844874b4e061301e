import { INPUT_LIMITS } from 'src/common/input-limits';
import { findUnstorable, textProblem } from 'src/common/storable-text';

describe('textProblem', () => {
  it.each([
    ['plain text', 'hello'],
    ['a surrogate pair (emoji)', 'ok \ud83d\ude00'],
    ['other control characters', 'tab\tand\u0001'],
    ['the empty string', ''],
  ])('accepts %s', (_name, s) => expect(textProblem(s)).toBeUndefined());

  it.each([
    ['a NUL', 'a\u0000b', 'contains a NUL character'],
    ['a lone high surrogate', 'a\ud800b', 'contains an unpaired UTF-16 surrogate'],
    ['a high surrogate at the end', 'a\udbff', 'contains an unpaired UTF-16 surrogate'],
    ['a lone low surrogate', '\udc00', 'contains an unpaired UTF-16 surrogate'],
    ['a reversed pair', '\ude00\ud83d', 'contains an unpaired UTF-16 surrogate'],
  ])('refuses %s', (_name, s, reason) => expect(textProblem(s)).toBe(reason));
});

describe('findUnstorable', () => {
  it('names the path of a bad value, a bad key and too deep a nesting', () => {
    expect(findUnstorable({ a: [{ b: 'x\u0000' }] })).toEqual({
      path: ['a', 0, 'b'],
      reason: 'contains a NUL character',
    });
    expect(findUnstorable({ a: { '\ud800': 1 } })).toEqual({
      path: ['a'],
      reason: 'a key contains an unpaired UTF-16 surrogate',
    });
    expect(findUnstorable(JSON.parse('{"m":{"__proto__":{}}}'))).toEqual({
      path: ['m'],
      reason: 'the key "__proto__" is not allowed',
    });
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(findUnstorable(deep)?.path).toHaveLength(INPUT_LIMITS.jsonDepth);
  });

  it('accepts ordinary JSON, prototype-named keys other than __proto__, and nesting at the limit', () => {
    let deep: unknown = 'leaf';
    // With the enclosing object, exactly jsonDepth levels.
    for (let i = 0; i < INPUT_LIMITS.jsonDepth - 1; i++) deep = { a: deep };
    expect(findUnstorable({ constructor: 1, prototype: [null, true, 2.5], deep })).toBeUndefined();
  });
});
