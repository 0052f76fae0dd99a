import type { GovernorStore, MintRecord, SubjectState } from '../governor-store';

/**
 * The governor's counters in process memory (the memory store: one process).
 * Every operation is synchronous under the hood, so a decision is atomic.
 * `throttle` sets a token's `throttledUntil` in the memory token store.
 */
export class MemoryGovernorStore implements GovernorStore {
  private readonly mints = new Map<string, MintRecord & { subject: string }>();
  private readonly blocks = new Map<string, number>();
  private nextId = 1;

  constructor(private readonly throttle: (tokenId: string, until: Date | null) => void) {}

  async reserveMints(subjects: readonly string[], since: number, now: number, decide: (states: SubjectState[]) => boolean): Promise<string[] | null> {
    if (!decide(this.statesOf(subjects, since, now))) return null;
    return subjects.map((subject) => {
      const id = String(this.nextId++);
      this.mints.set(id, { id, subject, reservedAt: now, mintedAt: null, aliveUntil: null });
      return id;
    });
  }

  async readSubjects(subjects: readonly string[], since: number, now: number): Promise<SubjectState[]> {
    return this.statesOf([...new Set(subjects)], since, now);
  }

  private statesOf(subjects: readonly string[], since: number, now: number): SubjectState[] {
    return subjects.map((subject) => ({
      subject,
      blockedUntil: this.blocks.get(subject) ?? null,
      mints: [...this.mints.values()]
        .filter((m) => m.subject === subject && (m.mintedAt === null || m.mintedAt > since || (m.aliveUntil ?? 0) > now))
        .map(({ subject: _s, ...m }) => m),
    }));
  }

  async settleMints(ids: readonly string[], mintedAt: number, aliveUntil: number | null): Promise<void> {
    for (const id of ids) {
      const m = this.mints.get(id);
      if (m) this.mints.set(id, { ...m, mintedAt, aliveUntil });
    }
  }

  async cancelMints(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.mints.delete(id);
  }

  async blockSubject(subject: string, until: number): Promise<void> {
    this.blocks.set(subject, Math.max(this.blocks.get(subject) ?? 0, until));
  }

  async markThrottled(tokenId: string, until: Date | null): Promise<void> {
    this.throttle(tokenId, until);
  }

  async pruneMints(before: number): Promise<number> {
    let n = 0;
    for (const [id, m] of this.mints) {
      const done = m.mintedAt !== null ? m.mintedAt < before && (m.aliveUntil === null || m.aliveUntil < before) : m.reservedAt < before - 24 * 3600_000;
      if (done) {
        this.mints.delete(id);
        n++;
      }
    }
    return n;
  }
}
