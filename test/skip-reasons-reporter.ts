// A vitest reporter beside the default one: the default output shows a skipped test only as
// "↓ … skipped", so this lists every skipped test with its reason (its note, or the reason its
// name carries) and ends the run with one line saying what was not covered here and how to cover it.

import type { Reporter, TestModule } from "vitest/node";

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== "skipped") continue;
        const file = module.moduleId.replace(`${process.cwd()}/`, "");
        skipped.push(`  ↓ ${file} › ${test.fullName}${result.note ? ` — ${result.note}` : ""}`);
      }
    }
    if (skipped.length === 0) {
      console.log("\nEvery test ran on this machine; none was skipped.");
      return;
    }
    console.log(`\nSkipped on this machine (${skipped.length}), and why:\n${skipped.join("\n")}`);
    console.log(
      `\nNot covered here: ${skipped.length} test${skipped.length > 1 ? "s" : ""} that need${skipped.length > 1 ? "" : "s"} what this machine lacks (headless GL under Xvfb, Dawn for webgpu, Chromium). To cover them, install .ci/run's packages (apt-get install libxi-dev xvfb chromium libvulkan1 mesa-vulkan-drivers patchelf; npm_config_nodedir=/usr npm ci; bash scripts/webgpu-node.sh) and run bash .ci/run.`,
    );
  }
}
