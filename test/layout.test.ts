/**
 * The layout rules of DESIGN.md §9, checked on the source: no folder imports one above it, and
 * the pure cores import no `node:` I/O module. Reads every src/**\/*.ts, parses its imports, and
 * fails naming the file and the import that breaks a rule.
 *
 * The floor table below is the one the README's layout section shows; change both together.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const srcRoot = join(repoRoot, 'src');

/**
 * Floors, top to bottom. A file may import its own folder and any folder on a LOWER floor; never
 * one on its own floor or above. `.` is src/ itself (errors.ts).
 */
const floors: ReadonlyArray<readonly string[]> = [
  ['cli'],
  ['supervisor'],
  ['http', 'grpc'],
  ['actors'],
  ['metrics'],
  ['runtime'],
  ['replication', 'dispatch', 'registry', 'client'],
  ['protocol', 'faults'],
  ['raft', 'queue', 'wal', 'net', 'ring'],
  ['log', 'config', 'logging', 'codec'],
  ['.'],
];

/** Pure cores: raft/, queue/, log/ and the WAL's on-disk formats (record, hard-state slot, snapshot header, checksum). */
const pureCore = (file: string): boolean =>
  file.startsWith('raft/') || file.startsWith('queue/') || file.startsWith('log/') || ['wal/wal-record.ts', 'wal/hard-state-codec.ts', 'wal/snapshot-file.ts', 'wal/checksum.ts'].includes(file);

/**
 * What a pure core may import besides its own folder and lower floors: nothing that does I/O,
 * reads a clock or a random source, and no package (an allowlist, so that a new import must be
 * judged here). `node:zlib` is there for its crc32, a pure function.
 */
const pureCoreImports = new Set(['node:zlib']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(srcRoot, path).split('\\').join('/')] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic with a literal). */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:^|[^.\w])(?:import|export)\s[^'";]*?from\s*(['"])([^'"]+)\1|(?:^|[^.\w])import\s*\(?\s*(['"])([^'"]+)\3/gm;
  for (const match of text.matchAll(pattern)) specifiers.push(match[2] ?? match[4] ?? '');
  return specifiers.filter((specifier) => specifier !== '');
}

function folderOf(file: string): string {
  const folder = dirname(file);
  return folder === '.' ? '.' : folder.split('/')[0] ?? '.';
}

function floorOf(folder: string): number {
  return floors.findIndex((floor) => floor.includes(folder));
}

interface Breach { readonly file: string; readonly specifier: string; readonly why: string }

function layoutBreaches(): Breach[] {
  const breaches: Breach[] = [];
  for (const file of sourceFiles(srcRoot)) {
    const folder = folderOf(file);
    const floor = floorOf(folder);
    if (floor < 0) {
      breaches.push({ file, specifier: '', why: `folder ${folder}/ is on no floor: add it to the table in test/layout.test.ts and the README` });
      continue;
    }
    for (const specifier of importsOf(readFileSync(join(srcRoot, file), 'utf8'))) {
      if (!specifier.startsWith('.') && pureCore(file) && !pureCoreImports.has(specifier)) {
        breaches.push({ file, specifier, why: `a pure core imports a module outside src/ (allowed: ${[...pureCoreImports].join(', ')})` });
      }
      if (!specifier.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(file), specifier));
      if (target.startsWith('..')) {
        breaches.push({ file, specifier, why: 'imports from outside src/' });
        continue;
      }
      const targetFolder = folderOf(target);
      if (targetFolder === folder) continue;
      const targetFloor = floorOf(targetFolder);
      if (targetFloor <= floor) breaches.push({ file, specifier, why: `${folder}/ (floor ${floor + 1}) imports ${targetFolder}/ (floor ${targetFloor + 1}), which is not below it` });
    }
  }
  return breaches;
}

/** The floor table of the README's layout section, as folder lists (`src/errors.ts` as `.`). */
function readmeFloors(): string[][] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| (\d+) \| (.+) \|$/gm)];
  return rows.map((row) => [...(row[2] ?? '').matchAll(/`([^`]+)`/g)].map((cell) => {
    const name = cell[1] ?? '';
    return name === 'src/errors.ts' ? '.' : name.replace(/\/$/, '');
  }));
}

describe('the source layout', () => {
  it('no folder imports one above it; pure cores import no node: I/O module', () => {
    const breaches = layoutBreaches().map((breach) => `src/${breach.file}: '${breach.specifier}': ${breach.why}`);
    expect(breaches, breaches.join('\n')).to.deep.equal([]);
  });

  it('the README shows the floors this test checks', () => {
    expect(readmeFloors()).to.deep.equal(floors.map((floor) => [...floor]));
  });

  it('the check sees the imports it must judge', () => {
    expect(importsOf("import { a } from '../x.js';\nimport type { B } from './y.js';\nexport { c } from '../z/c.js';\nconst m = await import('../w.js');\nimport 'node:fs';\nimport { d } from \"fs\";\nimport \"pino\";"))
      .to.deep.equal(['../x.js', './y.js', '../z/c.js', '../w.js', 'node:fs', 'fs', 'pino']);
    expect(floorOf('cli')).to.be.lessThan(floorOf('supervisor'));
    expect(floorOf('raft')).to.equal(floorOf('wal'));
  });
});
