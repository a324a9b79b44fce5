// Child process for rotating-file.test.ts: appends numbered lines to a shared rotating file.
import { RotatingFile } from './rotating-file.js';

const [path, who, count] = process.argv.slice(2);
const file = new RotatingFile(path!, {
  maxBytes: 8192,
  keep: 50,
  onError: (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  },
});
for (let i = 0; i < Number(count); i++) file.write(`${JSON.stringify({ who, i, pad: 'y'.repeat(60) })}\n`);
file.close();
