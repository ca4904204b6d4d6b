/**
 * A leader's snapshot reaches a follower in bounded chunks over a link that loses messages and
 * goes down for a while: the follower ends with the leader's snapshot in force, byte for byte,
 * the stream resumes where the follower stopped instead of starting over, and no more than the
 * window of chunks is ever in flight. Real WAL engines and WAL services on both sides (in-memory
 * file systems), the replica loop's sender and receiver, a fake link and clock.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { FromWal, ToWal } from '../../src/protocol/wal.js';
import { WalService } from '../../src/actors/wal-service.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { SnapshotMessage } from '../../src/raft/raft-messages.js';
import { SnapshotReceiver } from '../../src/replication/snapshot-receiver.js';
import { SnapshotSender } from '../../src/replication/snapshot-sender.js';
import { parseSnapshotStreamMessage, type SnapshotStreamMessage } from '../../src/replication/snapshot-stream-messages.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { snapshotFileName } from '../../src/wal/snapshot-file.js';
import { appendAndFlush, entriesFor, memoryWalDir, openMemoryWal, unwrap } from '../wal/wal-test-helpers.js';

const membership = { voters: ['leader', 'follower'], learners: [] };
const chunkBytes = 1000;
const windowChunks = 4;

function dataOf(bytes: number): Buffer {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) data[i] = (i * 131) & 0xff;
  return data;
}

interface Harness {
  readonly run: (ticks: number) => void;
  readonly followerWal: WriteAheadLog;
  readonly leaderWal: WriteAheadLog;
  readonly leaderFiles: MemoryFileSystem;
  readonly delivered: SnapshotMessage[];
  readonly sender: SnapshotSender;
  readonly receiver: SnapshotReceiver;
  linkUp: boolean;
  chunkBytesSent: number;
  chunksInFlightMax: number;
}

/** Two WAL services, a sender and a receiver joined by a link that drops `dropRate` of messages. */
function harness(seed: number, dropRate: number, snapshotBytes: number): Harness {
  const random = new SeededRandom(seed);
  const events: Array<() => void> = [];
  const leaderFiles = new MemoryFileSystem();
  const leaderWal = openMemoryWal(leaderFiles).wal;
  appendAndFlush(leaderWal, entriesFor(1, 600, 3));
  unwrap(leaderWal.saveSnapshot({ index: 500, term: 3, membership, data: dataOf(snapshotBytes) }));
  const followerWal = openMemoryWal(new MemoryFileSystem()).wal;
  appendAndFlush(followerWal, entriesFor(1, 20, 1));
  unwrap(followerWal.saveSnapshot({ index: 10, term: 1, membership, data: dataOf(10) }));

  const service = (wal: WriteAheadLog, deliver: (reply: FromWal) => void): ((message: ToWal) => void) => {
    const walService = new WalService(wal, (reply) => events.push(() => deliver(reply)), (error) => expect.fail(error.message));
    return (message) => events.push(() => {
      walService.handle(message);
      walService.afterDrain();
    });
  };
  const state = { linkUp: true, chunkBytesSent: 0, chunksInFlightMax: 0, ackedBytes: 0 };
  let requestId = 0;
  // Set below: the link and the WAL replies reach them through this holder.
  const parts: { sender?: SnapshotSender; receiver?: SnapshotReceiver } = {};
  const link = (message: SnapshotStreamMessage): boolean => {
    // What the peer transport carries: a plain value, checked on arrival like a decoded frame.
    if (!state.linkUp) return false;
    if (message.type === 'snapshotChunk') {
      state.chunkBytesSent += message.bytes.byteLength;
      state.chunksInFlightMax = Math.max(state.chunksInFlightMax, Math.ceil((message.offset + message.bytes.byteLength - state.ackedBytes) / chunkBytes));
    } else state.ackedBytes = Math.max(state.ackedBytes, message.heldBytes);
    if (random.chance(dropRate)) return true;
    events.push(() => {
      const parsed = parseSnapshotStreamMessage(structuredClone(message), message.to, message.from);
      if ('code' in parsed) expect.fail(parsed.message);
      if (parsed.type === 'snapshotChunk') parts.receiver?.onChunk(parsed);
      else parts.sender?.onAck(parsed);
    });
    return true;
  };
  const leaderToWal = service(leaderWal, (reply) => {
    if (reply.type === 'snapshotChunk') parts.sender?.onWalChunk(reply);
    if (reply.type === 'walError') parts.sender?.onWalError(reply.requestId ?? -1);
  });
  const delivered: SnapshotMessage[] = [];
  const followerToWal = service(followerWal, (reply) => {
    parts.receiver?.onWalReply(reply);
  });
  const sender = new SnapshotSender({
    id: 'leader', chunkBytes, windowChunks, resendTicks: 20, attemptsMax: 1000,
    toWal: (message) => {
      leaderToWal(message);
      state.chunksInFlightMax = Math.max(state.chunksInFlightMax, 1);
    },
    sendPeer: link, failed: () => expect.fail('the stream gave up'), nextRequestId: () => ++requestId,
  });
  const receiver = new SnapshotReceiver({
    id: 'follower', writesInFlightMax: windowChunks * 2, toWal: followerToWal, sendPeer: link, warn: () => undefined,
    deliver: (message) => {
      delivered.push(message);
      // The follower's core installs it: its Ready asks the WAL to put it in force.
      if (delivered.length === 1) followerToWal({ type: 'installSnapshot', index: message.snapshot.index, term: message.snapshot.term });
      parts.receiver?.onInstalled(message.snapshot.index);
    },
  });
  parts.sender = sender;
  parts.receiver = receiver;
  const result: Harness = {
    followerWal, leaderWal, leaderFiles, delivered, sender, receiver,
    get linkUp() { return state.linkUp; },
    set linkUp(value: boolean) { state.linkUp = value; },
    get chunkBytesSent() { return state.chunkBytesSent; },
    set chunkBytesSent(value: number) { state.chunkBytesSent = value; },
    get chunksInFlightMax() { return state.chunksInFlightMax; },
    set chunksInFlightMax(value: number) { state.chunksInFlightMax = value; },
    run: (ticks) => {
      for (let tick = 0; tick < ticks; tick += 1) {
        // Events of one tick: a few, in order (so that a stream spans many ticks).
        for (let step = 0; step < 8 && events.length > 0; step += 1) (events.shift() as () => void)();
        parts.sender?.tick();
      }
    },
  };
  sender.start({ type: 'snapshot', from: 'leader', to: 'follower', term: 4, snapshot: { index: 500, term: 3, membership, data: new Uint8Array(0) } });
  return result;
}

describe('streamed snapshots between replica loops', () => {
  for (const seed of [1, 2, 3]) {
    it(`a follower receives a multi-chunk snapshot over a lossy link and installs it byte for byte (seed ${seed})`, () => {
      const snapshotBytes = 57_321;
      const h = harness(seed, 0.2, snapshotBytes);
      h.run(5_000);
      expect(h.chunksInFlightMax, 'chunks sent beyond what the follower acknowledged').to.be.at.most(windowChunks);
      expect(h.delivered.length, `seed ${seed}: the follower's core was handed the snapshot`).to.be.at.least(1);
      expect(h.delivered[0]?.snapshot).to.deep.include({ index: 500, term: 3 });
      expect(h.delivered[0]?.term).to.equal(4);
      expect(h.followerWal.snapshot?.index).to.equal(500);
      expect(Buffer.from(unwrap(h.followerWal.loadLatestSnapshot())?.data ?? []).equals(dataOf(snapshotBytes))).to.equal(true);
      expect(h.sender.activeStreams, 'the stream ended').to.equal(0);
    });
  }

  it('resumes where the follower stopped after the link was down, instead of starting over', () => {
    const snapshotBytes = 200_000;
    const h = harness(7, 0, snapshotBytes);
    h.run(40);
    const sentBeforeOutage = h.chunkBytesSent;
    expect(sentBeforeOutage, 'part of the snapshot went before the outage').to.be.within(1, snapshotBytes / 2);
    h.linkUp = false;
    h.run(50);
    h.linkUp = true;
    h.run(5_000);
    expect(h.followerWal.snapshot?.index).to.equal(500);
    expect(Buffer.from(unwrap(h.followerWal.loadLatestSnapshot())?.data ?? []).equals(dataOf(snapshotBytes))).to.equal(true);
    // Starting over would send what went before the outage twice; resuming resends at most a window.
    expect(h.chunkBytesSent).to.be.below(snapshotBytes + 200 + 2 * windowChunks * chunkBytes);
  });

  it('a new leader streaming the same snapshot file continues from the bytes the follower holds', () => {
    const h = harness(9, 0, 100_000);
    h.run(40);
    h.linkUp = false;
    h.run(2);
    h.sender.stopAll();
    const sentBefore = h.chunkBytesSent;
    h.linkUp = true;
    h.sender.start({ type: 'snapshot', from: 'leader', to: 'follower', term: 5, snapshot: { index: 500, term: 3, membership, data: new Uint8Array(0) } });
    h.run(5_000);
    expect(h.followerWal.snapshot?.index).to.equal(500);
    expect(sentBefore, 'part of the snapshot went before the new leader').to.be.within(1, 80_000);
    expect(h.chunkBytesSent - sentBefore, 'only the rest of the file, plus the first window that asked').to.be.below(100_200 - sentBefore + (windowChunks + 1) * chunkBytes);
  });

  it('newer snapshots taken on the leader mid-stream do not end the stream: the file it reads stays until the stream ends', () => {
    const snapshotBytes = 100_000;
    const h = harness(11, 0.1, snapshotBytes);
    h.run(40);
    expect(h.chunkBytesSent, 'part of the snapshot went before the newer snapshots').to.be.within(1, snapshotBytes / 2);
    // What the leader's replica loop does while the stream runs: two local snapshots, each put in force.
    appendAndFlush(h.leaderWal, entriesFor(601, 100, 3));
    unwrap(h.leaderWal.saveSnapshot({ index: 590, term: 3, membership, data: dataOf(50) }));
    h.run(40);
    unwrap(h.leaderWal.saveSnapshot({ index: 650, term: 3, membership, data: dataOf(60) }));
    h.run(5_000);
    expect(h.delivered.length, 'the follower was handed the streamed snapshot').to.be.at.least(1);
    expect(h.followerWal.snapshot?.index).to.equal(500);
    expect(Buffer.from(unwrap(h.followerWal.loadLatestSnapshot())?.data ?? []).equals(dataOf(snapshotBytes))).to.equal(true);
    expect(h.sender.activeStreams, 'the stream ended').to.equal(0);
    expect(h.sender.counters.streamsFailed).to.equal(0);
    // Once no stream reads it, only the snapshot in force is left on the leader's disk.
    const snapshotFiles = h.leaderFiles.listDirectory(memoryWalDir).filter((name) => name.startsWith('snapshot-'));
    expect(snapshotFiles).to.deep.equal([snapshotFileName(650)]);
    expect(unwrap(h.leaderWal.loadLatestSnapshot())?.index).to.equal(650);
  });

  it('holds each stream\'s snapshot in the WAL from its start to its end, and names the lowest one streamed', () => {
    const holds: string[] = [];
    const sender = new SnapshotSender({
      id: 'leader', chunkBytes, windowChunks, resendTicks: 2, attemptsMax: 1,
      toWal: (message) => {
        if (message.type === 'holdSnapshot' || message.type === 'releaseSnapshot') holds.push(`${message.type} ${message.index}`);
      },
      sendPeer: () => true, failed: () => undefined, nextRequestId: (() => { let id = 0; return () => ++id; })(),
    });
    const snapshotTo = (to: string, index: number, term = 4): SnapshotMessage =>
      ({ type: 'snapshot', from: 'leader', to, term, snapshot: { index, term: 3, membership, data: new Uint8Array(0) } });
    expect(sender.lowestStreamedIndex).to.equal(null);
    sender.start(snapshotTo('f1', 500));
    sender.start(snapshotTo('f1', 500, 5));
    sender.start(snapshotTo('f2', 450));
    expect(sender.lowestStreamedIndex).to.equal(450);
    sender.start(snapshotTo('f1', 600));
    expect(holds).to.deep.equal(['holdSnapshot 500', 'holdSnapshot 450', 'releaseSnapshot 500', 'holdSnapshot 600']);
    // No progress: after its resends the stream to f2 ends, and its hold with it.
    for (let tick = 0; tick < 6; tick += 1) sender.tick();
    expect(holds.filter((line) => line.startsWith('release')).sort()).to.deep.equal(['releaseSnapshot 450', 'releaseSnapshot 500', 'releaseSnapshot 600']);
    expect(sender.lowestStreamedIndex).to.equal(null);
    sender.start(snapshotTo('f3', 700));
    sender.stopAll();
    expect(holds.slice(-2)).to.deep.equal(['holdSnapshot 700', 'releaseSnapshot 700']);
    expect(sender.activeStreams).to.equal(0);
  });

  it('a chunk past the end of its file, or above the chunk bound, closes the connection instead of reaching the WAL', () => {
    const chunk = { type: 'snapshotChunk', from: 'leader', to: 'follower', term: 4, index: 500, fileBytes: 100, checksum: 1, offset: 90, bytes: new Uint8Array(20) };
    expect(parseSnapshotStreamMessage(chunk, 'follower', 'leader')).to.have.property('code', 'MALFORMED_FRAME');
    expect(parseSnapshotStreamMessage({ ...chunk, offset: 0, fileBytes: 1 << 30, bytes: new Uint8Array((1 << 20) + 1) }, 'follower', 'leader'))
      .to.have.property('code', 'MALFORMED_FRAME');
    expect(parseSnapshotStreamMessage({ ...chunk, offset: 0 }, 'follower', 'intruder')).to.have.property('code', 'MALFORMED_FRAME');
    expect(parseSnapshotStreamMessage({ ...chunk, offset: 80 }, 'follower', 'leader')).to.not.have.property('code');
  });
});
