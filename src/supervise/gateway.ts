// The gateway on its own cadence (rule 1): pings overlap and may answer out of
// order; GW_FAILS failures in a row are a loss, one answer ends it.
import type { Clock } from '../daemon/effects.js';
import type { SuperviseEffect } from './events.js';
import type { Teller } from './teller.js';

export class GatewayWatch {
  failStreak = 0;
  private sent = 0;
  private answered = 0;

  constructor(
    private readonly gw: string,
    private readonly fails: number,
    unavailable: boolean, // configured, but no ICMP socket: lost from the start, loudly
  ) {
    if (gw && unavailable) this.failStreak = fails;
  }

  /** One echo now, and the next GW_INT later (they overlap: a hung ping never delays the next). */
  ping(clock: Clock, gwInt: number): SuperviseEffect[] {
    return [
      { kind: 'ping', seq: ++this.sent },
      { kind: 'arm', timer: 'gw', at: clock.mono + gwInt },
    ];
  }

  /** A ping's answer; true when it turned the gateway lost or back (told to `teller`: decide now). */
  pinged(
    seq: number,
    ok: boolean,
    error: string | null,
    teller: Teller,
    clock: Clock,
    out: SuperviseEffect[],
  ): boolean {
    if (!this.verdict(seq, ok, error, out)) return false;
    const lost = !this.ok;
    const why = lost ? `${this.fails} pings in a row without an answer` : 'the gateway answers again';
    teller.gateway(lost, `gateway ${this.gw}: ${why}`, clock, out);
    return true;
  }

  /** A verdict for ping number `seq`; true when it turns the gateway lost or back. */
  private verdict(seq: number, ok: boolean, error: string | null, out: SuperviseEffect[]): boolean {
    const prev = this.failStreak;
    if (ok) {
      // An answer clears the streak, unless a newer ping already failed.
      if (seq > this.answered || this.failStreak === 0) this.failStreak = 0;
    } else if (seq > this.answered) {
      this.failStreak++;
    }
    this.answered = Math.max(this.answered, seq);
    const g = this.failStreak;
    if (g === prev) return false;
    const gw = this.gw;
    if (g > 0 && prev === 0)
      out.push({ kind: 'log', level: 'debug', fields: { gw, error }, msg: `gateway ${gw}: no answer` });
    if (g === this.fails)
      out.push({
        kind: 'log',
        level: 'warn',
        fields: { gw, failed: g, error },
        msg: `gateway ${gw} lost: ${g} pings in a row without an answer`,
      });
    const back = g === 0 && prev >= this.fails;
    if (back)
      out.push({ kind: 'log', level: 'info', fields: { gw, failed: prev }, msg: `gateway ${gw} answers again` });
    return g === this.fails || back;
  }

  get ok(): boolean {
    return this.failStreak < this.fails;
  }
}
