// Reading and writing `id_map.yaml` (PaddleX's index_info: id_map, index_type,
// metric_type; this package adds next_id and vector_sha256) so that labels
// round-trip exactly with PaddleX, which reads the file with PyYAML's
// FullLoader (YAML 1.1 rules) and writes it with yaml.dump.
//
// Written by hand rather than with the `yaml` package because:
//  - writing: every label must come back from PyYAML as the identical string.
//    The only scalar style whose meaning does not depend on YAML 1.1 vs 1.2
//    resolution (`yes`, `1_000`, `1:20`, `=`, `<<`, `0o17`, `1e3`, dates...) is
//    the double-quoted one, with the escapes both PyYAML and YAML 1.2 read.
//  - reading: the `yaml` package needs 3.4 s for 10^5 entries (measured), and
//    reads plain scalars with 1.2 or its own 1.1 rules, not PyYAML's. This reader
//    handles the block-mapping layout that PyYAML and this package write (plain,
//    single- and double-quoted scalars, folded continuation lines, comments,
//    `{}`), in one pass over the lines, yielding to the event loop every few
//    thousand lines. Anything else (anchors, tags, flow or block-literal
//    collections) falls back to the `yaml` package's full parser (failsafe
//    schema: every scalar stays a string) for that file.
//
// Labels stay the scalar's text: a plain `yes` is the label "yes" and `1e3` is
// "1e3" (PaddleX would turn a hand-written plain `yes` into "True"; files that
// PaddleX or this package write always quote such labels, so both read the same).
// Ids follow PyYAML's int rules (`010` is 8, `0x1f` 31, `1_000` 1000, `1:20` 80).
import YAML from 'yaml';
import { ShituError } from '../../errors';

export interface IdMapFile {
  idMap: Map<number, string>;
  indexType?: string;
  metricType?: string;
  nextId?: number;
  vectorSha256?: string;
}

/** Lines handled between two yields to the event loop. */
const LINES_PER_SLICE = 2048;

// ---------------------------------------------------------------- writing

// Characters that must be escaped inside a double-quoted scalar: C0/C1 controls
// (PyYAML refuses them raw), DEL, YAML 1.1 line breaks (NEL, LS, PS, which
// would be folded), BOM and the non-characters U+FFFE/U+FFFF, lone surrogates.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff"\\]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SHORT_ESCAPES: Record<string, string> = {
  '\0': '\\0', '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\x0b': '\\v', '\f': '\\f', '\r': '\\r',
  '\x1b': '\\e', '"': '\\"', '\\': '\\\\', '\x85': '\\N', '\u2028': '\\L', '\u2029': '\\P',
};

/** A YAML double-quoted scalar that PyYAML (any loader) and YAML 1.2 parsers read back as exactly `s`. */
// eslint-disable-next-line no-control-regex
const MAY_NEED_ESCAPE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff"\\\ud800-\udfff]/;

export function quoteYamlString(s: string): string {
  if (!MAY_NEED_ESCAPE.test(s)) return '"' + s + '"';
  return '"' + s.replace(NEEDS_ESCAPE, (c) => {
    const short = SHORT_ESCAPES[c];
    if (short) return short;
    const code = c.charCodeAt(0);
    return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
  }) + '"';
}

/** The id_map.yaml text: keys sorted like PyYAML's dump, ids as decimal integers, labels double-quoted. */
export function formatIdMapYaml(f: IdMapFile): string {
  const entries = [...f.idMap.entries()].sort((a, b) => a[0] - b[0]);
  const parts: string[] = [];
  if (entries.length === 0) parts.push('id_map: {}\n');
  else {
    parts.push('id_map:\n');
    for (const [id, label] of entries) parts.push(`  ${id}: ${quoteYamlString(label)}\n`);
  }
  if (f.indexType !== undefined) parts.push(`index_type: ${quoteYamlString(f.indexType)}\n`);
  if (f.metricType !== undefined) parts.push(`metric_type: ${quoteYamlString(f.metricType)}\n`);
  if (f.nextId !== undefined) parts.push(`next_id: ${f.nextId}\n`);
  if (f.vectorSha256 !== undefined) parts.push(`vector_sha256: ${quoteYamlString(f.vectorSha256)}\n`);
  return parts.join('');
}

// ---------------------------------------------------------------- reading

class Unsupported extends Error {}

function corrupt(file: string, what: string): never {
  throw new ShituError('ERR_INDEX_CORRUPT', `${file}: ${what}`);
}

/** PyYAML's int resolver and constructor (YAML 1.1); undefined when `s` is not an int. */
export function yaml11Int(s: string): number | undefined {
  if (!/^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/.test(s)) return undefined;
  let v = s.replace(/_/g, '');
  let sign = 1n;
  if (v[0] === '-' || v[0] === '+') { if (v[0] === '-') sign = -1n; v = v.slice(1); }
  let n = 0n;
  try {
    if (v === '0') n = 0n;
    else if (v.startsWith('0b') || v.startsWith('0x')) n = BigInt(v); // throws on a bare 0b / 0x, as Python's int() does
    else if (v[0] === '0') n = BigInt('0o' + v.slice(1));
    else if (v.includes(':')) for (const d of v.split(':')) n = n * 60n + BigInt(d);
    else n = BigInt(v);
  } catch {
    return undefined;
  }
  const r = sign * n;
  return r >= BigInt(Number.MIN_SAFE_INTEGER) && r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : Infinity;
}

const DQ_ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\x0b', f: '\f', r: '\r', e: '\x1b', ' ': ' ',
  '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029',
};
const HEX_LEN: Record<string, number> = { x: 2, u: 4, U: 8 };

/** Line-at-a-time scanner over the text; multi-line scalars pull further lines. */
class Lines {
  lines: string[] = [];
  /** The break that ends each line, as PyYAML reads it: '\n' (also for \r\n, \r, NEL) or LS / PS. */
  brk: string[] = [];
  i = 0;
  constructor(text: string) {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (!/[\r\x85\u2028\u2029]/.test(text)) {
      this.lines = text.split('\n');
      this.brk = new Array<string>(this.lines.length).fill('\n');
      return;
    }
    const re = /\r\n|[\n\r\x85\u2028\u2029]/g;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      this.lines.push(text.slice(last, m.index));
      this.brk.push(m[0] === '\u2028' || m[0] === '\u2029' ? m[0] : '\n');
      last = m.index + m[0].length;
    }
    this.lines.push(text.slice(last));
    this.brk.push('\n');
  }
}

// PyYAML's folding of a line break inside a flow or plain scalar: the first
// break is a space (or itself, if it is LS/PS) unless empty lines follow; each
// empty line adds its own break.
function foldBreaks(first: string | null, empties: string[]): string {
  const head = first === null ? '' : first !== '\n' ? first : empties.length ? '' : ' ';
  return head + empties.join('');
}

/** Reads a quoted scalar starting at column `col` of the current line; returns its value and the rest of its last line. */
function readQuoted(L: Lines, col: number, file: string): { value: string; rest: string } {
  const quote = L.lines[L.i][col];
  let line = L.lines[L.i];
  let pos = col + 1;
  let out = '';
  let keep = 0; // out[keep..] is raw trailing whitespace, dropped at a line break
  let first: string | null | undefined; // the pending line break (null: an escaped one); undefined: none
  let empties: string[] = []; // the breaks of the empty lines after it
  const nextLine = () => {
    if (++L.i >= L.lines.length) corrupt(file, `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`);
    line = L.lines[L.i];
    pos = line.length - line.replace(/^[ \t]+/, '').length;
  };
  for (;;) {
    if (pos >= line.length) {
      out = out.slice(0, keep);
      if (first === undefined) { first = L.brk[L.i]; empties = []; } else empties.push(L.brk[L.i]);
      nextLine();
      continue;
    }
    if (first !== undefined) {
      out += foldBreaks(first, empties);
      keep = out.length;
      first = undefined;
    }
    const c = line[pos];
    if (quote === "'") {
      if (c === "'") {
        if (line[pos + 1] === "'") { out += "'"; keep = out.length; pos += 2; continue; }
        return { value: out, rest: line.slice(pos + 1) };
      }
      out += c; pos++;
      if (c !== ' ' && c !== '\t') keep = out.length;
      continue;
    }
    if (c === '"') return { value: out, rest: line.slice(pos + 1) };
    if (c !== '\\') {
      out += c; pos++;
      if (c !== ' ' && c !== '\t') keep = out.length;
      continue;
    }
    const e = line[pos + 1];
    if (e === undefined) {
      // Escaped line break: nothing is inserted, the next line's indentation goes.
      keep = out.length;
      first = null;
      empties = [];
      nextLine();
      continue;
    }
    if (e in DQ_ESCAPES) { out += DQ_ESCAPES[e]; keep = out.length; pos += 2; continue; }
    const n = HEX_LEN[e];
    if (!n) corrupt(file, `unknown escape \\${e} in a double-quoted string (line ${L.i + 1})`);
    const hex = line.slice(pos + 2, pos + 2 + n);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) corrupt(file, `bad \\${e} escape (line ${L.i + 1})`);
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) corrupt(file, `escape \\${e}${hex} is beyond Unicode (line ${L.i + 1})`);
    out += String.fromCodePoint(cp);
    keep = out.length;
    pos += 2 + n;
  }
}

// `id: "label"` (no escapes) or `id: label` (a plain scalar without indicators), decimal id.
const SIMPLE_ENTRY = /^(0|[1-9][0-9]*): (?:"([^"\\]*)"|([^-?:,[\]{}#&*!|>'"%@`\s](?:[^:#]*[^:#\s])?))[ \t]*$/;

// Plain scalars: what may start one here; indicators that start anything else
// (anchors, tags, flow collections, block scalars, directives) are handed to the
// full parser.
const UNSUPPORTED_START = /^[&*!|>[{%@`?]/;

/** The value after `key:` on the current line, plus continuation lines more indented than `indent`. */
function readValue(L: Lines, after: string, indent: number, file: string): { value: string; quoted: boolean } | null {
  const col = L.lines[L.i].length - after.length;
  const trimmed = after.replace(/^[ \t]+/, '');
  if (trimmed === '' || trimmed[0] === '#') return null; // nested block or empty value
  const start = col + (after.length - trimmed.length);
  if (trimmed[0] === '"' || trimmed[0] === "'") {
    const { value, rest } = readQuoted(L, start, file);
    if (!/^[ \t]*(?:#.*)?$/.test(rest)) corrupt(file, `unexpected text after a quoted string (line ${L.i + 1})`);
    return { value, quoted: true };
  }
  if (UNSUPPORTED_START.test(trimmed) || trimmed.startsWith('- ')) throw new Unsupported();
  let value = stripComment(trimmed);
  // Continuation lines of a multi-line plain scalar are more indented than the key.
  let first: string | null = null;
  let empties: string[] = [];
  while (L.i + 1 < L.lines.length) {
    const next = L.lines[L.i + 1];
    const body = next.replace(/^[ ]+/, '');
    const ind = next.length - body.length;
    if (body.trim() === '') { // an empty line belongs to the scalar only if more of it follows
      let j = L.i + 1;
      while (j < L.lines.length && L.lines[j].trim() === '') j++;
      if (j >= L.lines.length) break;
      const nb = L.lines[j];
      if (nb.length - nb.replace(/^[ ]+/, '').length <= indent) break;
      if (first === null) first = L.brk[L.i]; else empties.push(L.brk[L.i]);
      L.i++;
      continue;
    }
    if (ind <= indent || body[0] === '#') break;
    if (/:(?:[ \t]|$)/.test(body)) throw new Unsupported(); // a nested mapping, not a continuation
    if (first === null) first = L.brk[L.i]; else empties.push(L.brk[L.i]);
    value += foldBreaks(first, empties) + stripComment(body.replace(/^[ \t]+/, ''));
    first = null;
    empties = [];
    L.i++;
  }
  return { value, quoted: false };
}

function stripComment(s: string): string {
  const m = /[ \t]#/.exec(s);
  return (m ? s.slice(0, m.index) : s).replace(/[ \t]+$/, '');
}

/** Splits `key: rest` (plain or single-line quoted key); null when the line is not a mapping entry. */
function splitKey(L: Lines, body: string, file: string): { key: string; quoted: boolean; rest: string } | null {
  if (body[0] === '"' || body[0] === "'") {
    const col = L.lines[L.i].length - body.length;
    const start = L.i;
    const { value, rest } = readQuoted(L, col, file);
    if (L.i !== start) throw new Unsupported();
    const m = /^[ \t]*:(?:[ \t]|$)/.exec(rest);
    if (!m) return null;
    return { key: value, quoted: true, rest: rest.slice(m[0].length - (m[0].endsWith(' ') || m[0].endsWith('\t') ? 1 : 0)) };
  }
  if (UNSUPPORTED_START.test(body) || body.startsWith('- ') || body === '-') throw new Unsupported();
  const m = /:(?:[ \t]|$)/.exec(body);
  if (!m) return null;
  return { key: body.slice(0, m.index).replace(/[ \t]+$/, ''), quoted: false, rest: body.slice(m.index + 1) };
}

function parseId(key: string, quoted: boolean, file: string): number {
  // PaddleX turns each key into np.int64(key): a YAML int, or a string of digits.
  const v = quoted ? (/^\s*[-+]?\d+\s*$/.test(key) ? Number(key.trim()) : undefined) : yaml11Int(key);
  if (v === undefined) corrupt(file, `id ${JSON.stringify(key)} is not an integer`);
  if (!Number.isSafeInteger(v) || v < 0) corrupt(file, `id ${JSON.stringify(key)} is not a safe non-negative integer`);
  return v;
}

function* fastParse(text: string, file: string): Generator<void, IdMapFile> {
  const L = new Lines(text);
  const out: IdMapFile = { idMap: new Map() };
  let sawIdMap = false;
  const top = new Set<string>();
  let slice = 0;
  for (; L.i < L.lines.length; L.i++) {
    if (++slice >= LINES_PER_SLICE) { slice = 0; yield; }
    const line = L.lines[L.i];
    const body = line.replace(/^[ ]+/, '');
    if (body === '' || body[0] === '#') continue;
    if (line.length !== body.length || body[0] === '\t') throw new Unsupported(); // top level starts at column 0
    if (body === '---' || body.startsWith('--- ') || body === '...') { if (L.i === 0 || body !== '...') continue; throw new Unsupported(); }
    const kv = splitKey(L, body, file);
    if (!kv) throw new Unsupported();
    if (top.has(kv.key)) corrupt(file, `key ${kv.key} appears twice`);
    top.add(kv.key);
    if (kv.key === 'id_map') {
      sawIdMap = true;
      const restTrim = stripComment(kv.rest.replace(/^[ \t]+/, ''));
      if (restTrim === '{}') continue;
      if (restTrim !== '') throw new Unsupported();
      // The nested entries: every line more indented than column 0, at one indentation.
      let indent = -1;
      while (L.i + 1 < L.lines.length) {
        const next = L.lines[L.i + 1];
        const nb = next.replace(/^[ ]+/, '');
        if (nb === '' || nb[0] === '#') { L.i++; continue; }
        const ind = next.length - nb.length;
        if (ind === 0) break;
        if (indent < 0) indent = ind;
        if (ind !== indent || nb[0] === '\t') throw new Unsupported();
        L.i++;
        if (++slice >= LINES_PER_SLICE) { slice = 0; yield; }
        // The common line, `  123: "label"` or `  123: label`, on one line.
        const fast = SIMPLE_ENTRY.exec(nb);
        if (fast) {
          const follow = L.lines[L.i + 1];
          const continues = follow !== undefined && follow.length > indent && follow.charCodeAt(indent) === 32 && follow.trim() !== '';
          if (!continues || fast[2] !== undefined) {
            const id = Number(fast[1]);
            if (!Number.isSafeInteger(id)) corrupt(file, `id ${JSON.stringify(fast[1])} is not a safe non-negative integer`);
            if (out.idMap.has(id)) corrupt(file, `id ${id} appears twice in id_map`);
            out.idMap.set(id, fast[2] ?? fast[3]);
            continue;
          }
        }
        const e = splitKey(L, nb, file);
        if (!e) throw new Unsupported();
        const id = parseId(e.key, e.quoted, file);
        const v = readValue(L, e.rest, indent, file);
        if (v === null) throw new Unsupported(); // empty or nested value: let the full parser judge
        if (out.idMap.has(id)) corrupt(file, `id ${id} appears twice in id_map`);
        out.idMap.set(id, v.value);
      }
      continue;
    }
    const v = readValue(L, kv.rest, 0, file);
    if (v === null) {
      // A nested block under another key: not part of this format, skip it like PaddleX ignores extra keys.
      while (L.i + 1 < L.lines.length && /^(?:[ \t]|$|#)/.test(L.lines[L.i + 1])) L.i++;
      continue;
    }
    setTop(out, kv.key, v.value, v.quoted, file);
  }
  if (!sawIdMap) corrupt(file, 'no id_map');
  return out;
}

function setTop(out: IdMapFile, key: string, value: string, quoted: boolean, file: string): void {
  if (key === 'index_type') out.indexType = value;
  else if (key === 'metric_type') out.metricType = value;
  else if (key === 'vector_sha256') out.vectorSha256 = value;
  else if (key === 'next_id') {
    const n = quoted ? undefined : yaml11Int(value);
    if (n === undefined || !Number.isSafeInteger(n) || n < 0) corrupt(file, `next_id ${JSON.stringify(value)} is not a safe non-negative integer`);
    out.nextId = n;
  }
}

/** The full YAML parser (failsafe schema) for layouts the fast path does not handle. */
function slowParse(text: string, file: string): IdMapFile {
  const doc = YAML.parseDocument(text, { schema: 'failsafe', uniqueKeys: true, version: '1.1' });
  if (doc.errors.length) corrupt(file, `not valid YAML: ${doc.errors[0].message}`);
  const root = doc.contents;
  if (!YAML.isMap(root)) corrupt(file, 'is not a YAML mapping');
  const out: IdMapFile = { idMap: new Map() };
  let sawIdMap = false;
  for (const pair of root.items) {
    const k = YAML.isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (k === 'id_map') {
      sawIdMap = true;
      if (YAML.isScalar(pair.value) && (pair.value.value === '' || pair.value.value === null)) continue;
      if (!YAML.isMap(pair.value)) corrupt(file, 'id_map is not a mapping');
      for (const e of pair.value.items) {
        if (!YAML.isScalar(e.key)) corrupt(file, 'an id_map key is not a scalar');
        const id = parseId(String(e.key.value), e.key.type !== 'PLAIN', file);
        if (!YAML.isScalar(e.value)) corrupt(file, `the label of id ${id} is not a string`);
        if (out.idMap.has(id)) corrupt(file, `id ${id} appears twice in id_map`);
        out.idMap.set(id, String(e.value.value ?? ''));
      }
    } else if (k !== undefined && YAML.isScalar(pair.value)) {
      setTop(out, k, String(pair.value.value), pair.value.type !== 'PLAIN', file);
    }
  }
  if (!sawIdMap) corrupt(file, 'no id_map');
  return out;
}

/**
 * Parses id_map.yaml text. Resolves after yielding to the event loop every
 * few thousand lines, so 10^5 labels never hold it for long.
 */
export async function parseIdMapYaml(text: string, file = 'id_map.yaml'): Promise<IdMapFile> {
  const gen = fastParse(text, file);
  try {
    for (;;) {
      const r = gen.next();
      if (r.done) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    return slowParse(text, file);
  }
}
