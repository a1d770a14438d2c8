// What the demo shows beside the live panel: the calls the notify hooks got,
// each node's metrics as Prometheus would scrape them, and the summary of
// what this run measured.
import fs from 'node:fs';
import path from 'node:path';
import { type Backend, IDX, type Idx } from './backend.js';

export interface Row {
  what: string;
  value: string;
  note: string;
}

export class Told {
  private readonly notifySeen = [0, 0];

  constructor(
    private readonly d: { backend: Backend; rows: readonly Row[]; say(s?: string): void; name(i: Idx): string },
  ) {}

  /** What the notify hooks were told since the last look (NOTIFY: the demo's hook logs each call). */
  notify(): void {
    const d = this.d;
    for (const i of IDX) {
      const f = path.join(d.backend.files(i).dir, 'notify.log');
      const all = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [];
      for (const l of all.slice(this.notifySeen[i])) {
        const [, ...rest] = l.split(' ');
        d.say(`    notify hook on ${d.name(i)}: ${rest.join(' ')}`);
      }
      this.notifySeen[i] = all.length;
    }
  }

  /** What each node's /metrics says now (METRICS): the lines an operator's dashboard would show. */
  async metrics(): Promise<void> {
    const d = this.d;
    const wanted =
      /^pha_(node_state\{state="Active"\}|failovers_total|last_failover_seconds|heartbeats_(sent|received)_total|heartbeat_path_age_seconds|peer_word\{word="ONLINE"\}|split_brain|witness_state|peer_config_mismatch)/;
    d.say('');
    d.say(
      '━━ Metrics (METRICS: what Prometheus scrapes from each node at /metrics; etc/pha-alerts.yml alerts on them) ━━',
    );
    for (const i of IDX) {
      const text = await d.backend.scrape(i);
      if (text === null) {
        d.say(`  ${d.name(i)}: /metrics does not answer${d.backend.dead[i] ? ' (the node is dead)' : ''}`);
        continue;
      }
      d.say(`  ${d.name(i)}:`);
      for (const l of text.split('\n').filter((x) => wanted.test(x))) d.say(`    ${l}`);
    }
  }

  summary(): void {
    const d = this.d;
    const b = d.backend;
    d.say('');
    d.say(
      `━━ Summary (${b.mode === 'lab' ? 'network-namespace lab' : 'loopback pair'}, default timing: HEARTBEAT_INT=200 DEADTIME=1000 SUPERVISE_INT=2000) ━━`,
    );
    const w1 = Math.max(...d.rows.map((r) => r.what.length), 10);
    const w2 = Math.max(...d.rows.map((r) => r.value.length), 8);
    d.say(`  ${'measured'.padEnd(w1)}  ${'this run'.padStart(w2)}  note`);
    d.say(`  ${'─'.repeat(w1)}  ${'─'.repeat(w2)}  ${'─'.repeat(30)}`);
    for (const r of d.rows) d.say(`  ${r.what.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note}`);
    if (b.sniffing)
      d.say(
        "  Heartbeat age in the live view: now − arrival of the peer's last heartbeat, seen on the wire by a raw-socket sniffer.",
      );
    else d.say(`  Heartbeat age in the live view is estimated from status.dat (${b.sniffNote || 'no sniffer'}).`);
  }
}
