// One line of help per setting, for --help texts and the README's reference.
import type { ConfigKey } from './schema.js';

/** One line per key for --help texts and the README's reference. */
export const CONFIG_DESCRIPTIONS: Readonly<Record<ConfigKey, string>> = {
  dataDir:
    'data directory: ferry.db (users, sealed keys, audit), master.key, homes/<user>/ (serve creates it on first run, one level, mode 0700)',
  listen: 'address the SSH/SFTP server listens on',
  sftpPort: 'SSH/SFTP port (0 picks a free port)',
  algorithms:
    "SSH algorithm profile: 'modern' or 'compat' (adds ECDH and the ECDSA host key for old clients)",
  loginGraceTime: 'seconds a connection may take to authenticate',
  maxAuthTries: 'failed authentication attempts allowed per connection',
  workers: 'server processes sharing the port (0: one per CPU core; 1: a single process)',
  workerMode:
    "how 2 or more workers run: 'processes' (a primary and worker processes) or 'threads' (threads of one process, ~110 MB less memory idle with two; no automatic worker renewal)",
  uploadMode: "'atomic' (write to a hidden temp name, rename on close) or 'direct'",
  logLevel: 'log level of the JSON log on stderr',
  logFile:
    'also append the JSON log to this file (its directory must be writable by the server; default: stderr only)',
  logFileMaxBytes: 'size at which logFile is rotated to logFile.1 … logFile.5 (0: never; default 10 MiB)',
  masterKey:
    'key sealing private keys at rest: 32 bytes as hex or base64 (default: <dataDir>/master.key, mode 0600, generated on first run, never over sealed data)',
  idleTimeout: 'seconds an authenticated connection may do nothing before it is closed (0: never)',
  rekeyLimit:
    'bytes in either direction after which the server starts a new key exchange (0: never; default 1 GiB)',
  rekeyInterval: 'seconds after which the server starts a new key exchange (0: never; default 3600)',
  moduliFile:
    'OpenSSH moduli file the diffie-hellman-group-exchange groups come from (RFC 3526 groups when it is unreadable)',
  maxGroupExchangeBits:
    'largest diffie-hellman-group-exchange group handed out, 2048-8192 bits (default 4096; a client whose minimum is larger fails key exchange; 8192 costs about a second of CPU per connection before login)',
  maxConnections: 'connections open at once, per server process',
  maxConnectionsPerAddress: 'connections open at once from one address, per server process',
  maxUnauthenticatedPerAddress: 'connections from one address still logging in (slow-loris guard)',
  maxSessionsPerUser:
    'logged-in SSH and FTPS connections of one user at once, counted on every process and node sharing the store',
  maxChannelsPerConnection:
    "session channels (SFTP, SCP) one connection may have open; more are refused (OpenSSH's MaxSessions)",
  maxOpenHandles: 'open files and directories per SFTP session',
  maxOpenHandlesPerConnection: 'open files and directories of all sessions of one connection',
  maxOpenHandlesPerUser: "open files and directories of all of one user's connections, per server process",
  maxBufferedBytesPerConnection:
    "SFTP request and reply bytes held in memory for one connection, and an uploading connection's read buffer",
  maxBufferedBytesPerUser:
    "SFTP request and reply bytes held in memory for all of one user's connections, per process",
  maxInFlight: 'SFTP requests one session may have in progress',
  maxPacketSize: 'largest SFTP packet accepted (bytes; limits@openssh.com advertises it)',
  maxPathLength: 'longest path accepted (bytes)',
  maxFileSize: 'largest file a user may write, resize or copy to, in bytes (default 1 TiB; 0: no limit)',
  maxHashBytes:
    'bytes one check-file request (or one file of an SSH hash command such as sha256sum) may hash; also the largest out-of-order upload hashed on close (default 64 GiB)',
  inactivityDisableDays:
    'days without a login after which an account is refused like a disabled one, until `ferry users enable` (0: never)',
  serverUploadRate:
    'bytes per second all uploads together may take, whatever their protocol, user or worker process (0: no limit)',
  serverDownloadRate:
    'bytes per second all downloads together may take, whatever their protocol, user or worker process (0: no limit)',
  defenderEnabled: 'ban addresses that keep failing (logins, protocol errors, limits)',
  defenderThreshold:
    'score within defenderWindow that gets an address banned (a failed login scores 1, a refused key query 0.25)',
  defenderWindow: 'seconds over which an address accumulates score',
  defenderBanTime: 'seconds of a first ban; each later ban of the address lasts twice as long',
  defenderMaxBanTime: 'longest ban, in seconds',
  allowList: 'CIDRs never banned or limited per address (comma-separated)',
  denyList: 'CIDRs always refused (comma-separated)',
  drainTimeout:
    'seconds open connections get to finish after SIGTERM (the SFTP and FTPS listeners close, /readyz answers 503) before they are cut (0: stop at once)',
  proxyProtocolFrom:
    'CIDRs of load balancers whose SFTP connections must begin with a PROXY protocol v1/v2 header naming the client (comma-separated; others connect as plain SSH)',
  lockoutThreshold: 'failed logins within lockoutWindow that lock an account (0: off, the default)',
  lockoutWindow: 'seconds over which failed logins of an account are counted',
  lockoutDuration: 'seconds an account stays locked (ferry users unlock NAME ends it early)',
  auditRetentionDays: 'days audit records are kept (0: forever); pruned daily, the chain stays verifiable',
  hostKeyGracePeriod:
    'days a new host key is only announced before the server promotes it (0: promote by hand, ferry keys host promote ID)',
  confinement:
    "'kernel' (openat2 RESOLVE_IN_ROOT: every path and symlink stays in the home) or 'no-symlinks' (kernels before 5.6: every symlink refused)",
  landlock: 'restrict server processes to the data dir and the code with Landlock, where the kernel has it',
  user: 'system user to run as after binding the ports, when started as root (e.g. ferry)',
  auditOnFailure:
    "when the audit store cannot write: 'refuse-uploads' (default: no upload starts, is published or reports success without its record) or 'continue' (uploads go on; lost records are logged)",
  auditCheckpointInterval:
    'a signed audit checkpoint follows at most this many records; `ferry audit verify` requires it (0: not by count)',
  store:
    "the store as a URL: 'sqlite:<path>' (default sqlite:<dataDir>/ferry.db) or 'postgres://user@host:5432/db' (an existing database, over TCP)",
  node: "cluster mode: id (this node's name in the node registry, `ferry cluster status`; default the host name and SFTP port, e.g. 'web1:2222'; env FERRY_NODE_ID) and heartbeatSeconds (how often each serving process records it is alive, default 5; a node silent for 3 heartbeats is down)",
  storage:
    "where homes live: backend 'local' (the default; homes under <dataDir>/homes) or 's3' (bucket, prefix, endpoint, region, forcePathStyle, abandonedUploadHours; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS SDK's other sources; see docs/STORAGE.md)",
  diskSpaceLowPercent:
    'free space of the data dir, in percent, below which a disk-space-low event is emitted and logged (0: off)',
  diskSpaceCheckInterval: 'seconds between checks of the free space of the data dir',
  keyExpiryWarningDays:
    'days before an OpenPGP key in the Key Manager expires from which a daily key-expiring event is emitted (0: no check)',
  smtp: "SMTP server of e-mail actions: host, port (465 with secure, else 587), from, secure (implicit TLS), starttls 'required' or 'optional', user; the password only as FERRY_SMTP_PASSWORD; plain SMTP only to a loopback host",
  http: 'HTTP API (REST, OpenAPI, /metrics, /healthz, /readyz): listen HOST:PORT (default 127.0.0.1:8080, port 0 picks one), tlsCert and tlsKey (PEM files) or tlsKeyName (a certificate of `ferry keys x509`), allowInsecure (plain HTTP off loopback, behind a TLS proxy)',
  ftps: 'FTPS (FTP over TLS, docs/FTPS.md), off by default: port (explicit, AUTH TLS), implicitPort (TLS from the first byte), passivePorts LOW-HIGH, passiveAddress (the public IPv4 behind NAT), tlsCert and tlsKey (PEM files) or tlsKeyName (a certificate of `ferry keys x509`; default: a self-signed certificate generated in the data dir)',
  rules:
    'rules: commands (true/false, default false) lets command actions run programs as the server user; yieldToTransfersSeconds (0-600, default 5) is the longest rule actions (and e-mail digests) wait for the uploads and downloads of their process to pause; deliveryRetentionDays (default 30, 0: for ever) is how long finished deliveries and their attempts are kept',
  passwordPolicy:
    "rules for users' passwords Ferry keeps (all off at 0): minLength, minClasses (of lower, upper, digit, other), minEntropyBits (estimated strength), history (earlier passwords not reused), maxAgeDays (a change is required at the next login)",
  ldap: 'LDAP / Active Directory password logins (docs/LDAP.md), off unless url is set: url, startTls, caFile, bindDn and bindPasswordFile (or FERRY_LDAP_BIND_PASSWORD), userBase, userFilter, groupBase, groupFilter, groupMap, templateUser, homeTemplate, requireGroup, disabledAttribute, cacheTtl, timeout',
};

/** Nested settings with a description of their own; the others are described by their key's line. */
export const NESTED_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'passwordPolicy.minLength': 'fewest characters a user password may have (0: no rule)',
  'passwordPolicy.minClasses':
    'character classes (lower case, upper case, digits, others) a user password must mix, 0-4 (0: no rule)',
  'passwordPolicy.minEntropyBits':
    'estimated bits of entropy a user password must reach: characters (a run of one repeated character counted once) × log2 of the classes used (26 lower, 26 upper, 10 digits, 33 others); 60 asks for e.g. 10 characters mixing all four classes or 13 lower-case letters (0: no rule)',
  'passwordPolicy.history':
    'earlier passwords of a user (their argon2id hashes) a new one may not repeat (0: no rule)',
  'passwordPolicy.maxAgeDays':
    'days after which a password must be changed at the next login: SSH asks for a new one (RFC 4252 password change), FTPS refuses (0: never)',
  'ftps.port': 'explicit FTPS port (AUTH TLS; 0 picks a free port; default: off)',
  'ftps.implicitPort': 'implicit FTPS port (TLS from the first byte, 990-style; default: off)',
  'ftps.passivePorts': 'passive data ports LOW-HIGH for FTPS (default: any free port)',
  'ftps.passiveAddress':
    'IPv4 address PASV replies announce, the public one behind NAT (default: the address the client connected to)',
  'ftps.tlsCert':
    'PEM certificate (chain) of the FTPS listeners (default: <dataDir>/ftps-cert.pem, self-signed, generated)',
  'ftps.tlsKey': 'PEM private key of ftps.tlsCert',
  'ftps.tlsKeyName':
    'name of an X.509 certificate in the Key Manager (`ferry keys x509 generate|import`) the FTPS listeners serve, instead of ftps.tlsCert/ftps.tlsKey (default: <dataDir>/ftps-cert.pem, self-signed, generated)',
  'http.tlsKeyName':
    'name of an X.509 certificate in the Key Manager (`ferry keys x509 generate|import`) the API is served with over HTTPS (TLS 1.2+), instead of http.tlsCert/http.tlsKey',
  'node.id':
    "this node's name in the node registry (`ferry cluster status`); two live nodes may not share one (default: the host name and SFTP port, e.g. 'web1:2222')",
  'node.heartbeatSeconds':
    'seconds between the heartbeats each serving process records (default 5); a node silent for 3 heartbeats is shown down',
  'storage.encryption':
    'store new files in the homes encrypted (AES-256-GCM containers, or ChaCha20-Poly1305 on CPUs without AES instructions; keys wrapped under the master key; see docs/ENCRYPTION.md; default: off)',
  'storage.metadataCalls':
    "backend 'local': where metadata calls (stat, open, rename, close) run: 'auto' (default: on the serving thread for local file systems such as ext4, XFS, Btrfs or tmpfs, on the thread pool for network and FUSE mounts), 'inline' or 'pool' (a slow local disk then cannot stall a process's other sessions)",
  'storage.bucket': "backend 's3': the bucket the homes live in",
  'storage.prefix':
    "backend 's3': key prefix of the homes (each home is <prefix>/<user>; default: the bucket's root)",
  'storage.endpoint': "backend 's3': an S3-compatible endpoint URL (default: AWS)",
  'storage.region': "backend 's3': the region (default us-east-1)",
  'storage.forcePathStyle':
    "backend 's3': path-style URLs (endpoint/bucket/key), which most S3-compatible servers need",
  'storage.abandonedUploadHours':
    "backend 's3': hours after which a multipart upload nobody continued (its node died, no client resumed it) is aborted and its parts freed (default 24)",
};
