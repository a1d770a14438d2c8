// What one daemon knows needs the operator: current problems (a status file
// it cannot write, a log it cannot write, a local bus that did not start) and
// recent events (a daemon it restarted), shown by `stat` for a while.
export class Alarms {
  private readonly problems = new Map<string, string>();
  private readonly events: { at: number; text: string }[] = [];

  constructor(
    private readonly wallNow: () => number = Date.now,
    private readonly keepEventsMs = 10 * 60_000,
  ) {}

  /** Set (text) or clear (null) a current problem under `id`; true when it changed. */
  set(id: string, text: string | null): boolean {
    const before = this.problems.get(id) ?? null;
    if (text === null) this.problems.delete(id);
    else this.problems.set(id, text);
    return before !== text;
  }

  event(text: string): void {
    // The same event again within a minute (a file that stays corrupt): one entry, newest time.
    const same = this.events.find((e) => e.text === text && this.wallNow() - e.at < 60_000);
    if (same) {
      same.at = this.wallNow();
      return;
    }
    this.events.push({ at: this.wallNow(), text });
    if (this.events.length > 20) this.events.shift();
  }

  list(): string[] {
    const t = this.wallNow();
    while (this.events.length && t - this.events[0]!.at > this.keepEventsMs) this.events.shift();
    const ev = this.events.map((e) => `${e.text} (${new Date(e.at).toISOString()})`);
    return [...this.problems.values(), ...ev];
  }
}
