/**
 * The second tier of enqueue idempotency, as Kafka's idempotent producer: a producer id plus a
 * sequence number per enqueue. A retry of a sequence the session still remembers answers the same
 * job ids instead of making new jobs; memory grows with the producers, not with the jobs.
 *
 * Per producer, the answers of its `sequencesPerProducerMax` highest applied sequences are kept:
 * the job ids of each, as a range when they are consecutive (the usual case: new jobs of one
 * enqueue get consecutive ids), else as a list. A sequence the session may have forgotten is
 * refused (the client retried something too old to tell); a sequence never applied is applied.
 * Refused enqueues are not remembered, so a retry is judged again.
 *
 * Which sequences may have been forgotten: only a full session forgets (its lowest), so a session
 * that is not full has forgotten nothing, and a sequence it does not remember was never applied,
 * even one below every sequence it remembers. That is the start of every session after a failover:
 * the SDK's retries of sequences 0..4 race to the new leader, 2 is applied first, and the retries of
 * 0 and 1 must still be applied, not refused as older than 2. A full session refuses a sequence
 * below its lowest: every forgotten one is below it.
 *
 * Why the highest and not the latest applied: an SDK pipelines enqueues and retries them after a
 * failover, so sequences are applied out of order (45, then 42, 50, 53...). Forgetting the first
 * applied would drop 45 while 42 stays, and a retry of 45 (above 42, not remembered) would be
 * taken for new: a duplicate job. Forgetting the lowest keeps the rule exact: the lowest
 * remembered only grows, so a sequence at or above it that is not remembered was never applied.
 * (Found by the simulator, seed 188 on 5 nodes.)
 *
 * Bounded: at most the latest enqueue's `producersMax` sessions, the least recently used one
 * forgotten first (counted in `evicted`).
 *
 * A forgotten session is forgotten whole, and a producer may come back: its next first attempt
 * opens a new session, which remembers the sequence that opened it (`openingSequence`). A sequence
 * below it was issued before the opening one, so its first attempt may have been applied under the
 * forgotten session: the new session cannot tell a retry of it (enqueue-command.ts refuses one it
 * does not remember). A sequence above the opening one was issued after it and is judged by the
 * session as above.
 *
 * Invariants: the map's order is least recently used first; a session's `answers` are kept in
 * the order applied, at most `sequencesPerProducerMax` of them, the highest sequences applied;
 * a session forgets only when full, so every sequence it forgot is below its lowest remembered;
 * `openingSequence` never changes, and is at most the highest sequence remembered.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */

/** Sequences remembered per producer: an SDK keeps a handful of enqueues in flight. */
export const sequencesPerProducerMax = 8;

/** The job ids one applied sequence answered: `firstId..firstId+count-1`, or `ids` when not consecutive. */
export interface SequenceAnswer {
  readonly sequence: number;
  readonly firstId: number;
  readonly count: number;
  readonly ids: readonly number[] | undefined;
}

export class ProducerSession {
  readonly answers: SequenceAnswer[] = [];

  /** `openingSequence`: the sequence whose first attempt opened the session. */
  constructor(readonly openingSequence: number) {}

  find(sequence: number): SequenceAnswer | undefined {
    for (const answer of this.answers) if (answer.sequence === sequence) return answer;
    return undefined;
  }

  /** The lowest sequence remembered, or undefined before the first. */
  oldestSequence(): number | undefined {
    let oldest: number | undefined;
    for (const answer of this.answers) if (oldest === undefined || answer.sequence < oldest) oldest = answer.sequence;
    return oldest;
  }

  /** The lowest sequence remembered when `sequence`, not remembered, may have been applied and
   *  forgotten (the session is full and `sequence` is below its lowest); else undefined: a sequence
   *  not remembered was never applied. */
  forgottenBelow(sequence: number): number | undefined {
    if (this.answers.length < sequencesPerProducerMax) return undefined;
    const oldest = this.oldestSequence();
    return oldest !== undefined && sequence < oldest ? oldest : undefined;
  }

  /** Whether `sequence` was issued before the one that opened this session: when not remembered, a
   *  retry of it may have been applied under an earlier session of the producer, since forgotten. */
  openedAfter(sequence: number): boolean {
    return sequence < this.openingSequence;
  }

  /** Remembers `answer` (a sequence `forgottenBelow` lets through), forgetting the lowest sequence
   *  when full. */
  add(answer: SequenceAnswer): void {
    if (this.answers.length >= sequencesPerProducerMax) {
      let lowest = 0;
      for (let at = 1; at < this.answers.length; at += 1) {
        if ((this.answers[at] as SequenceAnswer).sequence < (this.answers[lowest] as SequenceAnswer).sequence) lowest = at;
      }
      this.answers.splice(lowest, 1);
    }
    this.answers.push(answer);
  }
}

/** The answer for `ids`, compact when they are consecutive. */
export function sequenceAnswer(sequence: number, ids: readonly number[]): SequenceAnswer {
  const firstId = ids[0] ?? 0;
  for (let at = 1; at < ids.length; at += 1) {
    if (ids[at] !== firstId + at) return { sequence, firstId, count: ids.length, ids: [...ids] };
  }
  return { sequence, firstId, count: ids.length, ids: undefined };
}

export function answerIds(answer: SequenceAnswer): readonly number[] {
  if (answer.ids !== undefined) return answer.ids;
  const ids = new Array<number>(answer.count);
  for (let at = 0; at < answer.count; at += 1) ids[at] = answer.firstId + at;
  return ids;
}

export class ProducerSessions {
  readonly sessions = new Map<string, ProducerSession>();
  evicted = 0;
  dedupHits = 0;

  get size(): number {
    return this.sessions.size;
  }

  /** The producer's session, made the most recently used; undefined when none. */
  touch(producerId: string): ProducerSession | undefined {
    const session = this.sessions.get(producerId);
    if (session === undefined) return undefined;
    this.sessions.delete(producerId);
    this.sessions.set(producerId, session);
    return session;
  }

  /** Records an applied sequence, opening the session at it if needed and forgetting the least
   *  recently used sessions beyond `producersMax`. */
  remember(producerId: string, answer: SequenceAnswer, producersMax: number): void {
    let session = this.touch(producerId);
    if (session === undefined) {
      session = new ProducerSession(answer.sequence);
      this.sessions.set(producerId, session);
    }
    session.add(answer);
    while (this.sessions.size > producersMax) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
      this.evicted += 1;
    }
  }
}
