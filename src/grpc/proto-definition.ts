/**
 * Loads falcon_queue.proto at run time (with @grpc/proto-loader, no generated code) and hands out
 * the FalconQueueService definition.
 *
 * The .proto file stays in src/grpc/ and is shipped as it is (package.json "files"); this module
 * is compiled to dist/src/grpc/, so the file is three folders up and back down into src/grpc/,
 * which holds both in the repository and in an installed package (node_modules/falconqueue/).
 *
 * Loader options, which fix how decoded requests look to the gateway:
 * - `longs: String`: a uint64 or int64 field arrives as a decimal string, so an id above 2^53 - 1
 *   is seen as such and refused, instead of being silently rounded to another job's id.
 * - `enums: String`: enum values by name (`KIND_FIXED`, `JOB_STATE_READY`).
 * - `defaults: false`, `oneofs: true`: a field the caller left out is absent (undefined), an
 *   `optional` field keeps its presence, and a oneof names the member that was set.
 * - `bytes` left as the default: bytes fields arrive as Buffers.
 *
 * Runs on: supervisor (main thread).
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** Where the .proto file is, from this module's compiled place (dist/src/grpc/). */
export const protoPath = fileURLToPath(new URL('../../../src/grpc/falcon_queue.proto', import.meta.url));

/** The service's full name, as gRPC paths carry it (`/falconqueue.v1.FalconQueueService/SubmitJob`). */
export const serviceName = 'falconqueue.v1.FalconQueueService';

export const loaderOptions = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true } as const;

/** Reads and parses the .proto file; throws (a start-up error) when it is missing or broken. */
export function loadServiceDefinition(): ServiceDefinition {
  const packageDefinition = loadSync(protoPath, loaderOptions);
  const grpcObject = loadPackageDefinition(packageDefinition);
  const version = (grpcObject['falconqueue'] as Record<string, unknown> | undefined)?.['v1'] as Record<string, unknown> | undefined;
  const serviceClient = version?.['FalconQueueService'] as { service?: ServiceDefinition } | undefined;
  if (serviceClient?.service === undefined) throw new Error(`${protoPath} does not define ${serviceName}`);
  return serviceClient.service;
}
