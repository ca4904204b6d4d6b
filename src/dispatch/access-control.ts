/**
 * Bearer-token access to the client protocol: which role a connection holds, and whether it may
 * make a request. A connection's `hello` presents a token (its `token` field); a token the cluster
 * lists grants its role to the connection until its next hello. When the cluster lists no token,
 * it is open: every connection may make every request.
 *
 * The rules (docs/protocol.md §3):
 * - `hello` is always answered. A hello with a token the cluster does not list is answered
 *   UNAUTHENTICATED and leaves the connection with no role (whatever an earlier hello granted);
 *   a token that is not a string of 1 to 256 bytes is one the cluster does not list. A hello
 *   without a token, or one that fails its check for another reason, leaves it with no role too.
 * - Any other request on a connection with no role: UNAUTHENTICATED. With a role that may not make
 *   it (protocol/access-roles.ts): PERMISSION_DENIED naming the role and the request. Either way
 *   the connection stays open, and a later hello with a good token is accepted.
 *
 * Tokens are compared in constant time: the presented token and every listed one are hashed
 * (SHA-256, so lengths match) and compared with `timingSafeEqual`, against every listed token
 * without stopping at a match, so the time taken says nothing about which token, or how much of
 * one, was right.
 *
 * Invariant: no token value leaves this module: not in a message, not in a log field, not in a
 * counter; a grant carries the token's label (its name, or a short hash).
 *
 * Runs on: Dispatcher thread.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { tokenLabel, type AccessRole, type AccessToken } from '../config/auth-config.js';
import { falconError, type FalconError } from '../errors.js';
import { rolesAllowed, roleMayMake } from '../protocol/access-roles.js';
import type { ClientRequestType } from '../protocol/client.js';
import { isBearerTokenForm } from '../protocol/client-validation.js';

/** What a listed token grants a connection. */
export interface AccessGrant {
  readonly role: AccessRole;
  /** The token's name, or `sha256:` and 8 hex digits of its hash: how messages may call it. */
  readonly label: string;
}

interface ListedToken {
  readonly digest: Buffer;
  readonly grant: AccessGrant;
}

/** The message a connection without a role gets for any request but hello. */
export const tokenNeededMessage = "this cluster needs a bearer token; send it in hello's token field";

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class AccessControl {
  private readonly listed: readonly ListedToken[];

  constructor(tokens: readonly AccessToken[]) {
    this.listed = tokens.map((entry) => ({ digest: digestOf(entry.token), grant: { role: entry.role, label: tokenLabel(entry) } }));
  }

  /** No token listed: every connection may make every request. */
  get isOpen(): boolean {
    return this.listed.length === 0;
  }

  /**
   * What a hello's token field grants: the grant of a listed token; undefined for no token (or an
   * open cluster, which ignores tokens); UNAUTHENTICATED for a token the cluster does not list,
   * which includes anything that is not a string of 1 to 256 bytes (a malformed field).
   */
  authenticate(token: unknown): AccessGrant | undefined | FalconError {
    if (this.isOpen || token === undefined) return undefined;
    let match: AccessGrant | undefined;
    if (isBearerTokenForm(token)) {
      const presented = digestOf(token);
      for (const entry of this.listed) {
        // No early exit: every listed token costs the same comparison, matched or not.
        if (timingSafeEqual(presented, entry.digest) && match === undefined) match = entry.grant;
      }
    }
    return match ?? falconError('UNAUTHENTICATED',
      'hello: this token is not one the cluster lists (mistyped, or removed from auth); this connection may make no request until a hello with a listed token',
      { field: 'token' });
  }

  /**
   * Undefined when a connection holding `grant` may make a request of `type`, else the refusal.
   * `type` is undefined for a request that names no request type (it failed its check): with no
   * role it is UNAUTHENTICATED like any other; with a role, its own refusal answers it.
   */
  authorize(grant: AccessGrant | undefined, type: ClientRequestType | undefined): FalconError | undefined {
    if (this.isOpen || type === 'hello') return undefined;
    if (grant === undefined) {
      return type === undefined
        ? falconError('UNAUTHENTICATED', `request: ${tokenNeededMessage}`)
        : falconError('UNAUTHENTICATED', `${type}: ${tokenNeededMessage}`, { request: type });
    }
    if (type === undefined || roleMayMake(grant.role, type)) return undefined;
    const allowed = rolesAllowed[type].map((role) => `'${role}'`).join(' or ');
    return falconError('PERMISSION_DENIED',
      `${type}: role '${grant.role}' (token ${grant.label}) may not make this request; it needs role ${allowed}`,
      { request: type, role: grant.role });
  }
}
