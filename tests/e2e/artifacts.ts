/**
 * Where end-to-end tests keep what a person looks at after a run (screenshots, the workbench's logs):
 * `$MOLMO_TEST_ARTIFACTS`, else dist/test-artifacts/ in the repository.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../helpers/repo-root";

/** The artifacts folder for one test, emptied: what it holds afterwards comes from this run only. */
export function testArtifactsDir(testName: string): string {
  const root = process.env.MOLMO_TEST_ARTIFACTS ?? join(repoRoot(), "dist", "test-artifacts");
  const dir = join(root, testName);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
