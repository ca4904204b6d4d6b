/**
 * `npm run bench:snapshot`: a 200 MB snapshot streamed from a leader process to a follower process
 * over a real TCP socket and real files, with the production pieces: the WAL engine and WAL
 * service on each side, the leader loop's SnapshotSender (reading its snapshot file in 1 MiB
 * chunks, a window of 4), the follower loop's SnapshotReceiver (writing an incoming temp file,
 * fsync, verify, install) and the restore of a state machine from the installed file chunk by
 * chunk (SnapshotRestore into a writer that checksums and drops each chunk), MessagePack frames
 * as the peer transport sends them. The follower samples its RSS every 20 ms; the leader keeps
 * committing (append + fdatasync of a 64-entry batch every 2 ms to its own WAL) on the same
 * thread that serves the stream, and reports how many batches it committed meanwhile and its
 * longest gap between two commits.
 *
 * What it does not show: a whole cluster (the leader's commits are its own WAL's, not a quorum's).
 * Prints one JSON line at the end.
 *
 * Runs on: two processes (this script as leader, and as `--follower <port>`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import type { FromWal, ToWal } from '../src/protocol/wal.js';
import { WalService } from '../src/actors/wal-service.js';
import { decode, encode } from '../src/codec/msgpack.js';
import { FrameDecoder, encodeFrame } from '../src/net/frame-decoder.js';
import { SnapshotRestore } from '../src/replication/snapshot-pumps.js';
import { SnapshotReceiver } from '../src/replication/snapshot-receiver.js';
import { SnapshotSender } from '../src/replication/snapshot-sender.js';
import { parseSnapshotStreamMessage, type SnapshotStreamMessage } from '../src/replication/snapshot-stream-messages.js';
import { snapshotChunkBytesMax } from '../src/log/state-machine.js';
import { WriteAheadLog } from '../src/wal/wal.js';

const snapshotBytes = Number(process.env['SNAPSHOT_MB'] ?? 200) * 1_000_000;
const frameBytesMax = 16 * 1024 * 1024;
const membership = { voters: ['leader', 'follower'], learners: [] };
const snapshotIndex = 1000;
const tickMs = 10;
const mebibyte = 1024 * 1024;

function check<T>(outcome: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!outcome.ok) throw new Error(outcome.error.message);
  return outcome.value;
}

/** A WAL service whose replies come back on a later turn, like the WAL writer thread's. */
function walLink(wal: WriteAheadLog, onReply: (reply: FromWal) => void): (message: ToWal) => void {
  const service = new WalService(wal, (reply) => setImmediate(() => onReply(reply)), (error) => {
    throw new Error(error.message);
  });
  return (message) => {
    service.handle(message);
    service.afterDrain();
  };
}

function peerLink(socket: Socket, onMessage: (value: unknown) => void): (message: SnapshotStreamMessage) => boolean {
  const decoder = new FrameDecoder(frameBytesMax);
  socket.on('data', (data) => {
    const error = decoder.push(data, (body) => onMessage(decode(body)));
    if (error !== undefined) throw new Error(error.message);
  });
  return (message) => {
    socket.write(encodeFrame(encode(message)));
    return true;
  };
}

async function leader(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'falcon-snapshot-leader-'));
  const { wal } = WriteAheadLog.open(dir, {});
  const entry = (index: number): { index: number; term: number; type: number; data: Uint8Array } => ({ index, term: 1, type: 1, data: new Uint8Array(100) });
  check(wal.append(Array.from({ length: snapshotIndex }, (_, position) => entry(position + 1))));
  check(wal.flush());
  const writeStartedMs = performance.now();
  check(wal.beginSnapshot({ index: snapshotIndex, term: 1, membership }));
  const pattern = randomBytes(snapshotChunkBytesMax);
  for (let written = 0; written < snapshotBytes;) {
    const bytes = Math.min(snapshotChunkBytesMax, snapshotBytes - written);
    pattern.writeUInt32LE(written, 0);
    check(wal.appendSnapshotChunk(snapshotIndex, pattern.subarray(0, bytes)));
    written += bytes;
  }
  check(wal.finishSnapshot(snapshotIndex));
  const snapshotWriteMs = performance.now() - writeStartedMs;

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--follower', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let childOutput = '';
  child.stdout.on('data', (data: Buffer) => { childOutput += data.toString('utf8'); });
  const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve));
  socket.setNoDelay(true);

  let requestId = 0;
  const holder: { sender?: SnapshotSender } = {};
  const toWal = walLink(wal, (reply) => {
    if (reply.type === 'snapshotChunk') holder.sender?.onWalChunk(reply);
  });
  const send = peerLink(socket, (value) => {
    const message = parseSnapshotStreamMessage(value, 'leader', 'follower');
    if ('code' in message) throw new Error(message.message);
    if (message.type === 'snapshotChunkAck') holder.sender?.onAck(message);
  });
  const sender = new SnapshotSender({
    id: 'leader', chunkBytes: snapshotChunkBytesMax, windowChunks: 4, resendTicks: 50, attemptsMax: 20, toWal, sendPeer: send,
    failed: () => { throw new Error('the stream failed'); }, nextRequestId: () => ++requestId,
  });
  holder.sender = sender;
  // The follower says when its baseline RSS is taken; then the stream starts.
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const ticker = setInterval(() => sender.tick(), tickMs);
  let nextIndex = snapshotIndex + 1;
  let commits = 0;
  let lastCommitMs = performance.now();
  let commitGapMaxMs = 0;
  const committer = setInterval(() => {
    check(wal.append(Array.from({ length: 64 }, (_, position) => entry(nextIndex + position))));
    check(wal.flush());
    nextIndex += 64;
    commits += 1;
    const now = performance.now();
    commitGapMaxMs = Math.max(commitGapMaxMs, now - lastCommitMs);
    lastCommitMs = now;
  }, 2);
  const streamStartedMs = performance.now();
  lastCommitMs = streamStartedMs;
  sender.start({ type: 'snapshot', from: 'leader', to: 'follower', term: 2, snapshot: { index: snapshotIndex, term: 1, membership, data: new Uint8Array(0) } });
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const streamMs = performance.now() - streamStartedMs;
  clearInterval(ticker);
  clearInterval(committer);
  socket.destroy();
  server.close();
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const lines = childOutput.trim().split('\n');
  const follower = JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, number>;
  if (exitCode !== 0) throw new Error(`follower exited with ${exitCode}`);
  const result = {
    bench: 'snapshot-stream',
    snapshotBytes,
    snapshotWriteMs: Math.round(snapshotWriteMs),
    streamAndRestoreMs: Math.round(streamMs),
    followerRssBaselineMb: Math.round((follower['rssBaselineBytes'] ?? 0) / mebibyte),
    followerRssMaxMb: Math.round((follower['rssMaxBytes'] ?? 0) / mebibyte),
    followerRssGrowthMb: Math.round((((follower['rssMaxBytes'] ?? 0) - (follower['rssBaselineBytes'] ?? 0)) / mebibyte) * 10) / 10,
    followerInstallMs: follower['installMs'],
    followerRestoreMs: follower['restoreMs'],
    restoredBytes: follower['restoredBytes'],
    leaderCommitBatchesDuringStream: commits,
    leaderCommitBatchesPerSec: Math.round(commits / (streamMs / 1000)),
    leaderCommitGapMaxMs: Math.round(commitGapMaxMs * 10) / 10,
  };
  console.log(`follower RSS ${result.followerRssBaselineMb} MB -> max ${result.followerRssMaxMb} MB (growth ${result.followerRssGrowthMb} MB, bound 64 MB); `
    + `stream + restore ${result.streamAndRestoreMs} ms; leader committed ${commits} batches of 64 meanwhile (longest gap ${result.leaderCommitGapMaxMs} ms)`);
  console.log(JSON.stringify(result));
  if (result.restoredBytes !== snapshotBytes) throw new Error(`restored ${result.restoredBytes} bytes, expected ${snapshotBytes}`);
}

async function follower(port: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'falcon-snapshot-follower-'));
  const { wal } = WriteAheadLog.open(dir, {});
  const socket = await new Promise<Socket>((resolve) => {
    const opened = connect(port, '127.0.0.1', () => resolve(opened));
  });
  socket.setNoDelay(true);
  let rssMaxBytes = 0;
  const sampler = setInterval(() => { rssMaxBytes = Math.max(rssMaxBytes, process.memoryUsage.rss()); }, 20);
  let requestId = 0;
  let installStartedMs = 0;
  let installMs = 0;
  const holder: { receiver?: SnapshotReceiver; restore?: SnapshotRestore } = {};
  const finished = new Promise<{ restoredBytes: number; restoreMs: number }>((resolve) => {
    const toWal = walLink(wal, (reply) => {
      if (reply.type === 'snapshotChunk') {
        holder.restore?.onWalChunk(reply);
        return;
      }
      if (reply.type === 'snapshotSaved') {
        installMs = performance.now() - installStartedMs;
        const restoreStartedMs = performance.now();
        let restoredBytes = 0;
        let checksum = 0;
        holder.restore = new SnapshotRestore(reply.snapshot.index, {
          write: (chunk) => {
            restoredBytes += chunk.byteLength;
            checksum = crc32(chunk, checksum);
          },
          finish: () => resolve({ restoredBytes, restoreMs: performance.now() - restoreStartedMs }),
        }, toWal, snapshotChunkBytesMax, () => ++requestId, () => undefined);
        return;
      }
      holder.receiver?.onWalReply(reply);
    });
    const send = peerLink(socket, (value) => {
      const message = parseSnapshotStreamMessage(value, 'follower', 'leader');
      if ('code' in message) throw new Error(message.message);
      if (message.type === 'snapshotChunk') holder.receiver?.onChunk(message);
    });
    holder.receiver = new SnapshotReceiver({
      id: 'follower', writesInFlightMax: 8, toWal, sendPeer: send, warn: (_fields, text) => process.stderr.write(`${text}\n`),
      deliver: (message) => {
        // The core would install it (its Ready); here we do what the loop does then.
        if (installStartedMs !== 0) return;
        installStartedMs = performance.now();
        holder.receiver?.onInstalled(message.snapshot.index);
        toWal({ type: 'installSnapshot', index: message.snapshot.index, term: message.snapshot.term });
      },
    });
  });
  // Baseline: everything set up, nothing received.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const rssBaselineBytes = process.memoryUsage.rss();
  rssMaxBytes = rssBaselineBytes;
  process.stdout.write('ready\n');
  const { restoredBytes, restoreMs } = await finished;
  clearInterval(sampler);
  rssMaxBytes = Math.max(rssMaxBytes, process.memoryUsage.rss());
  socket.destroy();
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ rssBaselineBytes, rssMaxBytes, installMs: Math.round(installMs), restoreMs: Math.round(restoreMs), restoredBytes })}\n`);
}

if (process.argv[2] === '--follower') await follower(Number(process.argv[3]));
else await leader();
