// docs/ is part of the product: its generated tables match the code's tables,
// and its relative links lead to files that exist.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GENERATED, regenerate, repoRoot } from '../docs/generate.js';

const ROOT = repoRoot();

for (const doc of GENERATED) {
  test(`${doc.file} is what ${doc.source} generates`, () => {
    const text = fs.readFileSync(path.join(ROOT, doc.file), 'utf8');
    const fresh = regenerate(doc, text);
    assert.ok(
      fresh === text,
      `${doc.file} is out of date with ${doc.source}: run \`npm run docs\` and commit ${doc.file}`,
    );
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces → '-'. */
const slug = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchors = (md: string) => new Set([...md.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

test('the relative links of docs/*.md lead to files (and headings) that exist', () => {
  const dir = path.join(ROOT, 'docs');
  const broken: string[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.md'))) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const [target, anchor] = m[1]!.split('#') as [string, string | undefined];
      if (/^[a-z]+:/.test(target)) continue;
      const file = target === '' ? path.join(dir, f) : path.resolve(dir, target);
      if (!fs.existsSync(file)) broken.push(`docs/${f}: ${m[1]} (no such file)`);
      else if (anchor && file.endsWith('.md') && !anchors(fs.readFileSync(file, 'utf8')).has(anchor))
        broken.push(`docs/${f}: ${m[1]} (no such heading)`);
    }
  }
  assert.deepEqual(broken, [], 'broken links');
});

test('no comment in src/ cites SPEC.md (it is not in the repository; docs/ is)', () => {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && fs.readFileSync(p, 'utf8').includes('SPEC.md'))
        hits.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.deepEqual(hits, [], 'files citing SPEC.md');
});
