// The typings (index.d.ts) describe this file; the loader is main.cjs, the package's entry.
module.exports = require('./main.cjs')
