// ava under an emulated Node (npm run test:arm64): TypeScript through Node's own type stripping (the
// usual loader's native part does not exist for the emulated target), longer timeouts.
export default {
  extensions: { ts: 'module' },
  files: [
    '__test__/smoke.spec.ts',
    '__test__/region.spec.ts',
    '__test__/reentry.spec.ts',
    '__test__/lifetime.spec.ts',
    '__test__/sync.spec.ts',
  ],
  nodeArguments: ['--experimental-strip-types', '--no-warnings', '--expose-gc'],
  workerThreads: false,
  concurrency: 2,
  timeout: '10m',
}
