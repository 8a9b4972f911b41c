import { launchChromium } from './test/helpers/browser.ts'
import { playHls, startPlayerServer } from './test/helpers/hls-player.ts'
const b = await launchChromium(); const s = await startPlayerServer()
const p = await playHls(b, s, 'http://127.0.0.1:8931/index.m3u8')
await p.page.evaluate(() => { (window as any).log = []; const a = document.getElementById('player') as HTMLAudioElement; setInterval(() => { for (const t of Array.from(a.textTracks)) (window as any).log.push(`${a.currentTime.toFixed(2)} ${t.kind} ${t.mode} ${t.cues?.length}`) }, 20) })
await new Promise((r) => setTimeout(r, 4000))
console.log(await p.page.evaluate(() => (window as any).log.filter((x: string, i: number, all: string[]) => i === 0 || x.split(' ').slice(1).join() !== all[i - 1].split(' ').slice(1).join())))
console.log(await p.report())
await b.close(); await s.close()
