/**
 * When the replica loop takes a snapshot (src/replication/local-snapshots.ts): `snapshotEveryBytes`
 * bounds the log on disk, so what counts is each applied entry's WAL record (its payload plus the
 * record header), not its payload alone; with small jobs the header is most of the log.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { LogEntry } from '../../src/log/log-entry.js';
import type { ToWal } from '../../src/protocol/wal.js';
import type { RaftNode } from '../../src/raft/raft-node.js';
import type { ReplicaHost } from '../../src/replication/replica-loop-options.js';
import { LocalSnapshots } from '../../src/replication/local-snapshots.js';
import type { StateMachine } from '../../src/log/state-machine.js';
import { recordBytesFor } from '../../src/wal/wal-record.js';

const payloadBytes = 8;
const entriesApplied = 10;

function entries(count: number): LogEntry[] {
  return Array.from({ length: count }, (_, at) => ({ term: 1, index: at + 1, type: 0, data: new Uint8Array(payloadBytes) }));
}

/** LocalSnapshots over a state machine at `entriesApplied` and a core that may compact it all. */
function snapshotsWithBytesMax(bytesSinceSnapshotMax: number): { snapshots: LocalSnapshots; toWal: ToWal[]; core: RaftNode } {
  const toWal: ToWal[] = [];
  const machine = {
    appliedIndex: entriesApplied,
    snapshot: () => ({ index: entriesApplied, next: () => null }),
  } as unknown as StateMachine<unknown>;
  const host = { toWal: (message: ToWal) => { toWal.push(message); } } as unknown as ReplicaHost;
  const snapshots = new LocalSnapshots({
    host, machine, voters: ['n1'], trigger: { entriesSinceSnapshotMax: 1_000_000, bytesSinceSnapshotMax },
    chunkBytes: 1024, windowChunks: 1, counters: { snapshotsTaken: 0 }, expectSaved: () => undefined,
  });
  const core = { compactableIndex: () => entriesApplied, logTerm: () => 1 } as unknown as RaftNode;
  return { snapshots, toWal, core };
}

describe('taking a snapshot by the bytes of the log', () => {
  const logBytes = entriesApplied * recordBytesFor(payloadBytes);

  it('counts each applied entry at its record size, so small entries reach snapshotEveryBytes as the log on disk does', () => {
    const { snapshots, toWal, core } = snapshotsWithBytesMax(logBytes);
    snapshots.begin(0);
    snapshots.onApplied(entries(entriesApplied));
    snapshots.maybeTake(core);
    expect(toWal.map((message) => message.type), `${entriesApplied} records of ${recordBytesFor(payloadBytes)} bytes reach ${logBytes}`)
      .to.include('beginSnapshot');
  });

  it('is not due a byte before', () => {
    const { snapshots, toWal, core } = snapshotsWithBytesMax(logBytes + 1);
    snapshots.begin(0);
    snapshots.onApplied(entries(entriesApplied));
    snapshots.maybeTake(core);
    expect(toWal).to.deep.equal([]);
  });
});
