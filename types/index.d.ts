// The public types are generated from lib/ into dist/ by `npm run build`; this entry re-exports them so
// that `types/` stays the one place the package's types are read from and tested (index.test-d.ts).
export * from '../dist/index.js'
export { default } from '../dist/index.js'
