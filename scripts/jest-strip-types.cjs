// Jest transformer that runs TypeScript the way Node 24 does at run time: types are erased in place
// (positions kept), nothing is down-levelled. Tests therefore see exactly the code production runs.
const { stripTypeScriptTypes } = require('node:module');

module.exports = {
  process(source, filename) {
    if (!filename.endsWith('.ts')) return { code: source };
    return { code: stripTypeScriptTypes(source, { mode: 'strip' }) };
  },
};
