// `npm run bench`: Ferry against OpenSSH's sshd on loopback with the same sftp client; table on stdout, JSON in bench/results.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { apiScenario } from './api.js';
import { Cleanup } from './cleanup.js';
import { clusterScenario } from './cluster.js';
import { ensureManyFiles, writeRandomFile } from './files.js';
import { singleStreamFloor } from './floor-streams.js';
import { ftpsScenario } from './ftps.js';
import { mftRows } from './mft-rows.js';
import { gpgAvailable, pgpEncryptFolder } from './pgp-folder.js';
import { planOf, SCENARIOS, type Scenario, USAGE } from './plan.js';
import { openSsh10Root, pqHandshakes } from './pq-handshakes.js';
import { BenchLog } from './profile-windows.js';
import type { ProtocolRowsOptions } from './protocol-rows.js';
import { formatTable, toRow } from './report.js';
import { rulesOverhead, startRuleReceivers } from './rules.js';
import { printLogTails, runEnvironment, smallFile, writableTmpfs } from './run-support.js';
import { s3Storage } from './s3-storage.js';
import {
  concurrentStreams,
  handshakes,
  idleMemory,
  listing,
  type Measurement,
  type ScenarioContext,
  warmUp,
} from './scenarios.js';
import {
  type BenchLayout,
  type BenchServer,
  makeClientKey,
  missingTools,
  startFerry,
  startSshd,
} from './servers.js';
import { HOST_KEY_ALGORITHM, KEX } from './sftp-client.js';
import { singleStream } from './single-stream.js';
import { startup } from './startup.js';
import { encryptedStorage } from './storage-encryption.js';
import { webScenario } from './web.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;
const WARM_UP_BYTES = 64 * MIB;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      runs: { type: 'string' },
      workers: { type: 'string' },
      threads: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const plan = planOf(values.quick, values.runs === undefined ? undefined : Number(values.runs));
  const only = new Set<Scenario>(values.only ? (values.only.split(',') as Scenario[]) : [...SCENARIOS]);
  for (const name of only) {
    if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario '${name}'\n${USAGE}`);
  }
  const workers = values.workers === undefined ? availableParallelism() : Number(values.workers);

  const missing = await missingTools();
  if (missing.length > 0) {
    process.stderr.write(`bench: missing (this script installs nothing):\n  ${missing.join('\n  ')}\n`);
    return 2;
  }

  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}: stopping servers and removing temp files\n`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = new Date();
  let logDir: string | undefined;
  const bench = new BenchLog();
  const log = bench.line;
  try {
    const scratchBase = await writableTmpfs();
    const root = cleanup.dir(await mkdtemp(join(scratchBase, 'ferry-bench-')));
    logDir = join(root, 'logs');
    const clientDir = join(root, 'client');
    await Promise.all([mkdir(logDir), mkdir(clientDir)]);
    const { key, pub } = await makeClientKey(root);
    const ferryHome = join(root, 'ferry-home');
    await mkdir(ferryHome);
    const layout: BenchLayout = {
      root,
      clientKey: key,
      clientPublicKey: pub,
      ferryHome,
      sharedDir: join(ferryHome, 'many'),
      logDir,
    };
    const cpuProfileDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
    if (cpuProfileDir) await bench.stampInto(cpuProfileDir);

    log(`bench (${plan.mode}) in ${root}`);
    const measurements: Measurement[] = [];
    // Start-up first, before any server runs: it measures processes starting, on a machine otherwise idle.
    if (only.has('startup')) {
      log(`startup: ${plan.startupRuns} runs`);
      measurements.push(...(await startup({ repo, root, cleanup, runs: plan.startupRuns, log })));
    }
    const described = { ferry: 'not run', openssh: 'not run' };
    if ([...only].some((name) => name !== 'startup')) {
      // The rules scenario's receivers run before Ferry: their SMTP port is part of its environment.
      const receivers = only.has('rules') ? await startRuleReceivers(cleanup) : undefined;
      const ferry = await startFerry(repo, layout, cleanup, {
        workers,
        threads: values.threads,
        ...(cpuProfileDir ? { cpuProfileDir } : {}),
        ...(receivers ? { env: receivers.env } : {}),
      });
      const openssh = await startSshd(layout, cleanup);
      log(`  ferry:   port ${ferry.port}: ${ferry.description}`);
      log(`  openssh: port ${openssh.port}: ${openssh.description}`);
      const servers: readonly BenchServer[] = [ferry, openssh];
      const ctx = (runs: number): ScenarioContext => ({
        servers,
        client: { key, cleanup },
        clientDir,
        runs,
        log,
      });

      // First, on servers that have served nothing yet: later transfers leave a grown heap behind that idle
      // sessions would quietly reuse, which would understate Ferry's cost per session.
      if (only.has('idle')) {
        log(`idle sessions: ${plan.idleSessions}, ${plan.idleRuns} runs per server`);
        measurements.push(...(await idleMemory(ctx(plan.idleRuns), plan.idleSessions)));
      }
      const warmPath = join(clientDir, 'warm.bin');
      const warm = { path: warmPath, sha256: await writeRandomFile(warmPath, WARM_UP_BYTES) };
      log(`warm-up: ${WARM_UP_BYTES / MIB} MiB up and down per server and cipher (not measured)`);
      await warmUp(ctx(1), warm, plan.ciphers);
      if (only.has('single') || only.has('singlefloor')) {
        const path = join(clientDir, 'single.bin');
        const source = {
          path,
          bytes: plan.singleBytes,
          sha256: await writeRandomFile(path, plan.singleBytes),
        };
        if (only.has('single')) {
          log(`single stream: ${plan.singleBytes / MIB} MiB, ${plan.singleRuns} runs per server and cipher`);
          for (const cipher of plan.ciphers)
            measurements.push(...(await singleStream(ctx(plan.singleRuns), source, cipher)));
        }
        if (only.has('singlefloor')) {
          log(
            `single-stream floor: ${plan.singleBytes / MIB} MiB against a zero-work file session and sshd, ${plan.singleRuns} runs per server and cipher`,
          );
          measurements.push(
            ...(await singleStreamFloor(ctx(plan.singleRuns), {
              repo,
              layout,
              source,
              ciphers: plan.ciphers,
            })),
          );
        }
      }
      if (only.has('concurrent')) {
        log(
          `concurrent: ${plan.streams} × ${plan.streamBytes / MIB} MiB, ${plan.streamRuns} runs per server`,
        );
        const path = join(clientDir, 'stream.bin');
        const source = {
          path,
          bytes: plan.streamBytes,
          sha256: await writeRandomFile(path, plan.streamBytes),
        };
        measurements.push(...(await concurrentStreams(ctx(plan.streamRuns), source, plan.streams)));
      }
      if (only.has('handshakes')) {
        log(`handshakes: ${plan.handshakeSessions} sessions, ${plan.handshakeRuns} runs per server`);
        measurements.push(...(await handshakes(ctx(plan.handshakeRuns), plan.handshakeSessions)));
      }
      if (only.has('pq')) {
        const root10 = openSsh10Root();
        if (root10) {
          log(
            `post-quantum kex: ${plan.handshakeSessions} OpenSSH 10 sessions, ${plan.handshakeRuns} alternating rounds`,
          );
          measurements.push(
            ...(await pqHandshakes({
              root: root10,
              ferry,
              key,
              publicKey: pub,
              sessions: plan.handshakeSessions,
              runs: plan.handshakeRuns,
              log,
            })),
          );
        } else log('post-quantum kex: skipped, OpenSSH 10 is not unpacked (scripts/fetch-openssh10.sh)');
      }
      if (only.has('listing')) {
        log(`listing: creating ${plan.listingFiles} files`);
        await ensureManyFiles(layout.sharedDir, plan.listingFiles);
        log(`listing: ${plan.listingRuns} runs per server`);
        measurements.push(...(await listing(ctx(plan.listingRuns), plan.listingFiles)));
      }
      measurements.push(...(await mftRows({ only, plan, repo, layout, ctx })));

      if (only.has('storage')) {
        log(
          `encrypted storage: ${plan.singleBytes / MIB} MiB, ${plan.singleRuns} runs, encrypted vs plain Ferry`,
        );
        const path = join(clientDir, 'storage.bin');
        const source = {
          path,
          bytes: plan.singleBytes,
          sha256: await writeRandomFile(path, plan.singleBytes),
        };
        measurements.push(
          ...(await encryptedStorage({
            repo,
            layout,
            cleanup,
            plain: ferry,
            workers,
            cpuProfileDir,
            client: { key, cleanup },
            source,
            clientDir,
            runs: plan.singleRuns,
            log,
          })),
        );
      }

      if (only.has('s3')) {
        const o = { repo, layout, cleanup, plain: ferry, workers, cpuProfileDir, clientDir, log };
        measurements.push(
          ...(await s3Storage({
            ...o,
            client: { key, cleanup },
            bytes: plan.singleBytes,
            runs: plan.singleRuns,
          })),
        );
      }

      if (only.has('pgp')) {
        if (await gpgAvailable()) {
          log(
            `PGP encrypt folder: ${plan.singleBytes / MIB} MiB, ${plan.singleRuns} runs, vs a plain folder`,
          );
          const path = join(clientDir, 'pgp.bin');
          const source = {
            path,
            bytes: plan.singleBytes,
            sha256: await writeRandomFile(path, plan.singleBytes),
          };
          measurements.push(
            ...(await pgpEncryptFolder({
              repo,
              dataDir: join(root, 'ferry-data'),
              root,
              ferry,
              client: { key, cleanup },
              source,
              warmUpPath: await smallFile(clientDir),
              runs: plan.singleRuns,
              log,
            })),
          );
        } else log('PGP encrypt folder: skipped, gpg is not installed (it checks what was stored)');
      }

      const protocolRows: ProtocolRowsOptions = {
        repo,
        layout,
        cleanup,
        client: { key, cleanup },
        workers,
        clientDir,
        bytes: plan.singleBytes,
        runs: plan.singleRuns,
        log,
      };
      if (only.has('ftps')) measurements.push(...(await ftpsScenario(protocolRows)));
      if (only.has('web')) measurements.push(...(await webScenario(protocolRows)));

      if (only.has('cluster')) {
        log(
          `cluster: ${plan.handshakeSessions} logins and ${plan.streams} × ${plan.streamBytes / MIB} MiB uploads, ${plan.streamRuns} runs, 2 nodes on PostgreSQL vs 1 on SQLite`,
        );
        const path = join(clientDir, 'cluster.bin');
        const source = {
          path,
          bytes: plan.streamBytes,
          sha256: await writeRandomFile(path, plan.streamBytes),
        };
        measurements.push(
          ...(await clusterScenario({
            repo,
            root,
            cleanup,
            plain: ferry,
            clientPublicKey: pub,
            client: { key, cleanup },
            source,
            workers,
            logins: plan.handshakeSessions,
            streams: plan.streams,
            runs: plan.streamRuns,
            log,
          })),
        );
      }

      if (receivers) {
        log(
          `rules: ${plan.rulesRuns} sessions of ${plan.rulesFiles} × ${plan.rulesBytes / MIB} MiB where 3 rules fire and as many where none matches (blocks of 10), then ${plan.rulesRuns} pairs of whole sessions, rules on and off`,
        );
        const path = join(clientDir, 'rules.bin');
        await writeRandomFile(path, plan.rulesBytes);
        measurements.push(
          await rulesOverhead({
            repo,
            dataDir: join(root, 'ferry-data'),
            ferry,
            client: { key, cleanup },
            receivers,
            source: { path, bytes: plan.rulesBytes },
            files: plan.rulesFiles,
            runs: plan.rulesRuns,
            log,
          }),
        );
      }
      await ferry.stop();
      await openssh.stop();
      if (only.has('api'))
        measurements.push(
          ...(await apiScenario({
            repo,
            layout,
            cleanup,
            client: { key, cleanup },
            workers,
            plan: plan.api,
            clientDir,
            log,
          })),
        );
      described.ferry = ferry.description;
      described.openssh = openssh.description;
    }
    const rows = measurements.map(toRow);
    const table = formatTable(rows);
    const finished = new Date();
    const record = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
      plan,
      ...(await runEnvironment(repo, scratchBase)),
      servers: described,
      client: {
        program: 'sftp -b -',
        kex: KEX,
        hostKeyAlgorithm: HOST_KEY_ALGORITHM,
        defaultCipher: plan.ciphers[0],
      },
      results: rows,
    };
    const out = resolve(
      values.out ?? join(repo, 'bench/results', plan.mode === 'quick' ? 'latest-quick.json' : 'latest.json'),
    );
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(record, null, 2)}\n`);
    process.stdout.write(
      `\nFerry (${described.ferry === 'not run' ? 'start-up only' : described.ferry}) vs OpenSSH (${record.versions.openssh}), ` +
        `${record.machine.cpuModel} × ${record.machine.cores} cores, ${plan.mode} run, ${record.durationS} s\n\n` +
        `${table}\n\nresults: ${out}\n`,
    );
    return 0;
  } catch (err) {
    if (!interrupted) {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      if (logDir) await printLogTails(logDir);
    }
    return 1;
  } finally {
    if (!interrupted) await cleanup.run();
  }
}

process.exitCode = await main();
