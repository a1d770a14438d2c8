// Pure parser of the original KEY=VALUE format: text in, values and problems out.
import type { ConfigProblem } from '../errors.js';
import { KEYS } from './keys.js';

export interface ParsedLine {
  value: string;
  line: number;
}

export interface ParsedConfig {
  file: string;
  values: Map<string, ParsedLine>; // plain keys
  resources: { name: string; args: string[]; line: number }[]; // RES_<name>, file order
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

const LINE_RE = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const RES_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function stripQuotes(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && ((t[0] === '"' && t.endsWith('"')) || (t[0] === "'" && t.endsWith("'")))) {
    return t.slice(1, -1);
  }
  return t;
}

export function splitList(v: string): string[] {
  return v.split(/\s+/).filter((s) => s.length > 0);
}

export function parseConfigText(text: string, file: string): ParsedConfig {
  const out: ParsedConfig = { file, values: new Map(), resources: [], errors: [], warnings: [] };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const m = LINE_RE.exec(t);
    if (!m) {
      out.errors.push({ file, line, message: `malformed line "${t}": expected KEY=VALUE` });
      return;
    }
    const key = m[1]!;
    const value = stripQuotes(m[2]!);
    // RES_TIMEOUT and RES_RESTARTS are settings (KEYS), every other RES_<name> a resource.
    if (key.startsWith('RES_') && !(key in KEYS)) {
      const name = key.slice(4);
      if (!RES_NAME_RE.test(name)) {
        out.errors.push({
          file,
          line,
          message: `resource key ${key}: the name after RES_ must be a script name (letters, digits, _ . -)`,
        });
        return;
      }
      const prev = out.resources.findIndex((r) => r.name === name);
      if (prev >= 0) {
        out.warnings.push({ file, line, message: `${key} given again; it replaces line ${out.resources[prev]!.line}` });
        out.resources.splice(prev, 1);
      }
      out.resources.push({ name, args: splitList(value), line });
      return;
    }
    if (!(key in KEYS)) {
      out.warnings.push({
        file,
        line,
        message: `unknown key ${key} (ignored); known keys: ${Object.keys(KEYS).join(', ')}, RES_<name>`,
      });
      return;
    }
    const prev = out.values.get(key);
    if (prev) out.warnings.push({ file, line, message: `${key} given again; it replaces line ${prev.line}` });
    out.values.set(key, { value, line });
  });
  return out;
}
