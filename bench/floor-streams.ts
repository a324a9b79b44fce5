// The floor of the single-stream rows (issue 22's ≥ 1.2× target): OpenSSH's `sftp` moving one big file to and
// from Ferry's SSH transport and SFTP layer over a file session that does no file work
// (bench/floor/zero-work-ferry.ts), alternating A B B A with sshd doing its real work. Whatever ratio this row
// reads, no change behind Ferry's SFTP layer (core, file system, audit) can take the single-stream rows past it.
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostKey, startScript, zeroWorkServer } from './floor.js';
import { expectHash, type Measurement, type ScenarioContext } from './scenarios.js';
import type { BenchLayout } from './servers.js';
import { runBatch } from './sftp-client.js';
import { type StreamSource, streamRows } from './single-stream.js';

export async function singleStreamFloor(
  ctx: ScenarioContext,
  o: {
    readonly repo: string;
    readonly layout: BenchLayout;
    readonly source: StreamSource;
    readonly ciphers: readonly string[];
  },
): Promise<Measurement[]> {
  const sshd = ctx.servers.find((s) => s.name === 'openssh')!;
  // The zero-work server answers a download of /floor/down.bin with these bytes, held in its memory.
  const started = await startScript(ctx, o.repo, 'zero-work-ferry.ts', {
    HOST_KEY: await hostKey(join(o.layout.root, 'floor')),
    SOURCE: o.source.path,
  });
  const zeroWork = zeroWorkServer(
    started,
    "zero-work file session behind Ferry's ssh2 and SFTP layer (bench/floor/zero-work-ferry.ts)",
  );
  const floorCtx: ScenarioContext = { ...ctx, servers: [zeroWork, sshd] };
  const out: Measurement[] = [];
  await copyFile(o.source.path, join(sshd.localDir, 'down.bin'));
  try {
    for (const cipher of o.ciphers) {
      // Untimed: one of each per server, so the zero-work server's JavaScript is compiled when timed.
      for (const server of floorCtx.servers) {
        const back = join(ctx.clientDir, 'floor-warm.bin');
        await runBatch(server, ctx.client, `put ${o.source.path} ${server.remoteDir}/up.bin\n`, { cipher });
        await runBatch(server, ctx.client, `get ${server.remoteDir}/down.bin ${back}\n`, { cipher });
        await rm(back);
      }
      out.push(
        ...(await streamRows(floorCtx, o.source, cipher, {
          idPrefix: 'floor-',
          labelPrefix: 'floor: ',
          labelSuffix: ', zero-work file session (Ferry column)',
          // The zero-work server keeps nothing of an upload: only sshd's copy can be checked.
          async verifyUpload(server) {
            if (server !== sshd) return;
            await expectHash(join(sshd.localDir, 'up.bin'), o.source.sha256, 'floor upload to sshd');
            await rm(join(sshd.localDir, 'up.bin'));
          },
        })),
      );
    }
  } finally {
    await started.stop();
    await rm(join(sshd.localDir, 'down.bin'), { force: true });
    await rm(join(sshd.localDir, 'up.bin'), { force: true });
  }
  return out;
}
