// A thin layer over benchmark.js: run cases, print a markdown table, write JSON with the environment.
import Benchmark from "benchmark";
import { execSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../src/node/io.js";

export interface Case {
  name: string;
  fn: () => void;
  /** Floating-point operations per call, for GFLOP/s. */
  flops?: number;
  /** Elements processed per call, for M elements/s. */
  elements?: number;
  /** Seconds to sample this case (overrides the suite's maxTime), for headline numbers. */
  maxTime?: number;
}

export interface Row {
  name: string;
  meanMs: number;
  rmePercent: number;
  samples: number;
  opsPerSec: number;
  gflops?: number;
  melemsPerSec?: number;
}

export function environment(): Record<string, string> {
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: String(os.cpus().length),
    platform: `${os.platform()} ${os.arch()}`,
    date: new Date().toISOString(),
    commit,
  };
}

/** Run the cases one after another (benchmark.js picks the sample count; maxTime bounds each case). */
export function runCases(cases: Case[], maxTime: number): Row[] {
  const rows: Row[] = [];
  for (const c of cases) {
    const bench = new Benchmark(c.name, c.fn, { maxTime: c.maxTime ?? maxTime, minSamples: 5 });
    bench.run();
    const err = (bench as unknown as { error?: Error }).error;
    if (err) throw new Error(`benchmark "${c.name}" failed: ${err.message}`);
    const mean = bench.stats.mean;
    const row: Row = { name: c.name, meanMs: mean * 1e3, rmePercent: bench.stats.rme, samples: bench.stats.sample.length, opsPerSec: 1 / mean };
    if (c.flops) row.gflops = c.flops / mean / 1e9;
    if (c.elements) row.melemsPerSec = c.elements / mean / 1e6;
    rows.push(row);
    process.stderr.write(`  ${c.name}: ${row.meanMs.toFixed(3)} ms ±${row.rmePercent.toFixed(1)}% (${row.samples} samples)\n`);
  }
  return rows;
}

export function markdownTable(rows: Row[]): string {
  const lines = ["| case | mean | ±rme | samples | ops/s | GFLOP/s | M elem/s |", "|---|---:|---:|---:|---:|---:|---:|"];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${formatMs(r.meanMs)} | ${r.rmePercent.toFixed(1)}% | ${r.samples} | ${r.opsPerSec.toFixed(1)} | ${r.gflops?.toFixed(2) ?? ""} | ${r.melemsPerSec?.toFixed(0) ?? ""} |`);
  }
  return lines.join("\n");
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

/** Write a result file atomically (a temporary file renamed into place), creating its folder. */
export function writeResult(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  if (typeof value === "string") writeFileAtomic(file, value);
  else writeJsonAtomic(file, value);
}
