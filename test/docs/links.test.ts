// README.md and docs/*.md point at each other, at screenshots and at files of
// the repository: every relative link must reach a file (and its #anchor a
// heading there), and every repository path written in backticks must exist,
// so that moving a file or renaming a heading cannot leave the docs pointing
// nowhere. Anchors follow GitHub's rule (lower case, punctuation dropped,
// spaces to hyphens, -1, -2 for repeats), written here because no dependency
// of the project implements it.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const pages = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort()
  .map((f) => `docs/${f}`)];

/** The text of a page with its fenced code blocks blanked (links and paths there are examples). */
function prose(page: string): string {
  return fs.readFileSync(path.join(root, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
}

function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(page).matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const slug = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

t.test('every relative link of README.md and docs/ reaches its file and anchor', async (t) => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const m of prose(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
      const [file, anchor] = target.split('#');
      const resolved = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      checked++;
      if (!fs.existsSync(path.join(root, resolved))) { broken.push(`${page}: ${target} (no ${resolved})`); continue; }
      if (anchor !== undefined && !(resolved.endsWith('.md') && anchors(resolved).has(anchor))) {
        broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
  }
  t.ok(checked > 30, `${checked} links checked`);
  t.same(broken, [], 'no broken link');
});

t.test('every repository path named in backticks in README.md and docs/ exists', async (t) => {
  const missing: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const m of prose(page).matchAll(/`((?:lib|native|test|bench|scripts|web|models|examples|docs|\.ci)\/[^`\s]*)`/g)) {
      const p = m[1];
      // Placeholders and patterns (<name>, {a,b}, *, …) and the git-ignored bench/.models/ name no one file.
      if (/[<{*…]/.test(p) || p.startsWith('bench/.models')) continue;
      checked++;
      if (!fs.existsSync(path.join(root, p))) missing.push(`${page}: ${p}`);
    }
  }
  t.ok(checked > 30, `${checked} paths checked`);
  t.same(missing, [], 'no path that does not exist');
});
