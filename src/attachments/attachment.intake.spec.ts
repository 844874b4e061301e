import { Readable } from 'node:stream';
import { peekHead } from 'src/attachments/attachment.intake';
import { contentDisposition } from 'src/attachments/attachment.download';
import { cleanName, idFromStorageKey, storageKeyFor, uploadKeyFor } from 'src/attachments/attachment.names';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('peekHead', () => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

  it('gives the first bytes and then replays the whole stream', async () => {
    const { head, body } = await peekHead(chunked(data, 700), 1000);
    expect(head.equals(data.subarray(0, 1000))).toBe(true);
    expect((await readAll(body)).equals(data)).toBe(true);
  });

  it('copes with a stream shorter than the head', async () => {
    const { head, body } = await peekHead(chunked(data.subarray(0, 300), 64), 1000);
    expect(head.length).toBe(300);
    expect((await readAll(body)).equals(data.subarray(0, 300))).toBe(true);
  });

  it('destroying the replay destroys the source', async () => {
    const source = chunked(data, 100);
    const { body } = await peekHead(source, 200);
    body.destroy();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(source.destroyed).toBe(true);
  });
});

describe('contentDisposition', () => {
  it('keeps the exact name in filename* and a safe ASCII fallback', () => {
    expect(contentDisposition('attachment', 'Résumé "final" 100%.pdf')).toBe(
      `attachment; filename="R_sum_ _final_ 100_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%20100%25.pdf`,
    );
    expect(contentDisposition('inline', "it's (1).png")).toBe(
      `inline; filename="it's (1).png"; filename*=UTF-8''it%27s%20%281%29.png`,
    );
  });
});

describe('storage keys and names', () => {
  it('spread keys by the end of the id and read the id back', () => {
    const id = 'atc_0190a1b2c3d4e5f60718293a4b5c';
    expect(storageKeyFor(id)).toBe(`5c/${id}`);
    expect(idFromStorageKey(`5c/${id}`)).toBe(id);
    expect(idFromStorageKey(`5d/${id}`)).toBeNull();
    expect(idFromStorageKey('other/thing')).toBeNull();
  });

  it('give each upload to a two-phase URL a key of its own that still names the attachment', () => {
    const id = 'atc_0190a1b2c3d4e5f60718293a4b5c';
    const first = uploadKeyFor(id);
    const second = uploadKeyFor(id);
    expect(first).toMatch(new RegExp(`^5c/${id}\\.[0-9a-f]{12}$`));
    expect(second).not.toBe(first);
    expect(idFromStorageKey(first)).toBe(id);
    expect(idFromStorageKey(`${storageKeyFor(id)}.xyz`)).toBeNull();
  });

  it('cleans display names', () => {
    expect(cleanName('C:\\Users\\me\\report.pdf')).toBe('report.pdf');
    expect(cleanName('../../etc/passwd')).toBe('passwd');
    expect(cleanName('a\u0000b\nc.txt')).toBe('abc.txt');
    expect(cleanName('   ')).toBe('file');
    expect(cleanName('x'.repeat(400))).toHaveLength(255);
  });

  it('keep names outside ASCII, drop C1 controls and direction overrides, replace lone surrogates', () => {
    expect(cleanName('résumé.txt')).toBe('résumé.txt');
    // Decomposed (as macOS file systems spell it) becomes composed.
    expect(cleanName('re\u0301sume\u0301.txt')).toBe('résumé.txt');
    expect(cleanName('a\u0085b\u009fc.txt')).toBe('abc.txt');
    expect(cleanName('invoice\u202etxt.exe')).toBe('invoicetxt.exe');
    expect(cleanName('x\ud800y.txt')).toBe('x\ufffdy.txt');
    expect(cleanName('\udc00.txt')).toBe('\ufffd.txt');
    expect(cleanName('😀 smile.png')).toBe('😀 smile.png');
    // Truncation never leaves half of a surrogate pair.
    const cut = cleanName('x'.repeat(254) + '😀😀');
    expect(cut).toBe('x'.repeat(254));
  });
});
