// The web client's HTTPS protocol against SFTP on the same Ferry: one large file up (tus: a creation POST, then
// one PATCH streaming the whole file, as the /files page's script sends it) and down (GET /files/download), curl
// on HTTPS/1.1 over loopback (a Key Manager certificate), runs alternating with OpenSSH's `sftp` to the same server and user.
// The OpenSSH column of these rows is Ferry's own SFTP: the target is web ≥ 0.7× SFTP.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup.js';
import { sha256File } from './files.js';
import { treeCpuMs } from './proc-stats.js';
import { type ProtocolRowsOptions, sourceFile, throughputRows } from './protocol-rows.js';
import type { Measurement } from './scenarios.js';
import { type BenchLayout, freePort, startFerry } from './servers.js';
import { type ClientContext, commandMs, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const PASSWORD = 'web-bench-password';

/** A signed-in web client session driven by curl alone: its cookie jar, the CSRF token, the server's CA. */
class CurlSession {
  csrf = '';
  constructor(
    readonly base: string,
    private readonly jar: string,
    private readonly cacert: string,
  ) {}

  /** One curl request with the session's cookies and CA; stdout of `-w` and the body (when not to a file). */
  async run(args: readonly string[]): Promise<string> {
    const { stdout } = await execFileAsync(
      'curl',
      ['-sS', '--http1.1', '--cacert', this.cacert, '-b', this.jar, '-c', this.jar, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  }

  /** One request timed by curl's own timer (ms); fails unless the status is `expect`. */
  async timed(args: readonly string[], expect: number, output = '/dev/null'): Promise<number> {
    const out = await this.run(['-o', output, '-w', '%{http_code} %{time_total}', ...args]);
    const [code, seconds] = out.trim().split(' ');
    if (Number(code) !== expect) throw new Error(`web bench: HTTP ${code} from ${args.at(-1)}`);
    return Number(seconds) * 1000;
  }

  async login(username: string, password: string): Promise<void> {
    const form = await this.run([`${this.base}/files/login`]);
    const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: token, username, password, code: '' }).toString();
    const code = await this.run([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--data',
      body,
      `${this.base}/files/login`,
    ]);
    if (code.trim() !== '303') throw new Error(`web bench: sign-in answered ${code}`);
    const home = await this.run([`${this.base}/files/`]);
    this.csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(home)?.[1] ?? '';
    if (!this.csrf) throw new Error('web bench: no CSRF token on the folder page');
  }

  /** tus upload into /xfer as the page's script does it: a creation POST, then one PATCH streaming the file. */
  async upload(path: string, bytes: number, name: string): Promise<number> {
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const tus = ['-H', 'Tus-Resumable: 1.0.0', '-H', `X-CSRF-Token: ${this.csrf}`];
    const head = await this.run([
      ...['-X', 'POST', '-D', '-', '-o', '/dev/null', ...tus],
      ...['-H', `Upload-Length: ${bytes}`, '-H', `Upload-Metadata: dir ${b64('/xfer')},name ${b64(name)}`],
      `${this.base}/files/tus`,
    ]);
    const location = /^location: *(\S+)/im.exec(head)?.[1];
    if (!/^HTTP\/1\.1 201/.test(head) || !location)
      throw new Error(`web bench: tus creation: ${head.split('\r\n')[0]}`);
    const url = location.startsWith('http') ? location : `${this.base}${location}`;
    // curl waits a second for `100 Continue` on a large body unless told not to ask.
    const patch = [
      '-H',
      'Expect:',
      '-H',
      'Upload-Offset: 0',
      '-H',
      'Content-Type: application/offset+octet-stream',
    ];
    return this.timed(['-X', 'PATCH', '-T', path, ...tus, ...patch, url], 204);
  }
}

export async function webTransfers(options: {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly client: ClientContext;
  readonly workers: number;
  readonly source: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly clientDir: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { source, log, client, layout } = options;
  const root = join(layout.root, 'web');
  const cacert = join(root, 'ca.pem');
  const ferryHome = join(root, 'home');
  const logDir = join(root, 'logs');
  await mkdir(logDir, { recursive: true });
  await mkdir(join(ferryHome, 'xfer'), { recursive: true });
  const httpPort = await freePort();
  const ferry = await startFerry(
    options.repo,
    { ...layout, root, ferryHome, sharedDir: join(ferryHome, 'many'), logDir },
    options.cleanup,
    {
      workers: options.workers,
      extraArgs: ['--http-listen', `127.0.0.1:${httpPort}`],
      env: { FERRY_HTTP_TLS_KEY_NAME: 'web' },
      // HTTPS as a browser uses it: a certificate from the Key Manager, trusted by curl through --cacert.
      beforeStart: async (dataDir) => {
        const cli = (args: string[]) =>
          execFileAsync(process.execPath, ['bin/ferry.js', ...args, '--data-dir', dataDir], {
            cwd: options.repo,
          });
        await cli(['keys', 'x509', 'generate', 'web', '--cn', '127.0.0.1', '--san', 'IP:127.0.0.1']);
        await writeFile(cacert, (await cli(['keys', 'x509', 'export', 'web'])).stdout);
        const passwd = execFile(
          process.execPath,
          ['bin/ferry.js', 'users', 'passwd', 'bench', '--password-stdin', '--data-dir', dataDir],
          {
            cwd: options.repo,
          },
        );
        passwd.stdin?.end(`${PASSWORD}\n`);
        if ((await new Promise((r) => passwd.once('exit', r))) !== 0)
          throw new Error('web bench: ferry users passwd failed');
      },
    },
  );
  const web = new CurlSession(`https://127.0.0.1:${httpPort}`, join(root, 'cookies.txt'), cacert);
  const target = join(options.clientDir, 'web-down.bin');
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const up = { ferry: [] as number[], openssh: [] as number[] };
  const down = { ferry: [] as number[], openssh: [] as number[] };
  const upCpu = { ferry: [] as number[], openssh: [] as number[] };
  const downCpu = { ferry: [] as number[], openssh: [] as number[] };
  try {
    await web.login(ferry.user, PASSWORD);
    const stored = join(ferryHome, 'xfer', 'web-up.bin');
    // Not measured: the first upload each way pays for the TLS session, the JIT and the workers' first store calls.
    await web.upload(source.path, source.bytes, 'web-up.bin');
    await runBatch(ferry, client, `put ${source.path} /xfer/sftp-up.bin\n`);
    for (let run = 0; run < options.runs; run++) {
      // The previous run's file goes first, so each run creates the file anew.
      await rm(stored, { force: true });
      let cpu = await treeCpuMs(ferry.pid);
      const webMs = await web.upload(source.path, source.bytes, 'web-up.bin');
      upCpu.ferry.push(((await treeCpuMs(ferry.pid)) - cpu) / 1000 / gib);
      up.ferry.push(source.bytes / MIB / (webMs / 1000));
      if ((await sha256File(stored)) !== source.sha256) throw new Error('web bench: the web upload differs');
      cpu = await treeCpuMs(ferry.pid);
      const sftp = await runBatch(ferry, client, `put ${source.path} /xfer/sftp-up.bin\npwd\n`);
      upCpu.openssh.push(((await treeCpuMs(ferry.pid)) - cpu) / 1000 / gib);
      up.openssh.push(source.bytes / MIB / (commandMs(sftp) / 1000));
      log(
        `  upload ${size}: web ${up.ferry.at(-1)!.toFixed(0)} MiB/s, sftp ${up.openssh.at(-1)!.toFixed(0)} MiB/s`,
      );
    }
    for (let run = 0; run < options.runs; run++) {
      let cpu = await treeCpuMs(ferry.pid);
      const webMs = await web.timed([`${web.base}/files/download?path=/xfer/web-up.bin`], 200, target);
      downCpu.ferry.push(((await treeCpuMs(ferry.pid)) - cpu) / 1000 / gib);
      down.ferry.push(source.bytes / MIB / (webMs / 1000));
      if ((await sha256File(target)) !== source.sha256)
        throw new Error('web bench: the web download differs');
      await rm(target);
      cpu = await treeCpuMs(ferry.pid);
      const sftp = await runBatch(ferry, client, `get /xfer/sftp-up.bin ${target}\npwd\n`);
      downCpu.openssh.push(((await treeCpuMs(ferry.pid)) - cpu) / 1000 / gib);
      down.openssh.push(source.bytes / MIB / (commandMs(sftp) / 1000));
      if ((await sha256File(target)) !== source.sha256)
        throw new Error('web bench: the sftp download differs');
      await rm(target);
      log(
        `  download ${size}: web ${down.ferry.at(-1)!.toFixed(0)} MiB/s, sftp ${down.openssh.at(-1)!.toFixed(0)} MiB/s`,
      );
    }
  } finally {
    await ferry.stop();
  }
  return throughputRows(0.7, [
    {
      id: 'web-upload',
      label: `web client upload 1×${size}, tus over HTTPS/1.1, curl (OpenSSH column: Ferry's SFTP, OpenSSH sftp)`,
      mibPerS: up,
      cpuPerGib: upCpu,
    },
    {
      id: 'web-download',
      label: `web client download 1×${size}, HTTPS/1.1 GET, curl (OpenSSH column: Ferry's SFTP, OpenSSH sftp)`,
      mibPerS: down,
      cpuPerGib: downCpu,
    },
  ]);
}

/** The web client rows (curl is the client; it is in .ci/run's packages). */
export async function webScenario(options: ProtocolRowsOptions): Promise<Measurement[]> {
  options.log(
    `web client: ${options.bytes / MIB} MiB up and down, ${options.runs} runs, tus/HTTP vs SFTP on one Ferry (curl, sftp)`,
  );
  return webTransfers({ ...options, source: await sourceFile(options, 'web.bin') });
}
