// A tiny test runner: named async tests, "ok - name" / "not ok - name: error" lines, then the summary.
const tests = [];
export function test(name, fn) {
  const only = process.env.WEB_TEST_ONLY;
  if (!only || name.includes(only)) tests.push({ name, fn });
}

export async function run(suite, { before, after } = {}) {
  let passed = 0;
  let failed = 0;
  const ctx = {};
  try {
    if (before) await before(ctx);
  } catch (err) {
    console.log(`not ok - setup: ${err.stack || err}`);
    console.log(`${suite}: 0 passed, ${tests.length || 1} failed`);
    if (after) await after(ctx).catch(() => {});
    return 1;
  }
  for (const t of tests) {
    try {
      await t.fn(ctx);
      passed += 1;
      console.log(`ok - ${t.name}`);
    } catch (err) {
      failed += 1;
      console.log(`not ok - ${t.name}: ${String(err.stack || err).split('\n').slice(0, 4).join('\n    ')}`);
    }
  }
  if (after) await after(ctx).catch((err) => console.log(`# cleanup: ${err}`));
  console.log(`${suite}: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function equal(actual, expected, message) {
  if (actual !== expected) throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
