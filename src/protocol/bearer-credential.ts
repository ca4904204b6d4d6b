/**
 * The bearer credential of an HTTP request (`Authorization` header) or a gRPC call
 * (`authorization` metadata), read by one rule for both gateways (docs/http.md, docs/grpc.md):
 *
 * - none: no token (the node answers UNAUTHENTICATED when the cluster lists tokens);
 * - exactly one value, `Bearer <token>` (scheme in any case, spaces or tabs after it), with
 *   whitespace around the whole value ignored (HTTP/1.1 calls it optional whitespace, not part of
 *   the value; the gateways trim it wherever it reaches them);
 * - more than one value is an ambiguous credential, refused (a proxy that adds its own header must
 *   not be outvoted by the caller's, nor the reverse);
 * - a token that is not 1 to 256 bytes (`clientLimits.tokenBytesMax`, the bound of hello's field
 *   and of a listed token) is not one the cluster lists, refused like any unlisted token.
 *
 * A refusal is UNAUTHENTICATED and never quotes the value.
 *
 * Runs on: supervisor (main thread), in the HTTP and gRPC gateways.
 */
import { clientLimits } from './client.js';
import { isBearerTokenForm } from './client-validation.js';

export type BearerCredential =
  | { readonly ok: true; readonly token: string | undefined }
  | { readonly ok: false; readonly message: string };

const bearerPattern = /^Bearer[ \t]+(\S+)$/i;

/**
 * The token of `values`, every value of the credential field the request carried; `field` names
 * the field in a refusal (`the Authorization header`, `authorization metadata`).
 */
export function readBearerCredential(values: readonly unknown[] | undefined, field: string): BearerCredential {
  if (values === undefined || values.length === 0) return { ok: true, token: undefined };
  if (values.length > 1) {
    return { ok: false, message: `${field} is given ${values.length} times; send exactly one 'Bearer <token>' (an ambiguous credential is refused)` };
  }
  const [value] = values;
  const token = typeof value === 'string' ? bearerPattern.exec(value.trim())?.[1] : undefined;
  if (token === undefined) return { ok: false, message: `${field} must be 'Bearer <token>'` };
  if (!isBearerTokenForm(token)) {
    return { ok: false, message: `this token is not one the cluster lists (a listed token is 1 to ${clientLimits.tokenBytesMax} bytes)` };
  }
  return { ok: true, token };
}
