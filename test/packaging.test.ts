// The service files: the systemd unit passes systemd-analyze, the container health check tells SSH from silence,
// and the Dockerfile's stages, user and files hold together (it is not built here: no registry access).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONFIG_KEYS, envNameOf } from '../src/config/schema.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ROOT = join(import.meta.dirname, '..');
const UNIT = readFileSync(join(ROOT, 'contrib', 'ferry.service'), 'utf8');

function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

function systemdAnalyze(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describe('contrib/ferry.service', () => {
  const unit = directives(UNIT);

  test('runs bin/ferry.js serve directly with node, as ferry, hardened, with the data dir the only writable path', () => {
    assert.match(
      unit.get('ExecStart')?.[0] ?? '',
      /^\/usr\/bin\/node --initial-old-space-size=256 --max-semi-space-size=4 --expose-gc \/opt\/ferry\/bin\/ferry\.js serve$/,
    );
    assert.ok(![...unit.values()].flat().some((v) => /\bnpm\b/.test(v)), 'never through npm');
    assert.deepEqual(unit.get('User'), ['ferry']);
    assert.deepEqual(unit.get('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(unit.get('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(unit.get('NoNewPrivileges'), ['yes']);
    assert.deepEqual(unit.get('ProtectSystem'), ['strict']);
    assert.deepEqual(unit.get('PrivateTmp'), ['yes']);
    assert.deepEqual(unit.get('Restart'), ['on-failure']);
    const env = Object.fromEntries(
      (unit.get('Environment') ?? []).map((e) => e.split('=', 2) as [string, string]),
    );
    assert.equal(env.FERRY_SFTP_PORT, '22');
    assert.deepEqual(unit.get('ReadWritePaths'), [env.FERRY_DATA_DIR]);
    assert.equal(unit.get('WorkingDirectory')?.[0], env.FERRY_DATA_DIR);
    // Every FERRY_* variable it sets is one `ferry serve` reads.
    const known = new Set(CONFIG_KEYS.map(envNameOf));
    for (const name of Object.keys(env).filter((n) => n.startsWith('FERRY_')))
      assert.ok(known.has(name), name);
  });

  test('passes systemd-analyze verify without a warning', async (t) => {
    const analyze = systemdAnalyze();
    if (!analyze) {
      t.skip('systemd-analyze is not installed (Debian package systemd); the unit was not verified');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'ferry-unit-'));
    try {
      // verify checks that ExecStart's program exists; where node lives elsewhere, point the copy at this node.
      const text = existsSync('/usr/bin/node') ? UNIT : UNIT.replace('/usr/bin/node', process.execPath);
      await writeFile(join(dir, 'ferry.service'), text);
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(analyze, ['verify', '--man=no', join(dir, 'ferry.service')], (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
        );
      });
      assert.equal(result.code, 0, result.output);
      assert.equal(result.output.trim(), '', 'no warnings (unknown keys are only warnings)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('contrib/healthcheck.mjs', () => {
  let server: TestServer;
  let silent: Server;
  let silentPort: number;
  before(async () => {
    server = await startTestServer();
    silent = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => silent.close(resolve));
  });

  const check = (port: number) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'contrib', 'healthcheck.mjs'), String(port)],
        (err, _out, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });

  test('is healthy when Ferry answers with its SSH banner, and the checks never score with the defender', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await check(server.port)).code, 0);
    assert.deepEqual(await server.running.context.store.defender.list(), []);
  });

  test('is unhealthy when nothing listens or something else answers', async () => {
    const closed = await check(silentPort + 1 === server.port ? silentPort + 2 : silentPort + 1);
    assert.equal(closed.code, 1);
    const other = await check(silentPort);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /unexpected greeting 'HTTP\/1\.1 400 Bad Request'/);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);

  test('builds in one stage and runs as an unprivileged user in another, with a health check', () => {
    assert.equal(stages.length, 2);
    assert.match(stages[0]!, /npm ci/);
    assert.match(stages[1]!, /^USER ferry$/m);
    assert.match(stages[1]!, /HEALTHCHECK[\s\S]*contrib\/healthcheck\.mjs/);
    assert.match(
      stages[1]!,
      /ENTRYPOINT \["node", "--initial-old-space-size=256", "--max-semi-space-size=4", "--expose-gc", "\/opt\/ferry\/bin\/ferry\.js"\]/,
    );
  });

  test('the build stage compiles the sources (npm ci runs prepare) and the runtime stage takes what it built', () => {
    const build = stages[0]!;
    // `npm ci` runs `prepare` (tsc, then the kysely bundle and the app bundle): the sources, the tsconfig files
    // and the bundling scripts must be in the stage before it.
    for (const needed of [
      'COPY src ',
      'tsconfig.build.json',
      'COPY native ',
      'COPY patches ',
      'COPY scripts/bundle-kysely.mjs scripts/bundle-app.mjs ',
    ])
      assert.ok(build.indexOf(needed) < build.indexOf('RUN npm ci'), `${needed} before npm ci`);
    assert.match(build, /npm prune --omit=dev/);
    assert.match(build, /test -f dist\/bundle\/main\.js/);
    assert.match(build, /test -f dist\/vendor\/kysely\.cjs/);
    const runtime = stages[1]!;
    for (const path of [
      'package.json',
      'bin',
      'dist',
      'node_modules',
      'native/confine/build/Release/confine.node',
    ])
      assert.match(runtime, new RegExp(`^COPY --from=build /opt/ferry/${path} `, 'm'), path);
    assert.doesNotMatch(runtime, /^COPY .*\bsrc\b/m, 'no sources in the runtime image');
  });

  test('copies only files that exist', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of m[1]!.split(/\s+/)) assert.ok(existsSync(join(ROOT, source)), source);
    }
  });
});
