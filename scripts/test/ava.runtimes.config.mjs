// ava under other Node versions (npm run test:runtimes): the TypeScript of the tests and of src-js/
// through Node's own type stripping, so that the sources run as Node itself reads them.
export default {
  extensions: { ts: 'module' },
  files: [
    '__test__/smoke.spec.ts',
    '__test__/region.spec.ts',
    '__test__/sync.spec.ts',
    '__test__/views.spec.ts',
    '__test__/layout.spec.ts',
    '__test__/channel.spec.ts',
  ],
  nodeArguments: ['--experimental-strip-types', '--no-warnings', '--expose-gc'],
  workerThreads: false,
  timeout: '2m',
}
