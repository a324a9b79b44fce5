// Which front end a session event came from: FTPS and web sessions name theirs in the detail, SSH's do not.

const SESSION_PROTOCOLS: ReadonlySet<string> = new Set(['ssh', 'ftps', 'https']);

/** 'ftps' or 'https' when the session event's detail says so; 'ssh' otherwise. */
export function sessionProtocol(detail: Readonly<Record<string, unknown>>): 'ssh' | 'ftps' | 'https' {
  const named = detail.protocol;
  return typeof named === 'string' && SESSION_PROTOCOLS.has(named)
    ? (named as 'ssh' | 'ftps' | 'https')
    : 'ssh';
}
