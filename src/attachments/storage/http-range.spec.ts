import {
  contentRangeHeader,
  parseRangeHeader,
  unsatisfiedRangeHeader,
} from 'src/attachments/storage/http-range';

describe('parseRangeHeader', () => {
  const size = 1000;

  it('reads a closed range, inclusive at both ends', () => {
    expect(parseRangeHeader('bytes=0-99', size)).toEqual({ start: 0, end: 99 });
    expect(parseRangeHeader('bytes=500-500', size)).toEqual({ start: 500, end: 500 });
  });

  it('clamps an end past the body to the last byte', () => {
    expect(parseRangeHeader('bytes=900-5000', size)).toEqual({ start: 900, end: 999 });
  });

  it('reads an open range to the end of the body', () => {
    expect(parseRangeHeader('bytes=990-', size)).toEqual({ start: 990, end: 999 });
  });

  it('reads a suffix range as the last n bytes, whole body when n is larger', () => {
    expect(parseRangeHeader('bytes=-10', size)).toEqual({ start: 990, end: 999 });
    expect(parseRangeHeader('bytes=-5000', size)).toEqual({ start: 0, end: 999 });
  });

  it('tolerates case and optional whitespace', () => {
    expect(parseRangeHeader('  Bytes = 1 - 2 ', size)).toEqual({ start: 1, end: 2 });
  });

  it('is unsatisfiable when the range starts at or past the end', () => {
    expect(parseRangeHeader('bytes=1000-', size)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=1000-2000', size)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=99999999999999999999-', size)).toBe('unsatisfiable');
  });

  it('is unsatisfiable for a zero-length suffix and for any range of an empty body', () => {
    expect(parseRangeHeader('bytes=-0', size)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=-5', 0)).toBe('unsatisfiable');
  });

  it('ignores what it does not serve: no header, other units, several ranges, bad syntax', () => {
    expect(parseRangeHeader(undefined, size)).toBeNull();
    expect(parseRangeHeader('', size)).toBeNull();
    expect(parseRangeHeader('items=0-5', size)).toBeNull();
    expect(parseRangeHeader('bytes=0-5,10-20', size)).toBeNull();
    expect(parseRangeHeader('bytes=-', size)).toBeNull();
    expect(parseRangeHeader('bytes=abc-def', size)).toBeNull();
    expect(parseRangeHeader('bytes=5-1', size)).toBeNull();
    expect(parseRangeHeader('bytes=-1-2', size)).toBeNull();
    expect(parseRangeHeader(['bytes=0-1', 'bytes=2-3'], size)).toBeNull();
  });

  it('formats Content-Range values', () => {
    expect(contentRangeHeader({ start: 0, end: 99 }, size)).toBe('bytes 0-99/1000');
    expect(unsatisfiedRangeHeader(size)).toBe('bytes */1000');
  });
});
