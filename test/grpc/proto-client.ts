/**
 * A FalconQueueService client built from falcon_queue.proto alone, as a user of another project
 * would build it: @grpc/grpc-js and @grpc/proto-loader, and no module of FalconQueue. Each call
 * resolves with the response or the gRPC error (status code, details and trailing metadata),
 * never rejects, so that tests can assert on either.
 *
 * Runs on: test process.
 */
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export const protoFile = fileURLToPath(new URL('../../../src/grpc/falcon_queue.proto', import.meta.url));

type Message = Record<string, unknown>;

export type CallResult =
  | { readonly ok: true; readonly response: Message }
  | { readonly ok: false; readonly code: number; readonly details: string; readonly metadata: Record<string, string> };

type UnaryMethod = (request: Message, metadata: Metadata, options: { deadline: number }, callback: (error: ServiceError | null, response?: Message) => void) => void;

const packageDefinition = loadSync(protoFile, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
const serviceConstructor = ((loadPackageDefinition(packageDefinition)['falconqueue'] as Message)['v1'] as Message)['FalconQueueService'] as new (
  address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: Record<string, unknown>) => Client;

export const methods = ['SubmitJob', 'SubmitJobs', 'PollJobs', 'AcknowledgeJob', 'Heartbeat', 'GetJob'] as const;
export type MethodName = (typeof methods)[number];

export class FalconQueueClient {
  readonly address: string;
  private readonly client: Client;
  private readonly token: string | undefined;

  constructor(address: string, token?: string) {
    this.address = address;
    this.token = token;
    this.client = new serviceConstructor(address, credentials.createInsecure());
  }

  call(method: MethodName, request: Message, deadlineMs = 10_000, extraMetadata: Record<string, string> = {}): Promise<CallResult> {
    const metadata = new Metadata();
    if (this.token !== undefined) metadata.set('authorization', `Bearer ${this.token}`);
    for (const [key, value] of Object.entries(extraMetadata)) metadata.set(key, value);
    const unary = (this.client as unknown as Record<MethodName, UnaryMethod>)[method].bind(this.client);
    return new Promise((resolve) => {
      unary(request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) => {
        if (error === null) {
          resolve({ ok: true, response: response ?? {} });
          return;
        }
        const trailers = Object.fromEntries(Object.entries(error.metadata?.getMap() ?? {}).map(([key, value]) => [key, String(value)]));
        resolve({ ok: false, code: error.code, details: error.details, metadata: trailers });
      });
    });
  }

  /** Sends `bytes` as the request message of `method`, unchecked: what a broken client might send. */
  callWithRawBytes(method: MethodName, bytes: Buffer): Promise<CallResult> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(`/falconqueue.v1.FalconQueueService/${method}`, (value: Buffer) => value, (value: Buffer) => value, bytes,
        new Metadata(), { deadline: Date.now() + 10_000 }, (error: ServiceError | null) => {
          if (error === null) resolve({ ok: true, response: {} });
          else resolve({ ok: false, code: error.code, details: error.details, metadata: {} });
        });
    });
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Calls `method` on `client`, and when the node answers UNAVAILABLE naming the leader's address in
 * `falcon-leader`, calls the leader there instead (up to `hopsMax` times), as a user's client would.
 */
export async function callFollowingLeader(client: FalconQueueClient, method: MethodName, request: Message, token?: string, hopsMax = 3): Promise<{ result: CallResult; address: string }> {
  let current = client;
  for (let hop = 0; ; hop += 1) {
    const result = await current.call(method, request);
    const leader = result.ok ? undefined : result.metadata['falcon-leader'];
    if (result.ok || leader === undefined || hop >= hopsMax) {
      if (current !== client) current.close();
      return { result, address: current.address };
    }
    if (current !== client) current.close();
    current = new FalconQueueClient(leader, token);
  }
}
