import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'coverage/**', 'types/**/*.d.ts', 'bench/results/**']
})
