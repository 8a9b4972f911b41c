// Headless Chromium (Debian's `chromium` package) driven by playwright-core: never a browser build of
// Playwright's own (`npx playwright install` is not used).
import { chromium, type BrowserContext } from 'playwright-core'
import { makeTempDir, removeTempDir } from './procs.js'
import { assertTools, whichTool } from './tools.js'

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // a test clicks play on the page's own player; autoplay rules would stop media started any other way
  '--autoplay-policy=no-user-gesture-required'
]

export interface Browser {
  context: BrowserContext
  /** a folder removed with the browser (unless HARNESS_KEEP_TMP is set), e.g. for screenshots */
  dir: string
  close: () => Promise<void>
}

/** Launches Chromium with a fresh profile of its own. */
export async function launchChromium (): Promise<Browser> {
  assertTools('chromium')
  const dir = makeTempDir('chromium')
  const context = await chromium.launchPersistentContext(`${dir}/profile`, {
    executablePath: whichTool('chromium')!,
    headless: true,
    args: ARGS,
    timeout: 30000
  })
  return {
    context,
    dir,
    close: async () => {
      await context.close()
      removeTempDir(dir)
    }
  }
}
