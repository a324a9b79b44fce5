// Process-wide claim on partial-upload files so two handles never write the same partial at once.
import { posix } from 'node:path';
import { LimitError } from '../errors.js';

/** Thrown (code ERR_LIMIT) when a partial is already being written by another handle in this process. */
export class UploadInProgressError extends LimitError {
  constructor(path: string) {
    super(`Another upload to ${path} is in progress`);
  }
}

/**
 * The key of a partial: its place on the host, the backend's root joined with its path inside, so sessions
 * (rooted at homes) and transfer jobs (rooted at their local directories) writing one directory share claims.
 */
export function partialClaimKey(root: string, partial: string): string {
  return posix.join(root, partial);
}

/**
 * Keys are host paths of partials (partialClaimKey). Module state on purpose: the claim must hold across sessions
 * (a client that reconnects while its dead connection is not yet reaped would otherwise interleave
 * two writers). We fail fast instead of waiting: the holder may be the same client, which would
 * deadlock, and clients retry. Other cluster nodes are covered by ClusterUploadClaims, asked after this claim.
 */
const claimed = new Set<string>();

export function claimPartial(key: string, virtualPath: string): () => void {
  if (claimed.has(key)) throw new UploadInProgressError(virtualPath);
  claimed.add(key);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    claimed.delete(key);
  };
}

export function isPartialClaimed(key: string): boolean {
  return claimed.has(key);
}

/**
 * Claims on partials shared by every node of a cluster (through the store), so that two nodes never write one
 * partial on shared storage: a client that reconnects through the load balancer to another node while its old
 * connection still writes is refused there, as it is here. Keys are claimPartialKey's, so nodes must mount the
 * shared storage at the same path.
 */
export interface ClusterUploadClaims {
  /** False when another live process holds the key. Throws when the store cannot be asked (nothing is claimed). */
  claim(key: string): Promise<boolean>;
  release(key: string): void;
}
