#!/usr/bin/env node
/**
 * falcon: the operator's command line, built on the SDK (src/client). Jobs: enqueue, get, list,
 * cancel (job-commands.ts); queues: stats, pause, resume, dead list, dead redrive, purge
 * (queue-commands.ts); the cluster: status, watch (status-commands.ts). Every command takes
 * `--json`, `--config` / `--nodes`, `--token` (or FALCON_TOKEN) and `--timeout`; exit codes are
 * in cli-failure.ts and docs/cli.md.
 *
 * Usage errors found by commander (an unknown option, a missing argument) exit 2 like the
 * CLI's own, after commander's message on stderr (and `{"error":...}` on stdout with --json).
 *
 * Runs on: an operator's shell.
 */
import { Command, CommanderError, Option } from 'commander';
import { defaultConfigPath, defaultTimeout, reportFailure } from './cli-context.js';
import { cliExitCodes, exitCodesHelp, usageFailure } from './cli-failure.js';
import { registerJobCommands } from './job-commands.js';
import { registerQueueCommands } from './queue-commands.js';
import { registerStatusCommands } from './status-commands.js';

/** `json`: --json is on the command line, so commander's own messages stay off stdout and stderr
 *  (the failure is reported once, as JSON, by main). Set before the subcommands, which inherit it. */
function falconProgram(json: boolean): Command {
  const program = new Command('falcon')
    .configureOutput(json
      ? { writeErr: () => undefined, outputError: () => undefined }
      : { outputError: (text, write) => write(`falcon: ${text.replace(/^error: /, '')}`) })
    .description('Operate a FalconQueue cluster: enqueue and inspect jobs, manage queues, watch the nodes.')
    .option('--json', 'print exactly one JSON object on stdout (errors too: {"error":{code,message,exitCode}})')
    .option('-c, --config <file>', 'cluster file (YAML) naming the nodes', defaultConfigPath)
    .option('--nodes <host:port,...>', 'client ports of the cluster, instead of a cluster file')
    .addOption(new Option('--token <token>', 'bearer token (default: the FALCON_TOKEN environment variable)'))
    .option('--timeout <ms>', 'deadline of each call, retries included: ms, or 5s, 1m', defaultTimeout)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', `
${exitCodesHelp}

Examples:
  falcon enqueue email '{"to":"a@b.c"}' --priority 5
  falcon get 12 --json
  falcon list email --state dead --all
  falcon status --config cluster.yaml
  falcon watch --interval 1
  FALCON_TOKEN=... falcon purge email --dead --yes --nodes 10.0.0.1:7201,10.0.0.2:7201

docs/cli.md describes every command and its JSON output.`);
  registerJobCommands(program);
  registerQueueCommands(program);
  registerStatusCommands(program);
  return program;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const program = falconProgram(json);
  try {
    await program.parseAsync();
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return; // --help, --version
    // Commander printed its message already (unless --json silenced it); report as usage.
    const message = error.message.replace(/^error: /, '');
    if (json) process.exitCode = reportFailure(usageFailure(message), true);
    else process.exitCode = cliExitCodes.usage;
  }
}

// A reader that stops early (`falcon watch | head`) closes the pipe: stop quietly, as other tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(cliExitCodes.ok);
  throw error;
});

main().catch((error: unknown) => {
  process.exitCode = reportFailure(error, process.argv.includes('--json'));
});
