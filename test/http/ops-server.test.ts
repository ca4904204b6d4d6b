/**
 * The ops port answers what an operator and a Prometheus server ask of it, and, on a node started
 * with --test-hooks, runs the Raft load that bench/raft-bench.ts reads.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadClusterConfig, selectNode } from '../../src/config/load-config.js';
import { runNode } from '../../src/supervisor/run-node.js';
import { FalconClient } from '../../src/client/index.js';
import { isNodeStatus } from '../../src/runtime/node-status.js';
import { createTestCluster, removeTestCluster, waitForHttp, type TestCluster } from '../support/test-cluster.js';

describe('ops port', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let stop: (reason: string) => void = () => undefined;
  let exited: Promise<number>;
  let ops = '';
  let clientAddress = '';

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn' });
    const config = loadClusterConfig(cluster.configPath);
    const node = selectNode(config, 'n1');
    ops = `http://127.0.0.1:${node.opsPort}`;
    clientAddress = `127.0.0.1:${node.clientPort}`;
    const logger = pino({ level: 'warn' }, new Writable({ write(_c, _e, done) { done(); } }));
    exited = runNode({ config, node, logger, logFormat: 'json', testHooks: true, stopRequested: new Promise((resolve) => { stop = resolve; }) });
    await waitForHttp(`${ops}/readyz`, (status) => status === 200, 15_000);
  });
  after(async () => {
    stop('test over');
    await exited;
    await removeTestCluster(cluster);
  });

  it('serves Prometheus metrics: process, actors and rings', async () => {
    const response = await fetch(`${ops}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.contain('text/plain');
    const text = await response.text();
    expect(text).to.match(/falcon_process_cpu_seconds_total\{node="n1"\} \d/);
    for (const actor of ['registry', 'dispatcher', 'walWriter', 'replicator', 'worker']) {
      expect(text).to.contain(`falcon_actor_up{actor="${actor}",node="n1"} 1`);
      expect(text).to.contain(`falcon_actor_restarts_total{actor="${actor}",node="n1"} 0`);
    }
    const probes = /falcon_ring_records_total\{ring="dispatcher->replicator",node="n1"\} (\d+)/.exec(text);
    expect(Number(probes?.[1]), 'the start-up probe passed through the ring').to.be.greaterThan(0);
    expect(text).to.match(/falcon_ring_capacity_bytes\{ring="replicator->walWriter",node="n1"\} \d+/);
  });

  it('serves the Raft figures: term, leadership, commit latency and batch histograms', async () => {
    // Ready means a leader is known; its first entry commits after the fsync that follows, so the
    // commit figures may trail readiness by a moment: wait for them, bounded.
    const committed = /falcon_raft_commit_latency_ms_bucket\{le="\+Inf",node="n1"\} [1-9]/;
    const { body: text } = await waitForHttp(`${ops}/metrics`, (status, body) => status === 200 && committed.test(body), 10_000);
    expect(text).to.match(/falcon_raft_term\{node="n1"\} [1-9]/);
    expect(text, 'a one-node cluster leads itself').to.contain('falcon_raft_is_leader{node="n1"} 1');
    expect(text).to.match(/# TYPE falcon_raft_commit_latency_ms histogram/);
    expect(text).to.match(/falcon_raft_commit_latency_ms_bucket\{le="\+Inf",node="n1"\} [1-9]/);
    expect(text).to.match(/falcon_raft_append_batch_entries_count\{node="n1"\} [1-9]/);
    expect(text).to.match(/falcon_raft_elections_total\{node="n1"\} [1-9]/);
  });

  it('has every series the Grafana dashboard (docs/grafana/) names, with the labels it groups by', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana/falconqueue-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
    const queries = dashboardQueries(dashboard);
    expect(queries.length, 'the dashboard has queries').to.be.greaterThan(20);
    // One job, so the per-queue families have samples whose labels can be checked.
    const client = new FalconClient({ nodes: [clientAddress] });
    try {
      await client.enqueue('dashboard', { hello: 'grafana' });
    } finally {
      await client.close();
    }
    // The queue's figures reach /metrics with the node's next status report: wait for them, bounded.
    const { body: text } = await waitForHttp(`${ops}/metrics`, (status, body) => status === 200 && body.includes('falcon_queue_enqueued_total{queue="dashboard"'), 10_000);
    const families = new Map<string, string>();
    for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(match[1] ?? '', match[2] ?? '');
    const named = new Set(queries.flatMap((query) => [...query.matchAll(/\bfalcon_[a-z0-9_]+/g)].map((match) => match[0])));
    for (const series of named) {
      const histogram = /^(.*)_(bucket|count|sum)$/.exec(series)?.[1];
      const family = histogram !== undefined && families.get(histogram) === 'histogram' ? histogram : series;
      expect(families.has(family), `${series} (named by the dashboard) is not on /metrics`).to.equal(true);
    }
    // Every label a query selects on is one a node puts on that family's samples.
    const labelsOf = (family: string): Set<string> => new Set([...text.matchAll(new RegExp(`^${family}(?:_bucket|_count|_sum)?\\{([^}]*)\\}`, 'gm'))]
      .flatMap((match) => [...(match[1] ?? '').matchAll(/(\w+)="/g)].map((label) => label[1] ?? '')));
    for (const query of queries) {
      for (const selector of query.matchAll(/\b(falcon_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const series = selector[1] ?? '';
        const family = /^(.*)_bucket$/.exec(series)?.[1] ?? series;
        const used = [...(selector[2] ?? '').matchAll(/(\w+)=~?"/g)].map((label) => label[1] ?? '');
        const present = labelsOf(family);
        // A one-node cluster has no peer links, so no per-peer samples to read labels from.
        if (family === 'falcon_peer_reconnects_total' && present.size === 0) continue;
        for (const label of used) {
          expect(present.has(label), `${series} has no label ${label} on /metrics (query: ${query})`).to.equal(true);
        }
      }
    }
  });

  it('reports each actor and ring on /status, in the typed shape `falcon status` reads', async () => {
    const status: unknown = await (await fetch(`${ops}/status`)).json();
    if (!isNodeStatus(status)) throw new Error(`/status is not a node status: ${JSON.stringify(status)}`);
    expect(status.node).to.equal('n1');
    expect(status.raft?.role).to.equal('leader');
    const walWriter = status.actors.walWriter?.reported?.role;
    expect(walWriter?.role === 'walWriter' && walWriter.open ? walWriter.durableLastIndex : -1).to.be.greaterThan(0);
    expect(status.applied?.index).to.be.greaterThan(0);
    expect(status.readiness.ready).to.equal(true);
    expect(status.actors['dispatcher']?.reported?.linksAnswered).to.deep.equal({ replicator: true, registry: true, worker: true });
    expect(status.rings.map((ring) => ring.name)).to.include.members(['dispatcher->replicator', 'replicator->dispatcher', 'supervisor->walWriter']);
  });

  it('answers unknown paths with 404 and writes with 405, in JSON', async () => {
    const missing = await fetch(`${ops}/nope`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { message: string }).message).to.contain('/healthz');
    const post = await fetch(`${ops}/healthz`, { method: 'POST' });
    expect(post.status).to.equal(405);
  });

  it('runs a Raft load on POST /debug/raft-load: 200 with its figures, 409 naming a field out of bounds', async () => {
    const post = async (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      const response = await fetch(`${ops}/debug/raft-load`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
      return { status: response.status, body: await response.json() as Record<string, unknown> };
    };
    const ran = await post({ entries: 20, batch: 4, payloadBytes: 16, inflight: 2, timeoutMs: 10_000 });
    expect(ran.status, JSON.stringify(ran.body)).to.equal(200);
    expect(ran.body).to.include({ ok: true, committed: 20, lost: 0 });
    expect(ran.body['lastIndex']).to.be.a('number').greaterThan(0);
    expect(ran.body['latencyMsP99']).to.be.a('number');
    const refused = await post({ entries: 0, batch: 4, payloadBytes: 16, inflight: 2, timeoutMs: 10_000 });
    expect(refused.status).to.equal(409);
    expect(refused.body).to.include({ ok: false });
    expect(refused.body['error']).to.contain('entries');
  });
});

interface Dashboard {
  panels: { targets?: { expr?: string }[] }[];
  templating: { list: { query?: unknown }[] };
}

/** Every PromQL expression of the dashboard: panel targets and template variable queries. */
function dashboardQueries(dashboard: Dashboard): string[] {
  const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));
  const variables = dashboard.templating.list.map((variable) => variable.query).filter((query): query is string => typeof query === 'string');
  return [...targets, ...variables].filter((query) => query.includes('falcon_'));
}
