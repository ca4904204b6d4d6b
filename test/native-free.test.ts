/**
 * Native-free, both halves (see native-free.md): no package of the production tree ships or builds
 * a native addon we rely on, and a running node with all actors and its gRPC port up has no
 * `.node` object mapped.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './support/free-port.js';
import { createTestCluster, falconNodeEntry, removeTestCluster, startProcess, waitForHttp, type TestCluster } from './support/test-cluster.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Optional packages that carry a native binary we never load (native-free.md says why). */
const neverLoadedOptionalNatives = [
  /(^|\/)node_modules\/msgpackr-extract$/, /(^|\/)node_modules\/@msgpackr-extract\/[^/]+$/,
  /(^|\/)node_modules\/@napi-rs\/nice(-[^/]+)?$/,
];

interface LockPackage {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly devOptional?: boolean;
  readonly hasInstallScript?: boolean;
}

/** Files below `dir` (bounded depth) whose names say "native": `.node` binaries and `binding.gyp`. */
function nativeFilesIn(dir: string, depthMax = 6): string[] {
  const found: string[] = [];
  const visit = (current: string, depth: number): void => {
    if (depth > depthMax) return;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) visit(path, depth + 1);
      else if (entry.name.endsWith('.node') || entry.name === 'binding.gyp') found.push(path);
    }
  };
  visit(dir, 0);
  return found;
}

describe('native-free', function () {
  this.timeout(60_000);

  it('no package of the production dependency tree ships or builds a native addon', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
    const deniedScripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    const offenders: string[] = [];
    let checked = 0;
    for (const [path, info] of Object.entries(lock.packages)) {
      if (path === '' || info.dev === true) continue;
      const dir = join(repoRoot, path);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      checked += 1;
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; gypfile?: boolean; scripts?: Record<string, string> };
      const installScripts = ['preinstall', 'install', 'postinstall'].filter((name) => manifest.scripts?.[name] !== undefined);
      const natives = nativeFilesIn(dir);
      // An install script npm is told never to run (allowScripts: false) builds nothing.
      const scriptsDenied = manifest.name !== undefined && deniedScripts[manifest.name] === false;
      if (natives.length === 0 && manifest.gypfile !== true && (scriptsDenied || (installScripts.length === 0 && info.hasInstallScript !== true))) continue;
      if (neverLoadedOptionalNatives.some((pattern) => pattern.test(path))) {
        expect(info.optional ?? info.devOptional, `${path} is allowed only as an optional dependency`).to.equal(true);
        continue;
      }
      offenders.push(`${path}: ${[...natives.map((file) => file.slice(dir.length + 1)), ...installScripts.map((s) => `scripts.${s}`)].join(', ') || 'gypfile'}`);
    }
    expect(checked, 'the production tree was found under node_modules').to.be.greaterThan(10);
    expect(offenders, 'packages that would make FalconQueue depend on native code').to.deep.equal([]);
  });

  it('npm ci leaves out the optional native packages, so no .node file is installed at all', () => {
    const npmrc = readFileSync(join(repoRoot, '.npmrc'), 'utf8').split('\n').map((line) => line.trim());
    expect(npmrc, "the project's .npmrc").to.include('omit=optional');
    const natives: string[] = [];
    const visit = (dir: string, depth: number): void => {
      if (depth > 12) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path, depth + 1);
        else if (entry.name.endsWith('.node')) natives.push(path.slice(repoRoot.length));
      }
    };
    visit(join(repoRoot, 'node_modules'), 0);
    expect(natives, '.node files under node_modules (was npm ci run with the project\'s .npmrc?)').to.deep.equal([]);
  });

  it('never sets the piscina option that would load its optional native addon', () => {
    const offenders: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (entry.name.endsWith('.ts') && readFileSync(path, 'utf8').includes('niceIncrement')) offenders.push(path);
      }
    };
    visit(join(repoRoot, 'src'));
    expect(offenders, 'piscina loads @napi-rs/nice when niceIncrement is set').to.deep.equal([]);
  });

  describe('a running node', () => {
    let cluster: TestCluster;
    let grpcPort: number;
    before(async () => {
      cluster = await createTestCluster({ nodeCount: 1 });
      // With a gRPC port, so that the gRPC libraries are loaded too (only a node with one loads them).
      [grpcPort = 0] = await freePorts(1);
      const text = readFileSync(cluster.configPath, 'utf8');
      writeFileSync(cluster.configPath, text.replace(/^( +)opsPort: (\d+)$/m, `$1opsPort: $2\n$1grpcPort: ${grpcPort}`));
    });
    after(async () => {
      await removeTestCluster(cluster);
    });

    it('has no native shared object mapped with all its actors and its gRPC port up', async function () {
      if (process.platform !== 'linux') this.skip();
      const node = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json']);
      const opsPort = cluster.nodes[0]?.opsPort ?? 0;
      await waitForHttp(`http://127.0.0.1:${opsPort}/readyz`, (status) => status === 200, 20_000, () => node.output());
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: grpcPort }, () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', (error) => reject(new Error(`the gRPC port ${grpcPort} does not take connections: ${error.message}\n${node.output()}`)));
      });
      const pid = node.child.pid ?? 0;
      const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
      const mappedObjects = new Set(maps.map((line) => line.split(/\s+/).slice(5).join(' ')).filter((path) => path.startsWith('/')));
      expect(mappedObjects.size, 'the maps of the node were read').to.be.greaterThan(0);
      const natives = [...mappedObjects].filter((path) => path.endsWith('.node'));
      expect(natives, 'native addons loaded by a running node').to.deep.equal([]);
    });
  });
});
