// Remove-id files: one id per line (the first token), blank and '#' lines ignored.
import * as fs from 'node:fs';
import { ShituError } from '../../errors';

export async function readRemoveIds(file: string): Promise<number[]> {
  const text = await fs.promises.readFile(file, 'utf8').catch((e: Error) => {
    throw new ShituError('ERR_INDEX_ID', `cannot read remove-ids file ${file}: ${e.message}`);
  });
  const ids: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const tok = line.trim().split(/\s+/)[0];
    if (!tok || tok.startsWith('#')) return;
    const id = Number(tok);
    if (!Number.isInteger(id)) throw new ShituError('ERR_INDEX_ID', `${file} line ${i + 1}: ${JSON.stringify(tok)} is not an id`);
    ids.push(id);
  });
  return ids;
}
