// ava under Node for Windows in Wine (npm run test:windows): TypeScript through Node's own type
// stripping, test files in worker threads (Wine gives child processes' stdio pipes, but the runner's
// own forks are slower there), the portable suites only: the rest test Linux behaviour.
export default {
  extensions: { ts: 'module' },
  files: ['__test__/smoke.spec.ts', '__test__/platform.spec.ts', '__test__/cross-process.spec.ts'],
  nodeArguments: ['--experimental-strip-types', '--no-warnings'],
  workerThreads: true,
  concurrency: 1,
  timeout: '5m',
}
