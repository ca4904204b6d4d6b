/**
 * Hellos held until their node leads (a hello's `leaderWaitMs`): a client whose node went silent
 * asks the other nodes who leads, and each holds its answer until it leads itself or the wait is
 * over. The node that wins the election answers at that moment, so the client learns of the new
 * leader without asking again and again through the election.
 *
 * Invariants: each held hello is answered once (when its node leads, at its deadline, or never
 * when its connection closed first); the holds are bounded by the connections' in-flight
 * requests, which the client server bounds.
 *
 * Runs on: Dispatcher thread.
 */

export interface HeldHello<Connection> {
  readonly connection: Connection;
  readonly id: number;
  readonly deadlineMs: number;
}

export class HeldHellos<Connection> {
  private held: Array<HeldHello<Connection>> = [];

  hold(hello: HeldHello<Connection>): void {
    this.held.push(hello);
  }

  /** Every held hello, now to be answered (the node leads). */
  takeAll(): Array<HeldHello<Connection>> {
    return this.held.splice(0);
  }

  /** The held hellos whose wait is over at `nowMs`, now to be answered. */
  takeExpired(nowMs: number): Array<HeldHello<Connection>> {
    if (this.held.length === 0) return [];
    const expired = this.held.filter((hello) => hello.deadlineMs <= nowMs);
    if (expired.length > 0) this.held = this.held.filter((hello) => hello.deadlineMs > nowMs);
    return expired;
  }

  /** The connection closed: its held hellos go unanswered. */
  forget(connection: Connection): void {
    if (this.held.some((hello) => hello.connection === connection)) this.held = this.held.filter((hello) => hello.connection !== connection);
  }
}
