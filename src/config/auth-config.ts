/**
 * The `auth` section of cluster.yaml: the bearer tokens clients present, each with a role, listed
 * in the file itself (`tokens`) and/or in a separate file it names (`tokensFile`, which keeps the
 * secrets out of cluster.yaml). No token listed: the cluster is open.
 *
 * Roles: `produce` may enqueue, `consume` may pull, ack, nack, extend, register and heartbeat; both
 * may read (get, list, stats); `admin` may do everything (src/protocol/access-roles.ts is the table).
 *
 * Invariants:
 * - A token's value never appears in a message, a log line or /status: a refusal names the entry
 *   (`auth.tokens[2].token`) and at most its length; a log names a token by `tokenLabel`.
 * - After loading, tokens are unique across `tokens` and `tokensFile` (load-config.ts checks the
 *   merged list), each of `tokenCharsMin` to `tokenCharsMax` visible ASCII characters.
 *
 * Runs on: supervisor (main thread) at start-up, the CLIs, and the Dispatcher and Worker threads
 * (which read the loaded list). No I/O here; load-config.ts reads the tokens file.
 */

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeValue } from './describe-value.js';
import { ruleMessage } from './schema-rules.js';

export const accessRoles = ['produce', 'consume', 'admin'] as const;
export type AccessRole = (typeof accessRoles)[number];

/** A shorter token could be found by trying: 16 random characters are beyond any guessing rate. */
export const tokenCharsMin = 16;
/** Long enough for any generated secret; short enough for a hello field and an HTTP header. */
export const tokenCharsMax = 256;
/** Each hello is compared against every token; a thousand keeps that well under a millisecond. */
export const tokensMax = 1_000;
/** Token names appear in logs and refusals: short, plain. */
export const tokenNamePattern = /^[a-z0-9][a-z0-9_.@-]{0,63}$/i;

/** Visible ASCII, no spaces: what fits an `Authorization: Bearer` header unchanged. */
const tokenPattern = /^[\x21-\x7e]+$/;

const tokenRule = `a token of ${tokenCharsMin} to ${tokenCharsMax} visible ASCII characters, no spaces ` +
  `(shorter tokens can be guessed by trying them; generate one with \`openssl rand -hex 32\`)`;

/**
 * A value of the auth section as a message may show it: a string that could be a token (as long
 * as the shortest one) by its length only, so that a token written in the wrong place (a bare list
 * item, a role) is not echoed either.
 */
function describeWithoutSecrets(input: unknown): string {
  return typeof input === 'string' && input.length >= tokenCharsMin ? `a string of ${input.length} characters` : describeValue(input);
}

/** `ruleMessage` for the auth section: the same wording, through describeWithoutSecrets. */
function secretSafeMessage(rule: string): (issue: { readonly input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? `missing; expected ${rule}` : `expected ${rule}, got ${describeWithoutSecrets(issue.input)}`);
}

/** The message for a bad token: its length and kind, never its value. */
function tokenMessage(issue: { readonly input?: unknown }): string {
  const input = issue.input;
  if (input === undefined) return `missing; expected ${tokenRule}`;
  if (typeof input !== 'string') return `expected ${tokenRule}, got ${typeof input === 'object' ? describeValue(input) : typeof input}`;
  const kind = tokenPattern.test(input) || input.length === 0 ? '' : ' including spaces or non-ASCII characters';
  return `expected ${tokenRule}, got ${input.length} characters${kind}`;
}

export const tokenEntryShape = {
  /** The secret itself; compared in constant time by the Dispatcher. */
  token: z.string({ error: tokenMessage }).min(tokenCharsMin).max(tokenCharsMax).regex(tokenPattern),
  /** What a connection that brings this token may do. */
  role: z.enum(accessRoles, { error: secretSafeMessage(`one of ${accessRoles.map((role) => `'${role}'`).join(', ')}`) }),
  /** How logs and refusals call this token (say, the client that holds it). */
  name: z.string({ error: secretSafeMessage('a name of 1 to 64 letters, digits, _ . @ - (starting with a letter or digit)') })
    .regex(tokenNamePattern)
    .optional(),
};

const tokenEntryFields = z.strictObject(tokenEntryShape, { error: secretSafeMessage('a mapping of token settings (token, role, name)') });

export type AccessToken = Readonly<z.output<typeof tokenEntryFields>>;

/** A list of tokens, with no token listed twice (the second use is reported, naming the first). */
export const tokenList = z.array(tokenEntryFields, {
  error: secretSafeMessage('a list of tokens, each { token, role, name? }'),
}).max(tokensMax, { error: `expected at most ${tokensMax} tokens` }).superRefine((tokens, context) => {
  const firstUse = new Map<string, number>();
  tokens.forEach((entry, index) => {
    const first = firstUse.get(entry.token);
    if (first === undefined) {
      firstUse.set(entry.token, index);
      return;
    }
    context.addIssue({ code: 'custom', path: [index, 'token'], message: `the same token as [${first}]; each token must be listed once (give each client its own)` });
  });
});

export const authShape = {
  /** Tokens written in cluster.yaml itself. */
  tokens: tokenList.optional(),
  /** A YAML file with a `tokens:` list of the same shape; relative to the cluster file's directory. */
  tokensFile: z.string({ error: ruleMessage('a file path') }).min(1).optional(),
};

export const authFields = z.strictObject(authShape, { error: secretSafeMessage('a mapping of auth settings (tokens, tokensFile)') });

/** The tokens file's whole content: `tokens:` and nothing else. */
export const tokensFileSchema = z.strictObject({ tokens: tokenList }, { error: secretSafeMessage('a mapping with one key, `tokens:`') });

/** The loaded `auth` section: every token from both places; `tokensFile` absolute when given. */
export interface AuthConfig {
  readonly tokens: readonly AccessToken[];
  readonly tokensFile?: string;
}

/** How a log line or a refusal calls a token: its name, else a short hash (never the token). */
export function tokenLabel(entry: AccessToken): string {
  return entry.name ?? `sha256:${createHash('sha256').update(entry.token).digest('hex').slice(0, 8)}`;
}

/** Roles a node's local handlers can pull, ack and heartbeat with. */
export function mayRunJobs(role: AccessRole): boolean {
  return role === 'consume' || role === 'admin';
}

/** The token a node's local handlers use: the first listed whose role may consume (consume or admin). */
export function localWorkerToken(auth: AuthConfig): AccessToken | undefined {
  return auth.tokens.find((entry) => mayRunJobs(entry.role));
}
