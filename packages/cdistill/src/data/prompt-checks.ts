// Validation shared by every prompt source. Long prompts (> 77 CLIP tokens) pass: the tokenizer
// truncates them exactly as upstream OpenCLIP does, so rejecting them here would diverge from it.

/** Returns `text` unchanged if it is a usable prompt; otherwise throws an error that starts with `where`. */
export function checkPrompt(text: unknown, where: string): string {
  if (typeof text !== 'string') {
    throw new Error(
      `${where}: prompt must be a string, got ${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text}`,
    );
  }
  // An all-whitespace prompt tokenizes to just <start><end>: almost certainly a data error, not intent.
  if (text.trim() === '') throw new Error(`${where}: empty prompt`);
  return text;
}
