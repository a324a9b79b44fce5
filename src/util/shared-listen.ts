// Listening sockets shared by the threads of `serve --worker-mode threads`. The main thread listens as any server
// does and notes each listener's descriptor by name; a worker thread listens on its own copy (dup) of that
// descriptor, so every thread's event loop accepts from the one socket (as cluster workers share a handle), and
// a thread that closes its listener (it stops, or failed during its start) leaves the socket open for the others.
// Anywhere else (a single process, cluster workers) a listener listens on its address.
import type { ListenOptions, Server } from 'node:net';

/** The listeners a server may share, by name: SSH, the HTTP API, FTPS explicit and implicit. */
export type SharedListener = 'ssh' | 'http' | 'ftps' | 'ftps-implicit';

/** node's listen options, or a descriptor to listen on (`server.listen({ fd })`, which its types leave out). */
export type SharedListenOptions = ListenOptions & { readonly fd?: number };

type Sharing =
  | { readonly role: 'main'; readonly fds: Map<string, number> }
  | {
      readonly role: 'thread';
      readonly fds: ReadonlyMap<string, number>;
      readonly dup: (fd: number) => number;
    };

let sharing: Sharing | undefined;

/** In the main thread: notes the descriptors of the listeners started from now on; returns them, by name. */
export function noteSharedListeners(): ReadonlyMap<string, number> {
  const fds = new Map<string, number>();
  sharing = { role: 'main', fds };
  return fds;
}

/** In a worker thread: listens on copies of the main thread's descriptors (`dup`: the confine addon's). */
export function listenOnSharedSockets(
  fds: Readonly<Record<string, number>>,
  dup: (fd: number) => number,
): void {
  sharing = { role: 'thread', fds: new Map(Object.entries(fds)), dup };
}

/**
 * What `server.listen` gets for listener `name`: in a worker thread a copy of the main thread's socket (the
 * address is the main thread's; `host` stays for Fastify, which reads it), else the address itself.
 */
export function listenOptions(name: SharedListener, port: number, host: string): SharedListenOptions {
  if (sharing?.role !== 'thread') return { port, host };
  const fd = sharing.fds.get(name);
  // The main thread did not start this listener (it failed, or the thread's config differs): listen as it would.
  if (fd === undefined) return { port, host };
  return { fd: sharing.dup(fd), host };
}

/** Called once `server` listens as listener `name`: the main thread notes its descriptor for the threads. */
export function noteListening(name: SharedListener, server: Server): void {
  if (sharing?.role !== 'main') return;
  // libuv's descriptor of the listening socket (node's TCP handle exposes it on Unix).
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd === 'number' && fd >= 0) sharing.fds.set(name, fd);
}
