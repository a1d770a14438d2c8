/**
 * A private copy of the built pha (bin/, res/, dist/src/, package.json and a
 * link to node_modules) for the whole run, so a rebuild of dist/ by someone
 * else during a long run cannot change the code under test half-way.
 * The lab uses it through PHA_ROOT (findPhaRoot), pha finds its res/ and
 * bin/ relative to its own dist/src.
 */
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export function snapshotPha(root: string, dest: string): string {
  mkdirSync(join(dest, 'dist'), { recursive: true });
  for (const d of ['bin', 'res']) cpSync(join(root, d), join(dest, d), { recursive: true });
  cpSync(join(root, 'dist', 'src'), join(dest, 'dist', 'src'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dest, 'package.json'));
  if (existsSync(join(root, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'));
  return dest;
}
