// A linear scan of JSON bytes as they arrive, before anything is parsed:
// nesting depth and the number of values, so that a body of nested arrays
// (which costs JSON.parse seconds and V8 gigabytes) is refused after its first
// few kilobytes. It does not validate JSON (the parser does); it only has to
// know where strings are, so that brackets inside them are not counted.
// Strings are skipped with Buffer.indexOf (memchr), so a large Base64 image
// costs next to nothing; everything outside strings is looked at byte by byte.

export class JsonShapeError extends Error {
  readonly kind: 'depth' | 'values';
  constructor(kind: 'depth' | 'values', message: string) {
    super(message);
    this.name = 'JsonShapeError';
    this.kind = kind;
  }
}

const QUOTE = 0x22, BACKSLASH = 0x5c;

export class JsonShapeScanner {
  private depth = 0;
  private values = 1;
  private inString = false;
  /** The previous chunk ended inside a string on an odd run of backslashes (the next byte is escaped). */
  private escapePending = false;

  constructor(private readonly maxDepth: number, private readonly maxValues: number) {}

  /** Scans the next chunk; throws JsonShapeError at the first limit crossed. */
  write(b: Uint8Array): void {
    let i = 0;
    const n = b.length;
    while (i < n) {
      if (this.inString) {
        if (this.escapePending) {
          this.escapePending = false;
          i++;
          continue;
        }
        const q = indexOf(b, QUOTE, i);
        if (q < 0) {
          // Whether the chunk ends on an escaping backslash.
          let run = 0;
          for (let k = n - 1; k >= i && b[k] === BACKSLASH; k--) run++;
          this.escapePending = run % 2 === 1;
          return;
        }
        let run = 0;
        for (let k = q - 1; k >= i && b[k] === BACKSLASH; k--) run++;
        i = q + 1;
        if (run % 2 === 0) this.inString = false;
        continue;
      }
      const c = b[i++];
      if (c === QUOTE) this.inString = true;
      else if (c === 0x5b || c === 0x7b) { // [ {
        if (++this.depth > this.maxDepth) throw new JsonShapeError('depth', `request body: JSON nested deeper than ${this.maxDepth} levels`);
        this.count();
      } else if (c === 0x5d || c === 0x7d) this.depth--; // ] }
      else if (c === 0x2c || c === 0x3a) this.count(); // , :
    }
  }

  private count(): void {
    if (++this.values > this.maxValues) throw new JsonShapeError('values', `request body: more than ${this.maxValues} JSON values`);
  }
}

/** Buffer's indexOf is memchr; a plain Uint8Array's is a JS loop. */
function indexOf(b: Uint8Array, byte: number, from: number): number {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)).indexOf(byte, from);
}
