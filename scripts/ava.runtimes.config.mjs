// ava under other Node versions (npm run test:runtimes): TypeScript through Node's own type stripping.
// The usual loader (@oxc-node/core, through module.register() below Node 26.2) loses the named exports
// that index.js re-exports from main.cjs, which plain Node finds.
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
