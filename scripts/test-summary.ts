// Adds up the JSON reports of the jest runs of one `make test` and prints one closing line that any
// reader understands: `tests: N passed, N failed, N skipped`. A run that wrote no report (it crashed
// before its tests) counts as a failure, so a broken tier cannot pass by silence.
import { existsSync, readFileSync } from 'node:fs';

interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests?: number;
  numRuntimeErrorTestSuites: number;
  success: boolean;
}

let passed = 0;
let failed = 0;
let skipped = 0;
let broken = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    process.stderr.write(`test-summary: ${file} is missing: that run ended before reporting\n`);
    broken++;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as JestReport;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  broken += report.numRuntimeErrorTestSuites;
}
// A suite that failed to load has no failed test of its own; count it so the line cannot read clean.
failed += broken;
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(failed > 0 ? 1 : 0);
