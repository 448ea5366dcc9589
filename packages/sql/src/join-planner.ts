/**
 * Planning a persistent query with a JOIN (operators/join.ts runs it), as ksqlDB plans it:
 *
 * - stream–stream (`WITHIN` required; INNER, LEFT, RIGHT, FULL), stream–table (the table's primary key in the ON;
 *   INNER, LEFT), table–table on the primary keys (INNER, LEFT, RIGHT, FULL), table–table on a foreign key (the
 *   left table's column = the right table's primary key; INNER, LEFT). A table cannot be joined with a stream on
 *   its right. One JOIN per query; its ON is one equality between an expression of each side.
 * - The result is a stream when a stream is joined, a table when two tables are. Its key is the join key — the
 *   projection must hold one side's join expression, which names the key column (the left one's value, the right
 *   one's for RIGHT, either's for FULL) — or, for a foreign-key join, the left table's primary key (which must be
 *   projected); a stream result may be re-keyed with PARTITION BY instead.
 * - A stream whose join expression is not its key, or whose partition count differs from the other side's, is
 *   repartitioned first (an internal topic `_ofa_sql_<query id>_<side>_repartition`). Two tables joined on their
 *   keys must have the same partition count (ksqlDB asks the same).
 */
import { OpenFactoryError } from '@openfactory/model'
import { type ColumnRefNode, childExpressions, type Expression, type JoinNode, type QueryNode } from './ast.ts'
import type { DataSource } from './catalog.ts'
import { type Compiled, compileExpression, type Scope } from './expressions.ts'
import {
  decodeRepartitioned,
  foreignKeyJoin,
  type JoinOutput,
  type JoinSide,
  repartitionProcessor,
  streamStreamJoin,
  streamTableJoin,
  tableTableJoin,
} from './operators/join.ts'
import type { BuildContext, QueryBuild, TopicNeed } from './plan.ts'
import {
  type CompiledItem,
  condition,
  eventTime,
  exprKey,
  guarded,
  type KeyItem,
  outputItems,
  type PlanContext,
  partitionByKey,
  projection,
  type QueryShape,
  SourceScope,
  unknownColumn,
  unsupported,
} from './planner.ts'
import type { ProcessorSpec } from './processor/processor.ts'
import { createRowCodec, type Row } from './row-codec.ts'
import { createSerde } from './serde/index.ts'
import { formatType, type SqlType, type SqlValue } from './types.ts'

interface Side {
  readonly source: DataSource
  readonly alias: string
  /** Columns of this side alone (its own row). */
  readonly own: SourceScope
  /** Its join expression over its own row. */
  readonly on: Expression
  readonly key: Compiled
  /** The join expression is the source's (one-column) key: its records are partitioned by it already. */
  readonly keyed: boolean
}

/** Both sides' columns in the joined row `[...left, ...right]`; an unqualified name in both is ambiguous. */
class JoinScope implements Scope {
  readonly #sides: readonly { scope: SourceScope; name: string }[]

  constructor(sides: readonly { scope: SourceScope; name: string }[]) {
    this.#sides = sides
  }

  column(ref: ColumnRefNode): { index: number; type: SqlType } {
    const hits = this.#sides.filter((s) => s.scope.has(ref))
    if (hits.length > 1) {
      throw new OpenFactoryError(
        'OFA_SQL_TYPE',
        `column ${ref.name} is in ${hits.map((h) => h.name).join(' and ')}: qualify it (${hits[0]?.name}.${ref.name})`,
        { where: ref.where },
      )
    }
    if (hits.length === 0 && ref.source === null) {
      throw unknownColumn(`no source of this join has a column ${ref.name}`, ref.where)
    }
    const hit = hits[0] ?? this.#sides.find((s) => s.name === ref.source) ?? this.#sides[0]
    return (hit as { scope: SourceScope }).scope.column(ref)
  }
}

/** Column references of an expression. */
function columnRefs(e: Expression, out: ColumnRefNode[] = []): ColumnRefNode[] {
  if (e.kind === 'ColumnRefNode') {
    out.push(e)
    return out
  }
  for (const c of childExpressions(e)) columnRefs(c, out)
  return out
}

/** The ON clause as one expression per side: `left = right` (either written first). */
function splitOn(join: JoinNode, left: SourceScope, right: SourceScope): [Expression, Expression] {
  const on = join.on
  if (on.kind !== 'ComparisonNode' || on.op !== '=') {
    throw unsupported('a join condition is one equality between the two sides (ON a.x = b.y)', on.where)
  }
  const sideOf = (e: Expression): 0 | 1 | undefined => {
    const refs = columnRefs(e)
    if (refs.length === 0) return undefined
    if (refs.every((r) => left.has(r))) return 0
    if (refs.every((r) => right.has(r))) return 1
    return undefined
  }
  const a = sideOf(on.left)
  const b = sideOf(on.right)
  if (a === 0 && b === 1) return [on.left, on.right]
  if (a === 1 && b === 0) return [on.right, on.left]
  throw unsupported(
    'each side of a join condition names the columns of one source, one side each (ON a.x = b.y)',
    on.where,
  )
}

function isKeyOf(source: DataSource, scope: SourceScope, e: Expression): boolean {
  if (e.kind !== 'ColumnRefNode' || source.schema.keys.length !== 1) return false
  return scope.column(e).index === 0
}

export function joinShape(query: QueryNode, ctx: PlanContext): QueryShape {
  const join = query.joins[0] as JoinNode
  if (query.joins.length > 1) throw unsupported('one JOIN per query for now', query.joins[1]?.where)
  if (query.groupBy.length > 0) throw unsupported('GROUP BY over a join is not supported yet', query.groupBy[0]?.where)
  if (query.window) throw unsupported('WINDOW over a join is not supported yet', query.window.where)
  if (query.having) throw unsupported('HAVING needs GROUP BY', query.having.where)
  const functions = ctx.functions
  const sources = [query.from, join.relation].map((rel) => {
    const source = ctx.catalog.require(rel.name, rel.where)
    return { source, alias: rel.alias ?? rel.name, rel }
  })
  const [l, r] = sources as [(typeof sources)[0], (typeof sources)[0]]
  if (l.alias === r.alias) throw unsupported(`both sides of the join are ${l.alias}: alias one`, join.relation.where)
  const lOwn = new SourceScope(l.source, l.alias)
  const rOwn = new SourceScope(r.source, r.alias)
  const [lOn, rOn] = splitOn(join, lOwn, rOwn)
  const side = (s: typeof l, own: SourceScope, on: Expression): Side => ({
    source: s.source,
    alias: s.alias,
    own,
    on,
    key: compileExpression(on, { scope: own, functions }),
    keyed: isKeyOf(s.source, own, on),
  })
  const left = side(l, lOwn, lOn)
  const right = side(r, rOwn, rOn)
  const lt = left.key.type
  const rt = right.key.type
  if (lt && rt && formatType(lt) !== formatType(rt)) {
    throw new OpenFactoryError(
      'OFA_SQL_TYPE',
      `the join compares ${formatType(lt)} with ${formatType(rt)}: cast one side so both have one type`,
      { where: join.on.where },
    )
  }
  const kinds = `${left.source.kind}-${right.source.kind}`
  const type = join.type
  let physical: 'stream-stream' | 'stream-table' | 'table-table' | 'foreign-key'
  if (kinds === 'TABLE-STREAM') {
    throw unsupported('a table cannot be joined with a stream on its right: put the stream first', join.where)
  } else if (kinds === 'STREAM-STREAM') {
    if (!join.within) throw unsupported('a stream-stream join needs WITHIN (a time window)', join.where)
    physical = 'stream-stream'
  } else {
    if (join.within) throw unsupported('WITHIN applies to stream-stream joins only', join.within.where)
    if (!right.keyed) {
      throw unsupported(
        `a join with table ${right.source.name} must use its primary key (${right.source.schema.keys.map((k) => k.name).join(', ')}) in the ON`,
        join.on.where,
      )
    }
    physical = kinds === 'STREAM-TABLE' ? 'stream-table' : left.keyed ? 'table-table' : 'foreign-key'
    if ((physical === 'stream-table' || physical === 'foreign-key') && type !== 'INNER' && type !== 'LEFT') {
      throw unsupported(`a ${physical} join is INNER or LEFT, not ${type}`, join.where)
    }
  }

  // The joined row: the left row then the right row.
  const lWidth = left.source.schema.width
  const scope = new JoinScope([
    { scope: new SourceScope(left.source, left.alias), name: left.alias },
    { scope: new SourceScope(right.source, right.alias, lWidth), name: right.alias },
  ])
  const items: CompiledItem[] = outputItems(query, sources).map((i) => ({
    ...i,
    c: compileExpression(i.expression, { scope, functions }),
  }))
  const where = condition(query.filter, ctx, scope)
  const resultKind = physical === 'table-table' || physical === 'foreign-key' ? 'TABLE' : 'STREAM'

  // The result's key.
  let keyItems: KeyItem[]
  let valueItems: CompiledItem[] = items
  const resolves = (e: Expression, index: number): boolean => {
    if (e.kind !== 'ColumnRefNode') return false
    try {
      return scope.column(e).index === index
    } catch {
      return false
    }
  }
  if (query.partitionBy.length > 0) {
    if (resultKind === 'TABLE') throw unsupported('PARTITION BY applies to streams', query.partitionBy[0]?.where)
    ;({ keyItems, valueItems } = partitionByKey(query, items, scope, ctx))
  } else if (physical === 'foreign-key') {
    const k = left.source.schema.keys[0]
    const projected = items.find((it) => resolves(it.expression, 0))
    if (!k || !projected) {
      throw unknownColumn(
        `the key of a foreign-key join's result is ${left.alias}.${k?.name}: it must be in the projection`,
        query.where,
      )
    }
    valueItems = items.filter((it) => it !== projected)
    keyItems = [{ name: projected.name, type: k.type, eval: (row) => row[0] ?? null }]
  } else {
    // The join key: the projected item that is one side's join expression.
    const onRight = compileExpression(right.on, {
      scope: new SourceScope(right.source, right.alias, lWidth),
      functions,
    })
    const indexOf = (s: Side, offset: number): number =>
      s.on.kind === 'ColumnRefNode' ? s.own.column(s.on).index + offset : -1
    const same = (e: Expression, s: Side, offset: number): boolean =>
      exprKey(e) === exprKey(s.on) || (indexOf(s, offset) >= 0 && resolves(e, indexOf(s, offset)))
    const projected = items.find((it) => same(it.expression, left, 0) || same(it.expression, right, lWidth))
    if (!projected) {
      throw unknownColumn(
        `the result of a join is keyed by the join expression: project ${formatOn(left)} or ${formatOn(right)} (or re-key with PARTITION BY)`,
        query.where,
      )
    }
    valueItems = items.filter((it) => it !== projected)
    const lk = guarded(left.key.eval)
    const rk = guarded(onRight.eval)
    const keyEval: Compiled['eval'] =
      type === 'RIGHT' ? rk : type === 'FULL' ? (row) => lk(row) ?? rk(row) : (row) => lk(row)
    keyItems = [{ name: projected.name, type: (type === 'RIGHT' ? rt : lt) ?? { kind: 'STRING' }, eval: keyEval }]
  }
  const { schema, project } = projection(keyItems, valueItems)

  const build = (b: BuildContext, sink: DataSource): QueryBuild => {
    const out: JoinOutput = {
      topic: sink.topic,
      codec: createRowCodec(sink),
      ...(where ? { where } : {}),
      project,
      table: sink.kind === 'TABLE',
    }
    const direct = (s: Side): JoinSide => ({
      topic: s.source.topic,
      decode: createRowCodec(s.source).decode,
      key: guarded(s.key.eval),
      width: s.source.schema.width,
      time: eventTime(s.source),
    })
    const keySerde = (s: Side) => createSerde(s.source.keyFormat, s.source.schema.keys, { role: 'key' })
    const topics: TopicNeed[] = []
    const processors: ProcessorSpec[] = []
    const id = b.queryId
    /** The side re-keyed by its join value into an internal topic of `partitions`, keyed as `encode` writes. */
    const repartitioned = (s: Side, name: string, partitions: number, encode: (v: SqlValue) => Buffer | null) => {
      const topic = `_ofa_sql_${id}_${name}_repartition`
      topics.push({ name: topic, partitions, create: true })
      const d = direct(s)
      processors.push(
        repartitionProcessor({
          id: `${id}_${name.toUpperCase()}_REPARTITION`,
          input: s.source.topic,
          decode: d.decode,
          key: d.key,
          encodeKey: encode,
          output: topic,
        }),
      )
      return { ...d, topic, decode: decodeRepartitioned }
    }
    const nl = b.partitions(left.source.topic)
    const nr = b.partitions(right.source.topic)
    if (physical === 'stream-table') {
      const rs = keySerde(right)
      const ls = left.keyed && nl === nr ? direct(left) : repartitioned(left, 'left', nr, (v) => rs.encode([v]))
      processors.push(streamTableJoin({ id, type: type as 'INNER' | 'LEFT', left: ls, right: direct(right), out }))
    } else if (physical === 'stream-stream') {
      let ls = direct(left)
      let rs = direct(right)
      if (!(left.keyed && right.keyed && nl === nr)) {
        if (left.keyed) {
          const serde = keySerde(left)
          rs = repartitioned(right, 'right', nl, (v) => serde.encode([v]))
        } else if (right.keyed) {
          const serde = keySerde(right)
          ls = repartitioned(left, 'left', nr, (v) => serde.encode([v]))
        } else {
          const serde = createSerde('KAFKA', [{ name: 'K', type: lt ?? { kind: 'STRING' } }], { role: 'key' })
          ls = repartitioned(left, 'left', nl, (v) => serde.encode([v]))
          rs = repartitioned(right, 'right', nl, (v) => serde.encode([v]))
        }
      }
      const w = join.within as NonNullable<JoinNode['within']>
      processors.push(
        streamStreamJoin({
          id,
          type,
          left: ls,
          right: rs,
          window: { beforeMs: w.beforeMs, afterMs: w.afterMs, graceMs: w.gracePeriodMs ?? 0 },
          out,
        }),
      )
    } else if (physical === 'table-table') {
      if (nl !== nr) {
        throw unsupported(
          `tables ${left.source.name} (${nl} partitions) and ${right.source.name} (${nr}) are joined on their keys: they need the same partition count`,
          join.where,
        )
      }
      processors.push(tableTableJoin({ id, type, left: direct(left), right: direct(right), out }))
    } else {
      const ls = keySerde(left)
      const rs = keySerde(right)
      const subscriptions = `_ofa_sql_${id}_fk_subscriptions`
      const responses = `_ofa_sql_${id}_fk_responses`
      topics.push(
        { name: subscriptions, partitions: nr, create: true },
        { name: responses, partitions: nl, create: true },
      )
      const nk = left.source.schema.keys.length
      processors.push(
        ...foreignKeyJoin({
          ids: [id, `${id}_FK_RIGHT`],
          type: type as 'INNER' | 'LEFT',
          left: direct(left),
          leftKey: (row: Row) => row.slice(0, nk),
          encodeLeftKey: (values) => ls.encode(values),
          right: direct(right),
          encodeRightKey: (v) => rs.encode([v]),
          decodeRightKey: (bytes) => rs.decode(bytes ? Buffer.from(bytes) : null)?.[0] ?? null,
          subscriptions,
          responses,
          out,
        }),
      )
    }
    return { processors, topics }
  }
  return {
    schema,
    kind: resultKind,
    source: left.source,
    sources: [left.source.name, right.source.name],
    build,
  }
}

function formatOn(s: Side): string {
  return s.on.kind === 'ColumnRefNode' ? `${s.alias}.${s.on.name}` : 'the join expression'
}
