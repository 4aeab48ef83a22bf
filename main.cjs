// The package entry: loads the generated loader (index.js), and when no prebuilt binary fits this
// machine, says which platform that is and what to do instead of a generic loader error.
'use strict'

function libc() {
  if (process.platform !== 'linux') return ''
  try {
    return process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl'
  } catch {
    return ''
  }
}

let binding
try {
  binding = require('./index.js')
} catch (cause) {
  const platform = `${process.platform}-${process.arch}${libc()}`
  const error = new Error(
    `mapshare has no prebuilt binary for this platform (${platform}, Node ${process.version}). ` +
      `Prebuilt packages exist for linux-x64/arm64 (gnu, musl), darwin-x64/arm64 and win32-x64/arm64; ` +
      `npm installs the one that fits as the optional dependency mapshare-${platform}. If it is missing, ` +
      `reinstall without --no-optional / --omit=optional (remove node_modules and package-lock.json if npm skipped it), ` +
      `or build from source with Rust installed: npm run build in the mapshare checkout.`,
  )
  error.code = 'ERR_MAPSHARE_NO_BINARY'
  error.cause = cause
  throw error
}

module.exports = binding
// Named exports, listed so that `import { MmapFile } from 'mapshare'` works from ES modules.
module.exports.MmapFile = binding.MmapFile
module.exports.Mutex = binding.Mutex
module.exports.SharedMemory = binding.SharedMemory
module.exports.ShmSegment = binding.ShmSegment
module.exports.ftok = binding.ftok
module.exports.pageSize = binding.pageSize
module.exports.allocationGranularity = binding.allocationGranularity
