/**
 * The data-directory lock: one holder per directory (found by its real path, so a symlink does not
 * get around it), a second taker learns the holder's PID and node id, release and death free it,
 * and the lock never keeps a process alive by itself.
 *
 * Runs on: test process.
 */
import { expect } from 'chai';
import { mkdtemp, mkdir, realpath, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDataDirLock, lockSocketName, type DataDirLock, type DataDirLockOutcome } from '../../src/supervisor/data-dir-lock.js';
import { killStartedProcesses, startProcess, waitForExit } from '../support/test-cluster.js';

const lockModuleUrl = new URL('../../src/supervisor/data-dir-lock.js', import.meta.url).href;

function acquired(outcome: DataDirLockOutcome): DataDirLock {
  if (outcome.kind !== 'acquired') throw new Error(`expected the lock, got ${JSON.stringify(outcome)}`);
  return outcome.lock;
}

/** A child process that takes the lock on `dir`, prints 'locked', and then does `then`. */
function childHolding(dir: string, then: 'idle' | 'wait'): ReturnType<typeof startProcess> {
  const script = `
    const { acquireDataDirLock } = await import(${JSON.stringify(lockModuleUrl)});
    const outcome = await acquireDataDirLock(${JSON.stringify(dir)}, { node: 'child' });
    console.log(outcome.kind === 'acquired' ? 'locked' : 'not locked: ' + JSON.stringify(outcome));
    ${then === 'wait' ? 'setInterval(() => undefined, 1000);' : ''}`;
  return startProcess(['--input-type=module', '-e', script]);
}

async function untilOutput(child: ReturnType<typeof startProcess>, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!child.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no '${text}' from the child within ${timeoutMs} ms; output: ${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('data-directory lock', function () {
  this.timeout(20_000);
  let root: string;
  const held: DataDirLock[] = [];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'falcon-lock-'));
  });
  afterEach(async () => {
    await killStartedProcesses();
    await Promise.all(held.splice(0).map((lock) => lock.release()));
    await rm(root, { recursive: true, force: true });
  });

  it('lets one taker hold a directory and tells a second one the holder\'s pid and node', async () => {
    held.push(acquired(await acquireDataDirLock(root, { node: 'n1' })));
    const second = await acquireDataDirLock(root, { node: 'n1-again' });
    expect(second.kind).to.equal('held');
    if (second.kind !== 'held') return;
    expect(second.holder).to.deep.equal({ pid: process.pid, node: 'n1' });
    expect(second.realPath).to.equal(await realpath(root));
  });

  it('finds the same lock through a symlink to the directory', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await symlink(dir, join(root, 'link'));
    held.push(acquired(await acquireDataDirLock(dir, { node: 'n1' })));
    const viaLink = await acquireDataDirLock(join(root, 'link'), { node: 'n1' });
    expect(viaLink.kind).to.equal('held');
  });

  it('locks different directories independently', async () => {
    await mkdir(join(root, 'a'));
    await mkdir(join(root, 'b'));
    held.push(acquired(await acquireDataDirLock(join(root, 'a'), { node: 'a' })));
    held.push(acquired(await acquireDataDirLock(join(root, 'b'), { node: 'b' })));
  });

  it('is free again after release', async () => {
    const first = acquired(await acquireDataDirLock(root, { node: 'n1' }));
    await first.release();
    held.push(acquired(await acquireDataDirLock(root, { node: 'n1' })));
  });

  it('is free again once its holder is killed with SIGKILL', async () => {
    const child = childHolding(root, 'wait');
    await untilOutput(child, 'locked');
    const busy = await acquireDataDirLock(root, { node: 'n1' });
    expect(busy.kind).to.equal('held');
    if (busy.kind === 'held') expect(busy.holder).to.deep.equal({ pid: child.child.pid, node: 'child' });
    child.child.kill('SIGKILL');
    await waitForExit(child, 5_000);
    held.push(acquired(await acquireDataDirLock(root, { node: 'n1' })));
  });

  it('does not keep a process alive by itself', async () => {
    const child = childHolding(root, 'idle');
    expect(await waitForExit(child, 10_000), child.output()).to.equal(0);
    expect(child.output()).to.contain('locked');
  });

  it('still refuses when the holder does not say who it is', async () => {
    // A listener on the lock's name that never answers stands for a stopped (SIGSTOP) holder.
    const mute: Server = createServer(() => undefined);
    const name = lockSocketName(await realpath(root));
    await new Promise<void>((resolve) => mute.listen(name, () => resolve()));
    try {
      const outcome = await acquireDataDirLock(root, { node: 'n1', answerTimeoutMs: 100 });
      expect(outcome.kind).to.equal('held');
      if (outcome.kind === 'held') {
        expect(outcome.holder).to.equal(undefined);
        expect(outcome.why).to.contain('within 100 ms');
      }
    } finally {
      mute.close();
    }
  });

  it('reports a directory that does not exist as a failure, not a throw', async () => {
    const outcome = await acquireDataDirLock(join(root, 'missing'), { node: 'n1' });
    expect(outcome.kind).to.equal('failed');
    if (outcome.kind === 'failed') expect(outcome.reason).to.contain('ENOENT');
  });

  it('takes no lock, and says so, where there is no abstract socket namespace', async () => {
    expect(await acquireDataDirLock(root, { node: 'n1', platform: 'darwin' })).to.deep.equal({ kind: 'unsupported', platform: 'darwin' });
  });
});
