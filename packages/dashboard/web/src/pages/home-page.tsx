/** The overview: how many assets, how many available, by the UNS tree's top groups. */
import { assets, assetsLoaded, tree } from '../assets.ts'
import { me } from '../auth.ts'
import { rollup } from '../uns-tree.ts'

export function HomePage() {
  const all = [...assets.value.values()]
  const available = all.filter((a) => a.availability === 'AVAILABLE').length
  const groups = tree.value.flatMap((r) =>
    r.asset ? [] : r.children.filter((c) => !c.asset).length > 0 ? r.children : [r],
  )
  return (
    <section aria-labelledby="home-heading">
      <h1 id="home-heading">Overview</h1>
      {!assetsLoaded.value ? (
        <p class="loading">Loading assets…</p>
      ) : (
        <>
          <p class="summary">
            <strong>{all.length}</strong> assets, <strong>{available}</strong> available,{' '}
            <strong>{all.length - available}</strong> unavailable.
          </p>
          <table class="overview">
            <caption>Availability by area</caption>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Available</th>
                <th scope="col">Assets</th>
              </tr>
            </thead>
            <tbody>
              {groups
                .filter((g) => !g.asset)
                .map((g) => (
                  <tr key={g.key} class={`rollup-${rollup(g)}`}>
                    <th scope="row">{g.label}</th>
                    <td>{g.available}</td>
                    <td>{g.total}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </>
      )}
      <h2>Using the dashboard</h2>
      <ul>
        <li>The tree beside this page is the factory's Unified Namespace; open an asset to see its data live.</li>
        <li>In the tree: arrow keys move and open, Enter opens an asset, typing in the search field narrows it.</li>
        <li>
          {me.value?.kind === 'open'
            ? 'This server runs without authentication (on loopback only).'
            : `Signed in as ${me.value?.name ?? me.value?.id ?? ''} (${me.value?.role ?? ''}).`}
        </li>
      </ul>
    </section>
  )
}
