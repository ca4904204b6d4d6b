/**
 * The second tier of enqueue idempotency, as Kafka's idempotent producer: a producer id plus a
 * sequence number per enqueue. A retry of a sequence the session still remembers answers the same
 * job ids instead of making new jobs; memory grows with the producers, not with the jobs.
 *
 * Per producer, the answers of its latest `sequencesPerProducerMax` applied sequences are kept:
 * the job ids of each, as a range when they are consecutive (the usual case: new jobs of one
 * enqueue get consecutive ids), else as a list. A sequence older than every one remembered is
 * refused (the client retried something too old to tell); a sequence never applied is applied.
 * Refused enqueues are not remembered, so a retry is judged again.
 *
 * Bounded: at most the latest enqueue's `producersMax` sessions, the least recently used one
 * forgotten first (counted in `evicted`).
 *
 * Invariants: the map's order is least recently used first; a session's `sequences` are kept in
 * the order applied, at most `sequencesPerProducerMax` of them.
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

  add(answer: SequenceAnswer): void {
    if (this.answers.length >= sequencesPerProducerMax) this.answers.shift();
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

  /** Records an applied sequence, opening the session if needed and forgetting the least recently
   *  used sessions beyond `producersMax`. */
  remember(producerId: string, answer: SequenceAnswer, producersMax: number): void {
    let session = this.touch(producerId);
    if (session === undefined) {
      session = new ProducerSession();
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
