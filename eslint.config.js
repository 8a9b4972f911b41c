import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'coverage/**', '.tmp/**', 'types/**/*.d.ts', 'bench/results/**']
})
