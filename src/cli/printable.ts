// Text from piped stdin reaches the operator's terminal (the echo, "unknown
// command"): control characters and bytes that are not UTF-8 are shown
// escaped, so binary input can neither garble nor drive the terminal.
import { Transform, type TransformCallback } from 'node:stream';

const fatal = new TextDecoder('utf-8', { fatal: true });

/** The length of the UTF-8 sequence a lead byte announces (0: not a lead byte). */
function seqLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Decodes bytes as UTF-8; every byte that is not part of valid UTF-8 becomes the text \xNN. */
export function decodeLenient(bytes: Uint8Array): string {
  try {
    return fatal.decode(bytes);
  } catch {
    /* some bytes are not UTF-8: decode sequence by sequence */
  }
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const n = seqLength(bytes[i]!);
    if (n > 0 && i + n <= bytes.length) {
      try {
        out += fatal.decode(bytes.subarray(i, i + n));
        i += n;
        continue;
      } catch {
        /* an invalid sequence: escape its lead byte and go on */
      }
    }
    out += `\\x${hex2(bytes[i]!)}`;
    i++;
  }
  return out;
}

// C0 and C1 controls, DEL, the replacement character, and the invisible
// format characters that reorder or hide text (bidi overrides, zero widths).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const NON_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
const NAMED: Record<string, string> = { '\t': '\\t', '\r': '\\r', '\n': '\\n', '\u001b': '\\e' };

/** `s` with every non-printable character escaped (\t, \e, \x01, \u202e …). */
export function printable(s: string): string {
  return s.replace(NON_PRINTABLE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${hex2(code)}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Does `s` hold anything `printable` would escape? */
export function hasNonPrintable(s: string): boolean {
  NON_PRINTABLE.lastIndex = 0;
  const r = NON_PRINTABLE.test(s);
  NON_PRINTABLE.lastIndex = 0;
  return r;
}

/**
 * Piped stdin as UTF-8 text, line by line, where bytes that are not UTF-8
 * arrive as the text \xNN (readline alone would turn them into U+FFFD and the
 * operator could not see what was sent).
 */
export class LenientUtf8Lines extends Transform {
  private rest: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = Buffer.concat([this.rest, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) {
      this.rest = buf;
    } else {
      this.rest = buf.subarray(end + 1);
      this.push(decodeLenient(buf.subarray(0, end + 1)));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.rest.length) this.push(decodeLenient(this.rest));
    done();
  }
}
