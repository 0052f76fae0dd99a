/**
 * The governor's counters (`src/providers/governor.ts`), kept in the store so
 * that every gateway process on one database counts the same mints. A
 * subject is what a limit is counted per: a token (`t:<id>`, its refresh
 * token) or a client (`g:<provider>:<hash>`, grant exchanges). Instants are
 * epoch milliseconds of the gateways' clocks. Errors are `TokenStoreError`s
 * (operation `governor`).
 */

/** One mint (a token the provider issued, or is issuing right now) as the governor counts it. */
export interface MintRecord {
  id: string;
  /** When the request was about to be sent. */
  reservedAt: number;
  /** When its response arrived; null while in flight (or when its process died before the answer). */
  mintedAt: number | null;
  /** Until when the minted token counts as alive; null while in flight. */
  aliveUntil: number | null;
}

/** What the governor reads of a subject before it decides. */
export interface SubjectState {
  subject: string;
  /** Its mints still in flight, minted after `since`, or alive at `now`. */
  mints: MintRecord[];
  /** Until when the provider refuses it (after `access_denied`); null when not blocked. */
  blockedUntil: number | null;
}

export interface GovernorStore {
  /**
   * In one transaction that locks the subjects (every process on the
   * database decides in turn, so two can never both take the last slot):
   * reads each subject's state, calls `decide`, and when it returns true
   * records one in-flight mint per subject, reserved at `now`.
   * @returns the ids of the recorded mints (one per subject, in order), or null when `decide` said no.
   */
  reserveMints(subjects: readonly string[], since: number, now: number, decide: (states: SubjectState[]) => boolean): Promise<string[] | null>;

  /**
   * Reads the states of many subjects at once, without a lock (for showing:
   * a decision uses `reserveMints`): one query for all their mints, one for
   * their blocks, whatever their number.
   * @returns one state per distinct subject, in the order given; a subject never counted has no mints and no block.
   */
  readSubjects(subjects: readonly string[], since: number, now: number): Promise<SubjectState[]>;

  /** Records when the mints' response arrived, and until when each minted token counts as alive (null: not counted). */
  settleMints(ids: readonly string[], mintedAt: number, aliveUntil: number | null): Promise<void>;

  /** Forgets in-flight mints that surely minted nothing (the provider refused, or the request never left). */
  cancelMints(ids: readonly string[]): Promise<void>;

  /** Refuses every mint of a subject until `until` (a later block already recorded is kept). */
  blockSubject(subject: string, until: number): Promise<void>;

  /** Sets (or clears, with null) a token's `throttledUntil`, without a new version: a state of the governor, not a write of the token. */
  markThrottled(tokenId: string, until: Date | null): Promise<void>;

  /** Deletes mints that count for nothing any more: minted and no longer alive before `before`, or in flight since a day before it. @returns how many. */
  pruneMints(before: number): Promise<number>;
}
