/**
 * The nodes a ClusterConnection found silent (no answer within the attempt bound, or left for a
 * node that says it leads), skipped until a given time: neither a redirect nor a leader probe
 * takes the client back to one meanwhile. A node is known by the address the client reached it at
 * and, once a hello was answered there, by its node id: the client may be given one spelling of an
 * address (`127.1`, a host name) while a redirect names the node by another (the cluster file's),
 * and only the id tells that both are the same node.
 *
 * Invariant: at most one entry per address and one per node id; an entry past its time is removed
 * when next looked at.
 *
 * Runs on: any thread of a client process.
 */

export class SilentNodes {
  private readonly untilMsByAddress = new Map<string, number>();
  private readonly untilMsByNodeId = new Map<string, number>();

  /** `address` (`host:port`), and `nodeId` when known, are skipped for `forMs` from now. */
  suspect(address: string, nodeId: string | undefined, forMs: number): void {
    const untilMs = Date.now() + forMs;
    this.untilMsByAddress.set(address, untilMs);
    if (nodeId !== undefined) this.untilMsByNodeId.set(nodeId, untilMs);
  }

  addressSuspected(address: string): boolean {
    return current(this.untilMsByAddress, address);
  }

  nodeSuspected(nodeId: string): boolean {
    return current(this.untilMsByNodeId, nodeId);
  }
}

function current(untilMs: Map<string, number>, key: string): boolean {
  const until = untilMs.get(key);
  if (until === undefined) return false;
  if (until > Date.now()) return true;
  untilMs.delete(key);
  return false;
}
