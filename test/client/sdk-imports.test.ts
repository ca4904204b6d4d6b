/**
 * The SDK could be published alone: every module under src/client, and everything they import in
 * turn, stays within src/client, the MessagePack codec (src/codec/msgpack.ts) and the frame codec
 * (src/net/frame-decoder.ts, with the error registry src/errors.ts it names its error values
 * from), plus `node:` builtins and the package's own npm dependencies. Reads the source files and
 * fails naming each import that leaves that set.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const srcRoot = join(repoRoot, 'src');

/** Modules outside src/client the SDK may reach (paths under src/). */
const allowedOutside = new Set(['codec/msgpack.ts', 'net/frame-decoder.ts', 'errors.ts']);

/** The specifiers a source imports or re-exports; comments (and the examples in them) are skipped. */
function importsOf(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers: string[] = [];
  const pattern = /(?:^|[^.\w])(?:import|export)\s[^'";]*?from\s*(['"])([^'"]+)\1|(?:^|[^.\w])import\s*\(?\s*(['"])([^'"]+)\3/gm;
  for (const match of text.matchAll(pattern)) specifiers.push(match[2] ?? match[4] ?? '');
  return specifiers.filter((specifier) => specifier !== '');
}

function packageDependencies(): Set<string> {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return new Set(Object.keys(manifest.dependencies ?? {}));
}

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] ?? specifier;
}

/** Every import breaking the rule, found by walking from src/client's modules. */
function sdkImportBreaches(): string[] {
  const dependencies = packageDependencies();
  const clientFiles = readdirSync(join(srcRoot, 'client')).filter((name) => name.endsWith('.ts')).map((name) => `client/${name}`);
  const seen = new Set<string>(clientFiles);
  const pending = [...clientFiles];
  const breaches: string[] = [];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    for (const specifier of importsOf(readFileSync(join(srcRoot, file), 'utf8'))) {
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('.')) {
        if (!dependencies.has(packageOf(specifier))) breaches.push(`src/${file}: '${specifier}' is not a dependency in package.json`);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
      if (!target.startsWith('client/') && !allowedOutside.has(target)) {
        breaches.push(`src/${file}: '${specifier}' reaches src/${target}, outside the SDK`);
        continue;
      }
      if (!seen.has(target)) {
        seen.add(target);
        pending.push(target);
      }
    }
  }
  return breaches;
}

describe('the SDK depends on no server code', () => {
  it('src/client reaches only src/client, the MessagePack codec and the frame codec (with the error registry)', () => {
    const breaches = sdkImportBreaches();
    expect(breaches, breaches.join('\n')).to.deep.equal([]);
  });

  it('the check sees an import from outside', () => {
    expect(importsOf("/** import { y } from 'pkg'; */\nimport { x } from '../queue/commands.js';\nexport * from './a.js';")).to.deep.equal(['../queue/commands.js', './a.js']);
    expect(packageOf('@grpc/grpc-js/build')).to.equal('@grpc/grpc-js');
    expect(packageOf('msgpackr/pack')).to.equal('msgpackr');
  });
});
