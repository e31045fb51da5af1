/**
 * `--cpu-prof`: CPU profiles of both sides for the optimisation work (issue 5 asks to profile
 * first). Side B is started with node's own `--cpu-prof`; side A profiles itself through the
 * inspector, so the tsx launcher in front of it needs no flags. Open the .cpuprofile files in
 * Chrome DevTools (Performance tab) or speedscope.
 */
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Starts profiling this process; the returned function stops and writes `<dir>/A-<stamp>.cpuprofile`. */
export async function profileSelf(dir: string, stamp: string): Promise<() => Promise<string>> {
  mkdirSync(dir, { recursive: true })
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    const file = join(dir, `A-${stamp}.cpuprofile`)
    writeFileSync(file, JSON.stringify(profile))
    return file
  }
}

/** Node flags that make side B write its profile into `dir` when it exits. */
export function childProfileArgs(dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200']
}
