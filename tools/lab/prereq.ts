/**
 * What the namespace lab needs from the system, which Debian package brings
 * each tool, and what to do when some are missing: one pure decision
 * (planLab) over what a probe found (missingLabTools), so the demo can say
 * exactly what to install, or install it with --install-tools, instead of
 * quietly falling back to the loopback pair.
 */
import { runArgv } from './exec.js';

export interface LabTool {
  tool: string;
  pkg: string; // the Debian package that installs it
  probe: string[]; // prints a version; exit 127 / ENOENT = not installed
  mustMatch?: RegExp; // the output must say it is this implementation
}

/** ping and arping must be the iputils ones (res/ipaddr sends gratuitous ARP with iputils arping). */
export const LAB_TOOLS: readonly LabTool[] = [
  { tool: 'ip', pkg: 'iproute2', probe: ['ip', '-V'] },
  { tool: 'unshare', pkg: 'util-linux', probe: ['unshare', '--version'] },
  { tool: 'nsenter', pkg: 'util-linux', probe: ['nsenter', '--version'] },
  { tool: 'ping', pkg: 'iputils-ping', probe: ['ping', '-V'] },
  { tool: 'arping', pkg: 'iputils-arping', probe: ['arping', '-V'], mustMatch: /iputils/ },
];

export interface MissingTool {
  tool: string;
  pkg: string;
  why: 'not installed' | 'not the iputils one';
}

/** Runs each tool's version probe (no root needed); lists what is missing or the wrong implementation. */
export async function missingLabTools(tools: readonly LabTool[] = LAB_TOOLS): Promise<MissingTool[]> {
  const missing: MissingTool[] = [];
  for (const t of tools) {
    const r = await runArgv(t.probe, { timeoutMs: 5000 });
    if (r.code === 127 || /ENOENT/.test(r.stderr)) missing.push({ tool: t.tool, pkg: t.pkg, why: 'not installed' });
    else if (t.mustMatch && !t.mustMatch.test(r.stdout + r.stderr))
      missing.push({ tool: t.tool, pkg: t.pkg, why: 'not the iputils one' });
  }
  return missing;
}

export interface LabPlanInput {
  platform: NodeJS.Platform;
  root: boolean;
  missing: readonly MissingTool[];
  installTools: boolean; // --install-tools was given
  apt: boolean; // apt-get is there (Debian and derivatives)
}

export type LabPlan =
  /** Everything is there: try the lab (the namespace probe can still say no). */
  | { action: 'lab'; say: string[] }
  /** Run these commands (as root), probe again, then the lab. */
  | { action: 'install'; packages: string[]; commands: string[][]; say: string[] }
  /** The loopback pair, and what would give the real lab. */
  | { action: 'loopback'; reason: string; say: string[] };

export function packagesFor(missing: readonly MissingTool[]): string[] {
  return [...new Set(missing.map((m) => m.pkg))];
}

/** The one line an operator can paste (apt's lists may be empty on a fresh machine, hence the update). */
export function installLine(packages: readonly string[]): string {
  return `apt-get update && apt-get install -y ${packages.join(' ')}`;
}

export function planLab(i: LabPlanInput): LabPlan {
  if (i.platform !== 'linux')
    return { action: 'loopback', reason: `platform ${i.platform} has no network namespaces`, say: [] };
  const packages = packagesFor(i.missing);
  const what = i.missing.map((m) => `${m.tool} (${m.why}; package ${m.pkg})`).join(', ');
  if (!i.root) {
    const say = ['The network-namespace lab needs root: sudo npm run demo'];
    if (packages.length > 0) say.push(`  and it needs ${what}: ${installLine(packages)}`);
    return { action: 'loopback', reason: 'not root', say };
  }
  if (packages.length === 0) return { action: 'lab', say: [] };
  if (i.installTools && i.apt) {
    return {
      action: 'install',
      packages,
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', ...packages],
      ],
      say: [
        `The network-namespace lab needs ${what}; --install-tools: installing ${packages.join(' ')} with apt-get …`,
      ],
    };
  }
  if (i.installTools) {
    return {
      action: 'loopback',
      reason: `missing ${i.missing.map((m) => m.tool).join(', ')}`,
      say: [
        `The network-namespace lab needs ${what}.`,
        `  --install-tools needs apt-get (Debian or Ubuntu), which is not here: install ${packages.join(' ')} with this system's package manager.`,
      ],
    };
  }
  return {
    action: 'loopback',
    reason: `missing ${i.missing.map((m) => m.tool).join(', ')}`,
    say: [
      `The network-namespace lab needs ${what}. Install with:`,
      `  ${installLine(packages)}`,
      '  or let the demo do it: npm run demo -- --install-tools',
    ],
  };
}
