/**
 * The in-memory file system models what the WAL's crash safety depends on: a power loss loses
 * file bytes not fsynced and directory entries not synced, a process crash loses nothing but the
 * open descriptors (the page cache survives) and leaves durability as it was, a full disk writes short and then fails with
 * ENOSPC, and injected faults hit exactly the call they name.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { errnoOf, syscallOf } from '../../src/wal/file-system.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';

const dir = '/disk/dir';

function createFile(fileSystem: MemoryFileSystem, name: string, content: string, syncFile: boolean, syncDirectory: boolean): number {
  const fd = fileSystem.open(`${dir}/${name}`, 'createExclusive');
  fileSystem.write(fd, Buffer.from(content), 0, content.length, 0);
  if (syncFile) fileSystem.fdatasync(fd);
  if (syncDirectory) fileSystem.syncDirectory(dir);
  return fd;
}

describe('MemoryFileSystem, the WAL tests\' disk', () => {
  it('a power loss keeps fsynced bytes in synced directories and loses everything else', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    const fd = createFile(fileSystem, 'durable', 'abc', true, true);
    fileSystem.write(fd, Buffer.from('def'), 0, 3, 3);
    createFile(fileSystem, 'unsynced-name', 'xyz', true, false);
    fileSystem.losePower();
    expect(fileSystem.listDirectory(dir)).to.deep.equal(['durable']);
    expect(fileSystem.readFileForTest(`${dir}/durable`).toString()).to.equal('abc');
  });

  it('a power loss undoes an unsynced rename and an unsynced overwrite below the synced length', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    const fd = createFile(fileSystem, 'a', 'hello', true, true);
    fileSystem.write(fd, Buffer.from('J'), 0, 1, 0);
    fileSystem.truncate(fd, 2);
    fileSystem.rename(`${dir}/a`, `${dir}/b`);
    fileSystem.losePower();
    expect(fileSystem.listDirectory(dir)).to.deep.equal(['a']);
    expect(fileSystem.readFileForTest(`${dir}/a`).toString()).to.equal('hello');
  });

  it('a torn power loss keeps a prefix of the unsynced appended bytes', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    const fd = createFile(fileSystem, 'log', 'AAAA', true, true);
    fileSystem.write(fd, Buffer.from('BBBBBBBB'), 0, 8, 4);
    fileSystem.losePower(() => 0.5);
    expect(fileSystem.readFileForTest(`${dir}/log`).toString()).to.equal('AAAABBBB');
  });

  it('a process crash keeps unsynced bytes, creations, renames and unlinks; a power loss after it still loses them', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    fileSystem.close(createFile(fileSystem, 'rewritten', 'old', true, true));
    createFile(fileSystem, 'gone', 'g', true, true);
    const fd = createFile(fileSystem, 'durable', 'abc', true, true);
    // Nothing below is synced.
    fileSystem.write(fd, Buffer.from('def'), 0, 3, 3);
    createFile(fileSystem, 'unsynced-name', 'xyz', false, false);
    fileSystem.rename(`${dir}/unsynced-name`, `${dir}/renamed`);
    fileSystem.unlink(`${dir}/gone`);
    fileSystem.close(fileSystem.open(`${dir}/rewritten`, 'createTruncate'));

    fileSystem.crashProcess();
    expect(() => fileSystem.sizeOf(fd), 'descriptors die with the process').to.throw(/EBADF/);
    expect(fileSystem.listDirectory(dir).sort()).to.deep.equal(['durable', 'renamed', 'rewritten']);
    expect(fileSystem.readFileForTest(`${dir}/durable`).toString()).to.equal('abcdef');
    expect(fileSystem.readFileForTest(`${dir}/renamed`).toString()).to.equal('xyz');
    expect(fileSystem.readFileForTest(`${dir}/rewritten`).toString()).to.equal('');

    fileSystem.losePower();
    expect(fileSystem.listDirectory(dir).sort()).to.deep.equal(['durable', 'gone', 'rewritten']);
    expect(fileSystem.readFileForTest(`${dir}/durable`).toString()).to.equal('abc');
    expect(fileSystem.readFileForTest(`${dir}/rewritten`).toString(), 'emptying a file is undone too').to.equal('old');
  });

  it('a full disk writes short, then fails with ENOSPC from write', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    fileSystem.capacityBytes = 10;
    const fd = fileSystem.open(`${dir}/f`, 'createExclusive');
    expect(fileSystem.write(fd, Buffer.alloc(16), 0, 16, 0)).to.equal(10);
    let thrown: unknown = null;
    try {
      fileSystem.write(fd, Buffer.alloc(6), 0, 6, 10);
    } catch (error) {
      thrown = error;
    }
    expect(errnoOf(thrown)).to.equal('ENOSPC');
    expect(syscallOf(thrown)).to.equal('write');
  });

  it('an injected fault skips the calls it is told to and fails the next ones with its errno', () => {
    const fileSystem = new MemoryFileSystem();
    fileSystem.makeDirectory(dir);
    const fd = createFile(fileSystem, 'f', 'x', false, false);
    fileSystem.injectFault({ operation: 'fdatasync', code: 'EIO', skipCalls: 1, times: 1 });
    fileSystem.fdatasync(fd);
    expect(() => fileSystem.fdatasync(fd)).to.throw(/EIO: injected fdatasync failure/);
    fileSystem.fdatasync(fd);
    expect(fileSystem.operationCounts.get('fdatasync')).to.equal(3);
  });
});
