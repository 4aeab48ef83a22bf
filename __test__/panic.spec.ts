// A bug in mapshare (a Rust panic) becomes a JS error, never a crash: run in a child process, where an
// abort would show as a signal instead of taking the test runner down.
import test from 'ava'
import { fixture, run } from './helpers/spawn.ts'

test('a Rust panic is a JS error: ERR_MAPSHARE_INTERNAL in a region operation, and the region stays usable', async (t) => {
  const r = await run(fixture('panics.ts'))
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Record<string, { name: string; code: string; message: string } | string>
  t.like(out.inRegion, {
    name: 'Error',
    code: 'ERR_MAPSHARE_INTERNAL',
    message: 'internal error in mapshare (please report it): a deliberate panic in a region',
  })
  // Outside a region operation napi-rs's own guard catches it (its code is the Node-API status).
  t.like(out.atBoundary, {
    name: 'Error',
    code: 'GenericFailure',
    message: 'a deliberate panic at the boundary',
  })
  t.is(out.after, 'still here', 'the region the panic happened in still reads and closes')
})
