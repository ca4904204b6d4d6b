/**
 * The queue's entry codec and what apply does with an entry it cannot read: every command
 * round-trips as plain MessagePack (readable by an independent library), a bad field is refused
 * naming the command's position and the field, an unknown version is UNSUPPORTED_VERSION, payloads
 * decode as views (no copy per job), and apply stops (throws naming the index) rather than diverge.
 * Snapshots are chunked, byte-identical for equal states, and refuse a foreign body.
 *
 * Runs on: the mocha process.
 */
import { decode as independentDecode } from '@msgpack/msgpack';
import { expect } from 'chai';
import { isFalconError } from '../../src/errors.js';
import { encode } from '../../src/codec/msgpack.js';
import { readWholeSnapshot, restoreWhole } from '../../src/log/state-machine.js';
import { jobsPerEntryMax, queueFormatVersion, type QueueCommand, type QueueEntry } from '../../src/queue/commands.js';
import { decodeQueueEntry, encodeQueueEntry } from '../../src/queue/entry-codec.js';
import { QueueStateMachine } from '../../src/queue/queue-state-machine.js';
import { queueSnapshotChunkBytes } from '../../src/queue/snapshot-records.js';
import { enqueueCommand, payloadOf, QueueDriver, testDefaults, testLimits } from './queue-driver.js';

const everyCommand: readonly QueueCommand[] = [
  enqueueCommand('q', [{ payload: payloadOf('a'), priority: -3, delayMs: 5, key: 'k', contentType: 1 }], { producer: { id: 'p', sequence: 1 } }),
  { type: 'lease', queue: 'q', jobsMax: 2, bytesMax: 1_048_576, leaseMs: 100, workerId: '' },
  { type: 'ack', jobId: 1, token: 2, result: payloadOf('r') },
  { type: 'nack', jobId: 1, token: 2, error: 'e', retryable: true, jitter: 0.5, delayMs: 3 },
  { type: 'extend', jobId: 1, token: 2, leaseMs: 9 },
  { type: 'expireLeases', graceMs: 1, jitterSeed: 2 },
  { type: 'registerWorker', workerId: 'w', queues: ['q'], capacity: 1 },
  { type: 'releaseWorker', workerId: 'w', reason: 'goodbye', jitterSeed: 3 },
  { type: 'cancel', jobId: 1 },
  { type: 'pauseQueue', queue: 'q' },
  { type: 'resumeQueue', queue: 'q' },
  { type: 'redrive', queue: 'q', jobsMax: 1 },
  { type: 'purge', queue: 'q', set: 'dead' },
];

describe('queue entry codec', () => {
  it('round-trips every command as plain MessagePack, with payloads as views into the entry', () => {
    const entry: QueueEntry = { v: queueFormatVersion, atMs: 5, commands: everyCommand };
    const bytes = encodeQueueEntry(entry);
    expect((independentDecode(bytes) as QueueEntry).commands).to.have.length(everyCommand.length);
    const absentField = encodeQueueEntry({ v: queueFormatVersion, atMs: 5, commands: [{ type: 'ack', jobId: 1, token: 2, result: undefined }] });
    expect(JSON.stringify(independentDecode(absentField))).to.equal('{"v":1,"atMs":5,"commands":[{"type":"ack","jobId":1,"token":2}]}');
    const decoded = decodeQueueEntry(bytes);
    if (isFalconError(decoded)) expect.fail(decoded.message);
    expect(decoded.commands.map((command) => command.type)).to.deep.equal(everyCommand.map((command) => command.type));
    const payload = (decoded.commands[0] as unknown as { jobs: { payload: Uint8Array }[] }).jobs[0]?.payload;
    expect(payload?.buffer).to.equal((bytes as Buffer).buffer);
    expect(new TextDecoder().decode(payload)).to.equal('a');
  });

  it('refuses a bad field naming the command position, type and field; an unknown version is UNSUPPORTED_VERSION', () => {
    const bad = encode({ v: queueFormatVersion, atMs: 5, commands: [everyCommand[1], { type: 'ack', jobId: 0, token: 1 }] });
    expect(decodeQueueEntry(bad)).to.deep.equal({ code: 'INVALID_ARGUMENT', message: 'queue entry command [1] (ack) jobId is not a safe integer ≥ 1' });
    const nested = encode({ v: queueFormatVersion, atMs: 5, commands: [{ ...everyCommand[0], jobs: [{ payload: 'text' }] }] });
    expect(decodeQueueEntry(nested)).to.deep.include({ message: 'queue entry command [0] (enqueue) jobs[0].payload is not a byte array' });
    expect(decodeQueueEntry(encode({ v: queueFormatVersion, atMs: 5, commands: [{ type: 'teleport' }] }))).to.deep.include({ code: 'INVALID_ARGUMENT' });
    expect(decodeQueueEntry(encode({ v: 2, atMs: 5, commands: [] }))).to.deep.include({ code: 'UNSUPPORTED_VERSION' });
    expect(decodeQueueEntry(new Uint8Array([0x81, 0xa1]))).to.deep.include({ code: 'INVALID_ARGUMENT' });
  });

  it('writes the defaults and limits its enqueues share once, and gives them back to each enqueue', () => {
    const enqueues = Array.from({ length: 50 }, (_, at) => enqueueCommand('q', [{ payload: payloadOf(`j${at}`) }]));
    const shared = encodeQueueEntry({ v: queueFormatVersion, atMs: 7, commands: enqueues });
    const own = encodeQueueEntry({ v: queueFormatVersion, atMs: 7, commands: enqueues.map((command) => ({ ...command, defaults: { ...command.defaults } })) });
    expect(shared.byteLength, 'bytes with the settings written once').to.be.below(own.byteLength / 3);
    const decoded = decodeQueueEntry(shared) as QueueEntry;
    for (const command of decoded.commands) expect(command).to.deep.include({ defaults: testDefaults, limits: testLimits });
    const bare = encode({ v: queueFormatVersion, atMs: 7, commands: [{ type: 'enqueue', queue: 'q', jobs: [{ payload: payloadOf('x') }] }] });
    expect(decodeQueueEntry(bare)).to.deep.include({ code: 'INVALID_ARGUMENT' });
    expect((decodeQueueEntry(bare) as { message: string }).message).to.match(/has no defaults, and neither has the entry/);
  });

  it('refuses an entry whose enqueues hold more than jobsPerEntryMax jobs together', () => {
    const half = Array.from({ length: jobsPerEntryMax / 2 + 1 }, () => ({ payload: new Uint8Array(0) }));
    const result = decodeQueueEntry(encodeQueueEntry({ v: queueFormatVersion, atMs: 1, commands: [enqueueCommand('q', half), enqueueCommand('q', half)] }));
    expect(result).to.deep.include({ code: 'INVALID_ARGUMENT' });
    expect((result as { message: string }).message).to.contain('command [1] (enqueue)').and.contain(`jobsPerEntryMax ${jobsPerEntryMax}`);
  });

  it('makes apply stop, naming the index, on an entry it cannot read or of an unknown version', () => {
    const machine = new QueueStateMachine();
    expect(() => machine.apply([{ term: 1, index: 1, type: 0, data: encode({ v: 9, atMs: 1, commands: [] }) }]))
      .to.throw(/index 1 .*UNSUPPORTED_VERSION/);
    expect(() => machine.apply([{ term: 1, index: 1, type: 0, data: encode({ v: 1, atMs: -1, commands: [] }) }]))
      .to.throw(/index 1 .*atMs/);
    expect(machine.apply([{ term: 1, index: 1, type: 2, data: new Uint8Array(0) }])).to.deep.equal([[]]);
    expect(machine.appliedIndex).to.equal(1);
  });
});

describe('queue snapshot', () => {
  it('is cut into bounded chunks, byte-identical for the same state, and restores to a state with the same future', () => {
    const driver = new QueueDriver();
    const big = new Uint8Array(4096).fill(7);
    for (let round = 0; round < 100; round += 1) driver.enqueue(`q${round % 3}`, [{ payload: big, key: `k${round}` }, { payload: payloadOf('s'), delayMs: 10 }], { producer: { id: `p${round % 5}`, sequence: round } });
    driver.lease('q0', 5, 'w');
    const reader = driver.machine.snapshot();
    const chunks: Uint8Array[] = [];
    for (let chunk = reader.next(); chunk !== null; chunk = reader.next()) chunks.push(chunk);
    expect(chunks.length).to.be.greaterThan(1);
    expect(chunks.slice(0, -1).every((chunk) => chunk.byteLength === queueSnapshotChunkBytes)).to.equal(true);
    driver.enqueue('q0', [{ payload: big }]);
    const original = readWholeSnapshot(driver.machine.snapshot());
    const copy = driver.restoredCopy();
    expect(Buffer.from(readWholeSnapshot(copy.snapshot())).equals(Buffer.from(original))).to.equal(true);
    const other = new QueueDriver();
    other.machine = copy;
    driver.advance(20);
    other.advance(20);
    expect(other.lease('q1', 10)).to.deep.equal(driver.lease('q1', 10));
    expect(other.machine.counters).to.deep.equal(driver.machine.counters);
  });

  it('gives the bytes of the state at the call even when entries are applied while it is read (once prepared)', () => {
    const driver = new QueueDriver();
    driver.enqueue('q', [{ payload: payloadOf('a') }]);
    const before = readWholeSnapshot(driver.machine.snapshot());
    const reader = driver.machine.snapshot();
    for (let slices = 0; reader.prepare?.() === false; slices += 1) expect(slices).to.be.below(10);
    driver.enqueue('q', [{ payload: payloadOf('b') }]);
    driver.lease('q');
    expect(reader.index).to.equal(1);
    expect(Buffer.from(readWholeSnapshot(reader)).equals(Buffer.from(before))).to.equal(true);
  });

  it('captures a large state in slices, and refuses to go on if an entry is applied before it is whole', () => {
    const driver = new QueueDriver();
    for (let batch = 0; batch < 40; batch += 1) driver.enqueue('q', Array.from({ length: 256 }, (_, at) => ({ payload: payloadOf(`${batch}.${at}`) })));
    const whole = readWholeSnapshot(driver.machine.snapshot());
    const reader = driver.machine.snapshot();
    let slices = 1;
    while (reader.prepare?.() === false) slices += 1;
    expect(slices, 'slices for 10,240 jobs').to.be.greaterThan(1);
    expect(Buffer.from(readWholeSnapshot(reader)).equals(Buffer.from(whole))).to.equal(true);
    const interrupted = driver.machine.snapshot();
    expect(interrupted.prepare?.()).to.equal(false);
    driver.enqueue('q', [{ payload: payloadOf('late') }]);
    expect(() => interrupted.prepare?.()).to.throw(/applied up to .* while its snapshot at .* was being captured/);
  });

  it('refuses a body that is not a queue snapshot, or of an unknown version', () => {
    expect(() => restoreWhole(new QueueStateMachine(), 0, encodeRecord(['something-else', 1]))).to.throw(/not a queue snapshot/);
    expect(() => restoreWhole(new QueueStateMachine(), 0, encodeRecord(['falcon-queue', 99]))).to.throw(/format version 99/);
  });
});

function encodeRecord(value: unknown): Uint8Array {
  const body = encode(value);
  const record = new Uint8Array(4 + body.byteLength);
  new DataView(record.buffer).setUint32(0, body.byteLength);
  record.set(body, 4);
  return record;
}
