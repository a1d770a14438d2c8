/**
 * The live view: who holds the resource, what the client reaches, both nodes'
 * words and what each hears from its peer, the heartbeat age.
 *
 * On a terminal a few lines are redrawn 10 times a second below the
 * narration; otherwise one line is printed per change (and at most one per
 * second while nothing changes). Each transition's timeline (the node's
 * var/history.json) is printed above it as it happens.
 */
import path from 'node:path';
import type { Status } from '../../src/status-store/index.js';
import { readHistory } from '../../src/supervise/history.js';
import { timelineLine } from '../../src/supervise/timeline.js';
import { type Backend, IDX, type Idx, other } from './backend.js';

const ESC = '\x1b[';

export interface NodeView {
  name: string;
  state: string;
  status: Status | null;
  hears: string;
  hearsFor: number | null;
  hbAge: string;
  pause: string;
  reason: string;
}

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function ageText(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : secs(ms);
}

export class Panel {
  private timer: NodeJS.Timeout | undefined;
  private drawn = 0;
  private lastKey = '';
  private lastLineAt = 0;
  private running = false;
  private readonly color: boolean;

  constructor(
    private readonly b: Backend,
    private readonly t0: number,
    readonly tty: boolean,
  ) {
    this.color = tty && !process.env.NO_COLOR;
  }

  private c(code: string, s: string): string {
    return this.color ? `${ESC}${code}m${s}${ESC}0m` : s;
  }

  view(i: Idx, now: number): NodeView {
    const b = this.b;
    const name = b.names[i];
    const s = b.dead[i] ? null : b.readStatus(i);
    const alive = b.dead[i] ? 0 : b.daemonsAlive(i);
    let state: string;
    if (b.dead[i]) state = 'DEAD';
    else if (alive === 0) state = 'NOTRUNNING';
    else if (s?.STATUS === 'ONLINE') state = 'Active';
    else if (s?.STATUS === 'OFFLINE') state = 'Standby';
    else if (s?.STATUS === 'PROGRESS') state = 'PROGRESS';
    else state = 'starting';
    if (alive > 0 && alive < 3) state += ` (${alive}/3 daemons)`;
    const running = !b.dead[i] && alive > 0;
    const hears = running ? (s?.RECEIVER_IN ?? 'nothing') : '—';
    const hearsFor = running && s?.RECEIVER_IN_SINCE ? now - s.RECEIVER_IN_SINCE : null;
    let hbAge = '—';
    if (b.dead[i] || !running) hbAge = '—';
    else if (b.sniffing) {
      const h = b.heard[i];
      hbAge = h && h.t >= (s?.RECEIVER_STARTED_AT ?? 0) - 60_000 ? ageText(now - h.t) : 'none yet';
    } else if (s?.RECEIVER_IN) {
      hbAge = `< ${ageText(b.deadtimeMs)} (est.)`;
    } else if (s?.RECEIVER_IN_SINCE && s.RECEIVER_IN_SINCE !== s.RECEIVER_STARTED_AT) {
      // RECEIVER_IN went null DEADTIME after the last heartbeat.
      hbAge = `≈ ${ageText(now - s.RECEIVER_IN_SINCE + b.deadtimeMs)} (est.)`;
    } else if (s?.RECEIVER_STARTED_AT) {
      hbAge = 'none yet';
    }
    let pause = '';
    if (running && s?.SENDER_RUN === 0 && s.SENDER_PAUSE_UNTIL && s.SENDER_PAUSE_UNTIL > now) {
      pause = `heartbeat paused by off, ${Math.ceil((s.SENDER_PAUSE_UNTIL - now) / 1000)} s left`;
    } else if (running && s?.SENDER_MUTE === 1) pause = 'heartbeat muted (gateway check failing)';
    const reason = running ? (s?.ALARM ? `ALARM ${s.ALARM}` : (s?.REASON ?? '')) : '';
    return { name, state, status: s, hears, hearsFor, hbAge, pause, reason };
  }

  holderText(): string {
    const h = this.b.holders();
    if (h.length === 0) return 'nobody';
    if (h.length === 2) return `BOTH (${this.b.names[0]} and ${this.b.names[1]})`;
    return this.b.names[h[0]!]!;
  }

  clientText(now: number): string {
    const b = this.b;
    if (!b.hasClient) return '';
    const p = b.lastProbe;
    if (!p) return 'client: no answer yet';
    const p6 = b.lastProbe6;
    const v6 = p6 ? ` · IPv6: ${p6.ok ? p6.who : 'NO ANSWER'}` : '';
    if (p.ok) return `client → VIP: ${p.who} answers${v6}`;
    const since = b.failingSince !== null ? ` for ${secs(now - b.failingSince)}` : '';
    return `client → VIP: NO ANSWER${since}${v6}`;
  }

  lines(now: number): string[] {
    const views = IDX.map((i) => this.view(i, now));
    const stateCol = (st: string): string => {
      const p = st.padEnd(10);
      if (st.startsWith('Active')) return this.c('1;32', p);
      if (st.startsWith('Standby')) return this.c('33', p);
      if (st.startsWith('DEAD')) return this.c('1;31', p);
      return this.c('2', p);
    };
    const holder = this.holderText();
    const holderCol =
      holder === 'nobody' || holder.startsWith('BOTH') ? this.c('1;31', holder) : this.c('1;32', holder);
    const client = this.clientText(now);
    const clientCol = client.includes('NO ANSWER') ? this.c('31', client) : client;
    const head = `  t=${((now - this.t0) / 1000).toFixed(1).padStart(5)} s   ${this.b.mode === 'lab' ? 'VIP 198.18.0.100' : 'resource'} held by: ${holderCol.padEnd(this.color ? 18 : 8)}${client ? `   ${clientCol}` : ''}`;
    const rows = views.map((v, i) => {
      const peer = this.b.names[other(i as Idx)];
      const hf = v.hearsFor !== null ? ` for ${secs(v.hearsFor)}` : '';
      const hears = `hears ${peer}: ${v.hears}${hf}`;
      const extra = [v.pause, v.reason].filter(Boolean).join(' · ');
      return `  ${v.name.padEnd(9)} ${stateCol(v.state)} ${hears.padEnd(34)} heartbeat age ${v.hbAge.padStart(7)}${extra ? `   ${this.c('2', extra)}` : ''}`;
    });
    return [this.c('2', `  ${'─'.repeat(30)} live ${'─'.repeat(30)}`), head, ...rows];
  }

  /** One plain line for a log (no terminal). */
  line(now: number): { key: string; text: string } {
    const views = IDX.map((i) => this.view(i, now));
    const holder = this.holderText();
    const client = this.b.hasClient ? ` | ${this.clientText(now).replace('client → VIP: ', 'client: ')}` : '';
    const parts = views.map((v, i) => {
      const peer = this.b.names[other(i as Idx)];
      return `${v.name} ${v.state} hears ${peer}:${v.hears}${v.pause ? ' (paused)' : ''}`;
    });
    const key = `${holder}${client.replace(/ for [\d.]+ s/, '')} | ${parts.join(' | ')}`;
    const ages = views.map((v) => `hb ${v.hbAge}`).join(', ');
    const text = `  [${((now - this.t0) / 1000).toFixed(1).padStart(5)} s] holder: ${holder}${client} | ${parts.join(' | ')} | ${ages}`;
    return { key, text };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.tty) process.stdout.write(`${ESC}?25l`);
    this.tick();
    this.timer = setInterval(() => this.tick(), 100);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) {
      this.drawPanel();
      process.stdout.write(`${ESC}?25h`);
      this.drawn = 0;
    }
  }

  /** Leave the screen usable (cursor shown), whatever state we are in. */
  restoreTerminal(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.running = false;
    if (this.tty) process.stdout.write(`${ESC}?25h`);
  }

  private readonly told = [0, 0];
  /** The state changes each node's supervise logged since the last tick, as pha-cli stat shows them. */
  private transitions(): void {
    for (const i of IDX) {
      const { entries } = readHistory(path.join(this.b.files(i).dir, 'var'));
      for (const e of entries)
        if (e.seq > this.told[i]! && e.event === 'state') this.say(`  ▸ ${this.b.names[i]}: ${timelineLine(e)}`);
      this.told[i] = Math.max(this.told[i]!, entries.at(-1)?.seq ?? 0);
    }
  }

  private tick(): void {
    const now = Date.now();
    this.transitions();
    if (this.tty) {
      this.drawPanel();
      return;
    }
    const { key, text } = this.line(now);
    if (key !== this.lastKey || now - this.lastLineAt >= 1000) {
      this.lastKey = key;
      this.lastLineAt = now;
      process.stdout.write(`${text}\n`);
    }
  }

  private clip(s: string): string {
    const cols = process.stdout.columns || 160;
    // Clip by visible characters (escape sequences do not count).
    let vis = 0;
    let out = '';
    for (let k = 0; k < s.length; k++) {
      if (s[k] === '\x1b') {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
        const m = /^\x1b\[[0-9;?]*[a-zA-Z]/.exec(s.slice(k));
        if (m) {
          out += m[0];
          k += m[0].length - 1;
          continue;
        }
      }
      if (vis >= cols - 1) continue;
      out += s[k];
      vis++;
    }
    return out + (this.color ? `${ESC}0m` : '');
  }

  private erase(): void {
    if (this.drawn > 0) process.stdout.write(`${ESC}${this.drawn}F${ESC}J`);
    this.drawn = 0;
  }

  private drawPanel(): void {
    const ls = this.lines(Date.now()).map((l) => this.clip(l));
    let s = this.drawn > 0 ? `${ESC}${this.drawn}F` : '';
    for (const l of ls) s += `${ESC}2K${l}\n`;
    process.stdout.write(s);
    this.drawn = ls.length;
  }

  /** Narration: printed above the live panel. */
  say(text: string): void {
    if (this.tty && this.running) {
      this.erase();
      process.stdout.write(`${text}\n`);
      this.drawPanel();
    } else {
      process.stdout.write(`${text}\n`);
    }
  }
}
