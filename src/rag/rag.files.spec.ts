import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectFiles, MissingPathError } from 'src/rag/rag.files';

describe('collectFiles', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rag-files-'));
    const files: Record<string, string> = {
      'docs/guide.md': '# Guide',
      'docs/deep/page.HTML': '<p>x</p>',
      'docs/deep/manual.pdf': '%PDF-',
      'docs/notes.txt': 'notes',
      'docs/image.png': 'png',
      'docs/.hidden/secret.md': '# no',
      'docs/node_modules/pkg/readme.md': '# no',
      'other/explicit.bin': 'bytes',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    symlinkSync(join(root, 'docs', 'guide.md'), join(root, 'docs', 'linked.md'));
    symlinkSync(join(root, 'other'), join(root, 'docs', 'linked-folder'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('walks folders for readable formats, skipping hidden folders, node_modules and linked folders', async () => {
    const found = await collectFiles(['docs'], root);
    expect(found.map((f) => f.source)).toEqual([
      'docs/deep/manual.pdf',
      'docs/deep/page.HTML',
      'docs/guide.md',
      'docs/linked.md',
      'docs/notes.txt',
    ]);
    expect(found[0].path).toBe(join(root, 'docs', 'deep', 'manual.pdf'));
  });

  it('takes a named file whatever its extension, once even if named twice', async () => {
    const found = await collectFiles(['other/explicit.bin', 'docs/guide.md', './docs/guide.md'], root);
    expect(found.map((f) => f.source)).toEqual(['docs/guide.md', 'other/explicit.bin']);
  });

  it('names files outside the working directory by their absolute path', async () => {
    const found = await collectFiles([join(root, 'docs', 'guide.md')], join(root, 'other'));
    expect(found[0].source).toBe(join(root, 'docs', 'guide.md').split('\\').join('/'));
  });

  it('refuses a path that does not exist', async () => {
    await expect(collectFiles(['docs', 'missing'], root)).rejects.toBeInstanceOf(MissingPathError);
  });
});
