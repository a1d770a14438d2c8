/** Command line of `npm run bench -- [options]`. */

export const SCENARIOS = [
  'host-death',
  'host-death-witness',
  'freeze',
  'off',
  'partition-heal',
  'hb-cut',
  'gateway-loss',
  'both-start',
  'both-start-staggered',
  'vip-remove',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** default and fast are the bench's two by default (`both`); fast100 (100/500), fast20 (20/80) and fast10 (10/40) probe the fast end. */
export const PROFILES = ['default', 'fast', 'fast100', 'fast20', 'fast10'] as const;
const BOTH: ProfileName[] = ['default', 'fast'];
export type ProfileName = (typeof PROFILES)[number];
export const SECTIONS = ['failover', 'footprint', 'keepalived', 'soak', 'auth', 'notify'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  trials: number;
  /** Trials of both-start (each observes 20 s / 60 s). */
  bothTrials: number;
  scenarios: ScenarioName[];
  profiles: ProfileName[];
  long: boolean;
  idleSeconds: number;
  /** The idle footprint again with this many resources (default profile, at most 60 s each). */
  resourceCounts: number[];
  /** NICE for pha in every pair of the run (0: not set). */
  nice: number;
  compareKeepalived: boolean;
  /** The heartbeat key's cost (section auth): host death and idle CPU with and without AUTHKEY, same run. */
  auth: boolean;
  /** A hanging notify hook's effect on host death (section notify), same run. */
  notify: boolean;
  soakMinutes: number;
  sections: Section[];
  outDir: string;
  merge: boolean;
  keepLogs: boolean;
  observer: 'monitor' | 'sample';
  freezeMs: number;
  quick: boolean;
  /** Run pha from a private copy of the build taken at the start (default true). */
  snapshot: boolean;
  /** Only re-render latest.md (and the targets in latest.json) from latest.json. */
  reportOnly: boolean;
  /** Run the failover scenarios under stress-ng --cpu 0 (rows get the profile "<p>+load"). */
  load: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]      (as root: it builds a network-namespace lab)

  --trials N             trials per failover scenario and profile (default 10)
  --quick                3 trials, 1 both-start trial, 20 s idle footprint (for a first look)
  --scenario A[,B...]    only these failover scenarios: ${SCENARIOS.join(', ')}
  --profile P            default | fast | fast100 | fast20 | fast10 (a list), or both = default,fast (the default)
  --long                 both-start observes 60 s instead of 20 s
  --both-trials N        trials of both-start (default 3; --quick 1)
  --freeze-ms N          how long the holder stays frozen (default 3000)
  --idle-seconds N       idle footprint window (default 60)
  --nice N               NICE=N in every pair's config (the daemons' priority; rows labelled +niceN)
  --resources LIST       the idle footprint again with N resources (default 10,50,200; none: skip)
  --auth                 also measure the heartbeat key: host death and idle CPU with and without AUTHKEY
                         (same run, interleaved), and the codec's CPU per frame
  --notify               also measure host death with a notify hook that hangs (NOTIFY_TIMEOUT=2) against none
                         (same run, interleaved), with lb2's timeline phases
  --compare keepalived   also run host death and graceful handover with keepalived (apt-get installs it if missing)
  --load                 run the failover scenarios under full CPU load (stress-ng --cpu 0; rows "<profile>+load")
  --soak MINUTES         hold a pair under full CPU load (stress-ng) that long per profile; count spurious failovers
  --only LIST            run only these sections: ${SECTIONS.join(', ')}
                         (default: failover + footprint, plus keepalived / auth / notify / soak when asked for)
  --observer O           monitor (ip monitor events, default) | sample (ip -batch every 5 ms)
  --out DIR              results directory (default bench/results)
  --no-merge             do not keep rows of earlier runs in latest.json that this run did not measure
  --keep-logs            keep each trial's install dir (logs in <dir>/var/log.*) and print where
  --no-snapshot          run pha from the working tree's dist/ instead of a copy taken at the start
  --report-only          measure nothing: re-render latest.md from latest.json (no root needed)
  -h, --help             this text`;

function list<T extends string>(v: string, allowed: readonly T[], what: string): T[] {
  const out: T[] = [];
  for (const x of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(allowed as readonly string[]).includes(x))
      throw new Error(`unknown ${what} '${x}' (one of: ${allowed.join(', ')})`);
    if (!out.includes(x as T)) out.push(x as T);
  }
  if (out.length === 0) throw new Error(`--${what} needs a value`);
  return out;
}

function int(v: string | undefined, name: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${name} needs a number ≥ ${min}`);
  return n;
}

export function parseArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    trials: 10,
    bothTrials: 3,
    scenarios: [...SCENARIOS],
    profiles: [...BOTH],
    long: false,
    idleSeconds: 60,
    resourceCounts: [10, 50, 200],
    nice: 0,
    compareKeepalived: false,
    auth: false,
    notify: false,
    soakMinutes: 0,
    sections: [],
    outDir: 'bench/results',
    merge: true,
    keepLogs: false,
    observer: 'monitor',
    freezeMs: 3000,
    quick: false,
    snapshot: true,
    reportOnly: false,
    load: false,
    help: false,
  };
  let trialsSet = false,
    bothSet = false,
    idleSet = false;
  let only: Section[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const key = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const val = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    switch (key) {
      case '--trials':
        o.trials = int(val(), '--trials', 1);
        trialsSet = true;
        break;
      case '--both-trials':
        o.bothTrials = int(val(), '--both-trials', 1);
        bothSet = true;
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--scenario':
      case '--scenarios':
        o.scenarios = list(val(), SCENARIOS, 'scenario');
        break;
      case '--profile': {
        const v = val();
        o.profiles = v === 'both' ? [...BOTH] : list(v, PROFILES, 'profile');
        break;
      }
      case '--long':
        o.long = true;
        break;
      case '--freeze-ms':
        o.freezeMs = int(val(), '--freeze-ms', 100);
        break;
      case '--nice': {
        const v = Number(val());
        if (!Number.isInteger(v) || v < -20 || v > 19) throw new Error('--nice: expected a whole number in -20..19');
        o.nice = v;
        break;
      }
      case '--resources': {
        const v = val();
        o.resourceCounts = v === 'none' ? [] : v.split(',').map((x) => int(x, '--resources', 2));
        break;
      }
      case '--idle-seconds':
        o.idleSeconds = int(val(), '--idle-seconds', 1);
        idleSet = true;
        break;
      case '--compare': {
        const v = val();
        if (v !== 'keepalived') throw new Error(`--compare: only 'keepalived' is supported, not '${v}'`);
        o.compareKeepalived = true;
        break;
      }
      case '--notify':
        o.notify = true;
        break;
      case '--auth':
        o.auth = true;
        break;
      case '--load':
        o.load = true;
        break;
      case '--soak':
        o.soakMinutes = int(val(), '--soak', 0.05);
        break;
      case '--only':
        only = list(val(), SECTIONS, 'only');
        break;
      case '--observer': {
        const v = val();
        if (v !== 'monitor' && v !== 'sample') throw new Error('--observer: monitor or sample');
        o.observer = v;
        break;
      }
      case '--out':
        o.outDir = val();
        break;
      case '--no-merge':
        o.merge = false;
        break;
      case '--keep-logs':
        o.keepLogs = true;
        break;
      case '--no-snapshot':
        o.snapshot = false;
        break;
      case '--report-only':
        o.reportOnly = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option '${a}'`);
    }
  }
  if (o.quick) {
    if (!trialsSet) o.trials = 3;
    if (!bothSet) o.bothTrials = 1;
    if (!idleSet) o.idleSeconds = 20;
  }
  const sections: Section[] = ['failover', 'footprint'];
  if (o.compareKeepalived) sections.push('keepalived');
  if (o.auth) sections.push('auth');
  if (o.notify) sections.push('notify');
  if (o.soakMinutes > 0) sections.push('soak');
  o.sections = only ?? sections;
  if (o.sections.includes('soak') && !(o.soakMinutes > 0)) throw new Error('--only soak needs --soak MINUTES');
  if (o.sections.includes('keepalived')) o.compareKeepalived = true;
  return o;
}
