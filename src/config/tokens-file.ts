/**
 * Resolves cluster.yaml's `auth` section into the list of tokens a node enforces: the tokens
 * written inline, then those of `auth.tokensFile` (a YAML file holding a `tokens:` list of the same
 * shape, so that secrets live in a file with its own permissions, outside cluster.yaml).
 *
 * Refusals: a tokens file that is missing, unreadable, too large or not UTF-8 is a problem at
 * `auth.tokensFile` in cluster.yaml; a bad entry inside it is refused with the tokens file's own
 * name, line and field (`/etc/falcon/tokens.yaml:4: tokens[1].role: ...`); a token listed both
 * inline and in the file, or a tokens file that lists none (which would leave the cluster open
 * by accident), is a problem at `auth.tokensFile`. No message ever shows a token.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs (synchronous, like load-config.ts).
 */

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { tokenEntryShape, tokensFileSchema, type AccessToken, type AuthConfig, type authFields } from './auth-config.js';
import { fallbackIssueMessage, problemsFromIssues, type ConfigProblem } from './config-problem.js';
import { throwFirst } from './refusal.js';
import { parseYaml } from './yaml-source.js';

/** A tokens file is a list of at most `tokensMax` short entries; anything larger is the wrong file. */
export const tokensFileBytesMax = 1024 * 1024;

const tokensFileTopLevel = 'a mapping with one key, `tokens:`, a list of { token, role, name? } (see docs/configuration.md)';

/** Why a file could not be read, in words and with the error code. */
export function describeReadFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file (ENOENT)';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  if (code === 'EISDIR') return 'it is a directory, not a file (EISDIR)';
  return error instanceof Error ? error.message : String(error);
}

function tokensFileKeysAt(path: readonly PropertyKey[]): readonly string[] {
  return path.length === 0 ? ['tokens'] : Object.keys(tokenEntryShape);
}

/** The text of the tokens file, or undefined after a problem at `auth.tokensFile`. */
function readTokensText(path: string, problems: ConfigProblem[]): string | undefined {
  const where = ['auth', 'tokensFile'];
  try {
    const sizeBytes = statSync(path).size;
    if (sizeBytes > tokensFileBytesMax) {
      problems.push({ path: where, problem: `${path} is ${sizeBytes} bytes, more than the ${tokensFileBytesMax} a tokens file may be; is it the right file?` });
      return undefined;
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch (error) {
    const reason = error instanceof TypeError ? 'it is not valid UTF-8' : describeReadFailure(error);
    problems.push({ path: where, problem: `cannot read the tokens file ${path}: ${reason} (relative paths resolve against the config file's directory)` });
    return undefined;
  }
}

/** The tokens of the file's text; throws its ConfigError, named by `sourceName`, for a bad entry. */
export function parseTokensFile(text: string, sourceName: string): readonly AccessToken[] {
  const { source, data } = parseYaml(text, sourceName, tokensFileTopLevel);
  const parsed = tokensFileSchema.safeParse(data, { error: fallbackIssueMessage });
  if (!parsed.success) throwFirst(source, problemsFromIssues(parsed.error.issues, tokensFileKeysAt));
  return parsed.data.tokens;
}

/** The section's tokens, inline then from the file; problems about the file go to `problems`. */
export function resolveAuth(auth: z.output<typeof authFields>, baseDir: string, problems: ConfigProblem[]): AuthConfig {
  const inline = auth.tokens ?? [];
  if (auth.tokensFile === undefined) return { tokens: inline };
  const tokensFile = resolve(baseDir, auth.tokensFile);
  const text = readTokensText(tokensFile, problems);
  if (text === undefined) return { tokens: inline, tokensFile };
  const fromFile = parseTokensFile(text, tokensFile);
  if (fromFile.length === 0) {
    problems.push({ path: ['auth', 'tokensFile'], problem: `${tokensFile} lists no token, which would leave the cluster open; list one, or remove auth.tokensFile to run an open cluster on purpose` });
  }
  const inlineIndex = new Map(inline.map((entry, index) => [entry.token, index]));
  fromFile.forEach((entry, index) => {
    const twin = inlineIndex.get(entry.token);
    if (twin === undefined) return;
    problems.push({ path: ['auth', 'tokensFile'], problem: `tokens[${index}] of ${tokensFile} is the same token as auth.tokens[${twin}]; each token must be listed once` });
  });
  return { tokens: [...inline, ...fromFile], tokensFile };
}
