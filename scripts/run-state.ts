// The state a script keeps per named process it runs (an OPC UA server, an MTConnect agent): `<run>/<name>/state.json`,
// written whole through a temporary file so that a reader never sees half of it.
import fs from 'node:fs'
import path from 'node:path'

export interface RunState<T extends { readonly name: string }> {
  /** The state of `name`, or undefined when there is none (or it cannot be read). */
  read(name: string): T | undefined
  write(state: T): void
  /** The names that have a state file. */
  names(): string[]
}

export function runState<T extends { readonly name: string }>(run: string): RunState<T> {
  const file = (name: string) => path.join(run, name, 'state.json')
  return {
    read(name) {
      try {
        return JSON.parse(fs.readFileSync(file(name), 'utf8')) as T
      } catch {
        return undefined
      }
    },
    write(state) {
      fs.mkdirSync(path.dirname(file(state.name)), { recursive: true })
      const tmp = `${file(state.name)}.tmp`
      fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`)
      fs.renameSync(tmp, file(state.name))
    },
    names() {
      try {
        return fs.readdirSync(run).filter((n) => fs.existsSync(file(n)))
      } catch {
        return []
      }
    },
  }
}
