/**
 * Thread titles: the instructions for the small title-writing model call, the clean-up of what it
 * returns, and the fallback (the first words of the question) used whenever that call fails or
 * no model is configured. A title is display text only and must stay one short line.
 */

export const TITLE_MAX_WORDS = 8;
const TITLE_MAX_CHARS = 80;

export const TITLE_INSTRUCTIONS =
  `Write a title of at most ${TITLE_MAX_WORDS} words for the conversation you are given. ` +
  'Use the language of the question. Reply with the title only: no quotes, no trailing punctuation.';

function firstWords(text: string, maxWords: number): { text: string; cut: boolean } {
  const words = text.split(/\s+/).filter(Boolean);
  const kept = words.slice(0, maxWords).join(' ');
  const short = kept.length > TITLE_MAX_CHARS ? kept.slice(0, TITLE_MAX_CHARS).trimEnd() : kept;
  return { text: short, cut: words.length > maxWords || short.length < kept.length };
}

/** The model's answer reduced to one clean line, or '' when nothing usable is left. */
export function cleanTitle(raw: string): string {
  const line = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (!line) return '';
  const bare = line
    .replace(/^(#+\s*)?(title\s*:\s*)?/i, '')
    .replace(/^["'“”‘’*_`]+|["'“”‘’*_`]+$/g, '')
    .replace(/[.!?;:,]+$/, '')
    .trim();
  return firstWords(bare, TITLE_MAX_WORDS).text;
}

/** The first words of the question, with an ellipsis when it was longer. */
export function fallbackTitle(question: string): string {
  const { text, cut } = firstWords(question.trim(), TITLE_MAX_WORDS);
  if (text === '') return 'New conversation';
  return cut ? `${text}…` : text;
}
