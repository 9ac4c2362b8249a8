// Prints one plain "N passed, N failed" line over every test run of .ci/run, from vitest's JSON
// reports, after a line per run. Arguments: LABEL=FILE … (a bare FILE is labelled by its name).
// Exits 1 when a report is missing or unreadable, any test failed, or no test ran at all.
import { readFileSync } from "node:fs";

const runs = (process.argv.length > 2 ? process.argv.slice(2) : ["test-results.json"]).map((arg) => {
  const at = arg.indexOf("=");
  return at > 0 ? { label: arg.slice(0, at), file: arg.slice(at + 1) } : { label: arg, file: arg };
});

let passed = 0;
let failed = 0;
let ok = true;
for (const { label, file } of runs) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    // A run that left no report (it crashed or never started) counts as one failure.
    console.log(`  ${label}: no test report (${e.code ?? e.message}): counted as 1 failure`);
    failed += 1;
    ok = false;
    continue;
  }
  const p = report.numPassedTests ?? 0;
  let f = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // Errors outside any test (a crashed worker, an unhandled rejection) fail the run: count one.
  const broken = report.success === false && f === 0;
  if (broken) f = 1;
  if (f > 0 || p === 0) ok = false;
  passed += p;
  failed += f;
  const skipped = s > 0 ? `, ${s} skipped` : "";
  console.log(
    `  ${label}: ${p} tests passed, ${f} failed${skipped}${broken ? " (errors outside tests)" : ""}`,
  );
  // Name what failed, so that a red run says which test without the whole log.
  for (const line of failures(report)) console.log(`    ${line}`);
}
if (passed === 0) ok = false;

/** "file > test: first line of the error" for each failed test, and each file that failed to run. */
function failures(report) {
  const lines = [];
  for (const file of report.testResults ?? []) {
    const name = String(file.name ?? "").replace(`${process.cwd()}/`, "");
    const failed = (file.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failed)
      lines.push(`${name} > ${a.fullName ?? a.title}: ${firstLine(a.failureMessages?.[0])}`);
    if (failed.length === 0 && file.status === "failed") lines.push(`${name}: ${firstLine(file.message)}`);
  }
  return lines;
}

function firstLine(text) {
  const line =
    String(text ?? "")
      .split("\n")
      .find((l) => l.trim() !== "") ?? "(no message)";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
