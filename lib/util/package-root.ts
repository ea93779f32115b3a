// The package's root directory (where package.json is), whether this code runs
// compiled from dist/lib or as TypeScript from lib/: models/, examples/ and the
// shared data beside the package are found from here.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return (root = dir);
}
