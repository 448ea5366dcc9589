/**
 * The syntax tree of our ksqlDB-dialect SQL, as the parser (parser.ts) builds it and the formatter (format.ts)
 * prints it back.
 *
 * Every node is a frozen object with a `kind` discriminant, a same-named factory, and `where`: the 1-based line
 * and column of its first token. Statements also keep `text`, their exact slice of the source (with its `;` when
 * one ends it), as ksqlDB's REST API echoes it as `statementText`.
 *
 * Conventions the planner relies on:
 * - Names (sources, columns, aliases, struct fields, functions, lambda parameters, query ids) are normalised as
 *   ksqlDB does: an unquoted identifier is upper-cased, a quoted one (`` `My Col` `` or `"My Col"`) keeps its case.
 *   WITH property names are always upper-cased.
 * - An absent optional part is `null` (never `undefined`); an absent list is `[]`.
 * - A literal records its SQL type (`type`, `null` for NULL). An integer is INTEGER when it fits 32 bits, else
 *   BIGINT; `1.5` is DECIMAL(2, 1); `1.5E3` is DOUBLE. A minus sign written right before a number is part of the
 *   literal (`-1` is the INTEGER literal −1, as ksqlDB folds it), but `-(1)` is a unary minus.
 * - `a || b` is the function call `CONCAT(a, b)`; `!=` and `<>` are both the comparison `'<>'`.
 * - Pair parts (MAP entries, STRUCT fields, CASE branches) are frozen plain objects without `kind`.
 */
import { SqlType } from './types.ts'

/** Where a node starts in the source: 1-based line and column (in UTF-16 code units, as editors count). */
export interface SqlPosition {
  readonly line: number
  readonly column: number
}

/** A frozen node; the arrays it is given are frozen in place (their elements are frozen already). */
function node<N extends { readonly kind: string }>(kind: N['kind'], props: Omit<N, 'kind'>): N {
  const out: Record<string, unknown> = { kind, ...props }
  for (const k in out) {
    const v = out[k]
    if (Array.isArray(v)) Object.freeze(v)
  }
  return Object.freeze(out) as unknown as N
}

type Props<N> = Omit<N, 'kind'>

// ---------------------------------------------------------------------------------------------------------------
// Expressions

export type Expression =
  | LiteralNode
  | ColumnRefNode
  | DereferenceNode
  | SubscriptNode
  | FunctionCallNode
  | LambdaNode
  | UnaryNode
  | ArithmeticNode
  | ComparisonNode
  | LogicalNode
  | NotNode
  | IsNullNode
  | InNode
  | LikeNode
  | BetweenNode
  | CaseNode
  | CastNode
  | ArrayNode
  | MapNode
  | StructNode

/** A literal: `type` is null for NULL; `value` is a number for INTEGER, BIGINT, DECIMAL and DOUBLE. */
export interface LiteralNode {
  readonly kind: 'LiteralNode'
  readonly type: SqlType | null
  readonly value: null | boolean | number | string
  readonly where: SqlPosition
}

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

/**
 * The digits of a DECIMAL literal with `scale` digits after the point, without exponent: the text the formatter
 * prints, from which the literal's precision is counted (so that printing and parsing agree).
 */
export function decimalText(value: number, scale: number): string {
  if (Math.abs(value) < 1e21) return value.toFixed(scale)
  const int = BigInt(Math.trunc(value)).toString()
  return scale > 0 ? `${int}.${'0'.repeat(scale)}` : int
}

export const LiteralNode = {
  create: (p: Props<LiteralNode>): LiteralNode => node('LiteralNode', p),
  null: (where: SqlPosition): LiteralNode => node('LiteralNode', { type: null, value: null, where }),
  boolean: (value: boolean, where: SqlPosition): LiteralNode =>
    node('LiteralNode', { type: SqlType.BOOLEAN, value, where }),
  string: (value: string, where: SqlPosition): LiteralNode =>
    node('LiteralNode', { type: SqlType.STRING, value, where }),
  /** INTEGER when the value fits 32 bits, else BIGINT. */
  integer: (value: number, where: SqlPosition): LiteralNode =>
    node('LiteralNode', {
      type: value >= INT32_MIN && value <= INT32_MAX ? SqlType.INTEGER : SqlType.BIGINT,
      value: value === 0 ? 0 : value,
      where,
    }),
  /** DECIMAL(p, scale), p counted from the literal's digits as ksqlDB does (leading zeros aside, at least scale). */
  decimal: (value: number, scale: number, where: SqlPosition): LiteralNode => {
    const v = value === 0 ? 0 : value
    const digits = decimalText(v, scale).replace(/[-.]/g, '').replace(/^0+/, '')
    const precision = Math.max(digits.length, scale, 1)
    return node('LiteralNode', { type: SqlType.decimal(precision, scale), value: v, where })
  },
  double: (value: number, where: SqlPosition): LiteralNode =>
    node('LiteralNode', { type: SqlType.DOUBLE, value, where }),
}

/** A column: `name` or `source.name`. Pseudo columns (ROWTIME, WINDOWSTART, ...) and lambda variables too. */
export interface ColumnRefNode {
  readonly kind: 'ColumnRefNode'
  readonly source: string | null
  readonly name: string
  readonly where: SqlPosition
}
export const ColumnRefNode = { create: (p: Props<ColumnRefNode>): ColumnRefNode => node('ColumnRefNode', p) }

/** A struct field: `base->field`. */
export interface DereferenceNode {
  readonly kind: 'DereferenceNode'
  readonly base: Expression
  readonly field: string
  readonly where: SqlPosition
}
export const DereferenceNode = {
  create: (p: Props<DereferenceNode>): DereferenceNode => node('DereferenceNode', p),
}

/** An array element (1-based, negative from the end, as ksqlDB) or a map value: `base[index]`. */
export interface SubscriptNode {
  readonly kind: 'SubscriptNode'
  readonly base: Expression
  readonly index: Expression
  readonly where: SqlPosition
}
export const SubscriptNode = { create: (p: Props<SubscriptNode>): SubscriptNode => node('SubscriptNode', p) }

/** `NAME(args)`; `COUNT(*)` is `star: true` with no args. Arguments may be lambdas. */
export interface FunctionCallNode {
  readonly kind: 'FunctionCallNode'
  readonly name: string
  readonly args: readonly Expression[]
  readonly star: boolean
  readonly where: SqlPosition
}
export const FunctionCallNode = {
  create: (p: Props<FunctionCallNode>): FunctionCallNode => node('FunctionCallNode', p),
}

/** `x => body` or `(x, y) => body`, only as a function argument. The body refers to params as ColumnRefNodes. */
export interface LambdaNode {
  readonly kind: 'LambdaNode'
  readonly params: readonly string[]
  readonly body: Expression
  readonly where: SqlPosition
}
export const LambdaNode = { create: (p: Props<LambdaNode>): LambdaNode => node('LambdaNode', p) }

export interface UnaryNode {
  readonly kind: 'UnaryNode'
  readonly op: '-' | '+'
  readonly operand: Expression
  readonly where: SqlPosition
}
export const UnaryNode = { create: (p: Props<UnaryNode>): UnaryNode => node('UnaryNode', p) }

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%'
export interface ArithmeticNode {
  readonly kind: 'ArithmeticNode'
  readonly op: ArithmeticOp
  readonly left: Expression
  readonly right: Expression
  readonly where: SqlPosition
}
export const ArithmeticNode = { create: (p: Props<ArithmeticNode>): ArithmeticNode => node('ArithmeticNode', p) }

export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=' | 'IS DISTINCT FROM' | 'IS NOT DISTINCT FROM'
export interface ComparisonNode {
  readonly kind: 'ComparisonNode'
  readonly op: ComparisonOp
  readonly left: Expression
  readonly right: Expression
  readonly where: SqlPosition
}
export const ComparisonNode = { create: (p: Props<ComparisonNode>): ComparisonNode => node('ComparisonNode', p) }

export interface LogicalNode {
  readonly kind: 'LogicalNode'
  readonly op: 'AND' | 'OR'
  readonly left: Expression
  readonly right: Expression
  readonly where: SqlPosition
}
export const LogicalNode = { create: (p: Props<LogicalNode>): LogicalNode => node('LogicalNode', p) }

export interface NotNode {
  readonly kind: 'NotNode'
  readonly operand: Expression
  readonly where: SqlPosition
}
export const NotNode = { create: (p: Props<NotNode>): NotNode => node('NotNode', p) }

/** `operand IS [NOT] NULL` */
export interface IsNullNode {
  readonly kind: 'IsNullNode'
  readonly operand: Expression
  readonly negated: boolean
  readonly where: SqlPosition
}
export const IsNullNode = { create: (p: Props<IsNullNode>): IsNullNode => node('IsNullNode', p) }

/** `operand [NOT] IN (list)` */
export interface InNode {
  readonly kind: 'InNode'
  readonly operand: Expression
  readonly list: readonly Expression[]
  readonly negated: boolean
  readonly where: SqlPosition
}
export const InNode = { create: (p: Props<InNode>): InNode => node('InNode', p) }

/** `operand [NOT] LIKE pattern [ESCAPE 'c']` */
export interface LikeNode {
  readonly kind: 'LikeNode'
  readonly operand: Expression
  readonly pattern: Expression
  readonly escape: string | null
  readonly negated: boolean
  readonly where: SqlPosition
}
export const LikeNode = { create: (p: Props<LikeNode>): LikeNode => node('LikeNode', p) }

/** `operand [NOT] BETWEEN low AND high` */
export interface BetweenNode {
  readonly kind: 'BetweenNode'
  readonly operand: Expression
  readonly low: Expression
  readonly high: Expression
  readonly negated: boolean
  readonly where: SqlPosition
}
export const BetweenNode = { create: (p: Props<BetweenNode>): BetweenNode => node('BetweenNode', p) }

/**
 * `WHEN when THEN then` (for a simple CASE, `when` is the value compared with the operand). A `then` that is never
 * a function does not make the object a thenable: `await` leaves it alone.
 */
export interface CaseBranch {
  readonly when: Expression
  readonly then: Expression
}

/** Searched (`operand: null`) or simple CASE; `otherwise` is the ELSE result (null when absent). */
export interface CaseNode {
  readonly kind: 'CaseNode'
  readonly operand: Expression | null
  readonly branches: readonly CaseBranch[]
  readonly otherwise: Expression | null
  readonly where: SqlPosition
}
export const CaseNode = {
  create: (p: Props<CaseNode>): CaseNode =>
    node('CaseNode', {
      ...p,
      branches: p.branches.map((b) =>
        // biome-ignore lint/suspicious/noThenProperty: an Expression, never a function (see CaseBranch).
        Object.freeze({ when: b.when, then: b.then }),
      ),
    }),
}

/** `CAST(operand AS type)` */
export interface CastNode {
  readonly kind: 'CastNode'
  readonly operand: Expression
  readonly type: SqlType
  readonly where: SqlPosition
}
export const CastNode = { create: (p: Props<CastNode>): CastNode => node('CastNode', p) }

/** `ARRAY[e, ...]` */
export interface ArrayNode {
  readonly kind: 'ArrayNode'
  readonly elements: readonly Expression[]
  readonly where: SqlPosition
}
export const ArrayNode = { create: (p: Props<ArrayNode>): ArrayNode => node('ArrayNode', p) }

export interface MapEntry {
  readonly key: Expression
  readonly value: Expression
}

/** `MAP(k := v, ...)` */
export interface MapNode {
  readonly kind: 'MapNode'
  readonly entries: readonly MapEntry[]
  readonly where: SqlPosition
}
export const MapNode = {
  create: (p: Props<MapNode>): MapNode =>
    node('MapNode', { ...p, entries: p.entries.map((e) => Object.freeze({ key: e.key, value: e.value })) }),
}

export interface StructFieldValue {
  readonly name: string
  readonly value: Expression
}

/** `STRUCT(name := e, ...)` */
export interface StructNode {
  readonly kind: 'StructNode'
  readonly fields: readonly StructFieldValue[]
  readonly where: SqlPosition
}
export const StructNode = {
  create: (p: Props<StructNode>): StructNode =>
    node('StructNode', { ...p, fields: p.fields.map((f) => Object.freeze({ name: f.name, value: f.value })) }),
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

export type SelectItem = SelectExpressionNode | SelectAllNode

/** `expression [AS alias]` */
export interface SelectExpressionNode {
  readonly kind: 'SelectExpressionNode'
  readonly expression: Expression
  readonly alias: string | null
  readonly where: SqlPosition
}
export const SelectExpressionNode = {
  create: (p: Props<SelectExpressionNode>): SelectExpressionNode => node('SelectExpressionNode', p),
}

/** `*` (source null) or `source.*` */
export interface SelectAllNode {
  readonly kind: 'SelectAllNode'
  readonly source: string | null
  readonly where: SqlPosition
}
export const SelectAllNode = { create: (p: Props<SelectAllNode>): SelectAllNode => node('SelectAllNode', p) }

/** A stream or table read by a query: `name [[AS] alias]`. */
export interface RelationNode {
  readonly kind: 'RelationNode'
  readonly name: string
  readonly alias: string | null
  readonly where: SqlPosition
}
export const RelationNode = { create: (p: Props<RelationNode>): RelationNode => node('RelationNode', p) }

export type JoinType = 'INNER' | 'LEFT' | 'RIGHT' | 'FULL'

/** `WITHIN size` (before = after) or `WITHIN (before, after)`, with an optional `GRACE PERIOD`. */
export interface WithinNode {
  readonly kind: 'WithinNode'
  readonly beforeMs: number
  readonly afterMs: number
  readonly gracePeriodMs: number | null
  readonly where: SqlPosition
}
export const WithinNode = { create: (p: Props<WithinNode>): WithinNode => node('WithinNode', p) }

export interface JoinNode {
  readonly kind: 'JoinNode'
  readonly type: JoinType
  readonly relation: RelationNode
  readonly within: WithinNode | null
  readonly on: Expression
  readonly where: SqlPosition
}
export const JoinNode = { create: (p: Props<JoinNode>): JoinNode => node('JoinNode', p) }

export type WindowType = 'TUMBLING' | 'HOPPING' | 'SESSION'

/** A window; `sizeMs` is the SESSION gap for session windows; `advanceMs` only for HOPPING. */
export interface WindowNode {
  readonly kind: 'WindowNode'
  readonly type: WindowType
  readonly sizeMs: number
  readonly advanceMs: number | null
  readonly retentionMs: number | null
  readonly gracePeriodMs: number | null
  readonly where: SqlPosition
}
export const WindowNode = { create: (p: Props<WindowNode>): WindowNode => node('WindowNode', p) }

export type EmitMode = 'CHANGES' | 'FINAL'

/**
 * `SELECT select FROM from joins [WINDOW window] [WHERE filter] [GROUP BY groupBy] [PARTITION BY partitionBy]
 * [HAVING having] [EMIT emit] [LIMIT limit]`.
 */
export interface QueryNode {
  readonly kind: 'QueryNode'
  readonly select: readonly SelectItem[]
  readonly from: RelationNode
  readonly joins: readonly JoinNode[]
  readonly window: WindowNode | null
  /** The WHERE condition (`where` is the node's position). */
  readonly filter: Expression | null
  readonly groupBy: readonly Expression[]
  readonly partitionBy: readonly Expression[]
  readonly having: Expression | null
  readonly emit: EmitMode | null
  readonly limit: number | null
  readonly where: SqlPosition
}
export const QueryNode = { create: (p: Props<QueryNode>): QueryNode => node('QueryNode', p) }

// ---------------------------------------------------------------------------------------------------------------
// Statements

export type SourceType = 'STREAM' | 'TABLE'

/** `NAME = literal` in a WITH clause. */
export interface PropertyNode {
  readonly kind: 'PropertyNode'
  /** Upper-cased. */
  readonly name: string
  readonly value: LiteralNode
  readonly where: SqlPosition
}
export const PropertyNode = { create: (p: Props<PropertyNode>): PropertyNode => node('PropertyNode', p) }

export type ColumnConstraint = 'KEY' | 'PRIMARY KEY' | 'HEADERS' | 'HEADER'

/** A column of CREATE STREAM/TABLE: `name type [KEY | PRIMARY KEY | HEADERS | HEADER('key')]`. */
export interface ColumnElementNode {
  readonly kind: 'ColumnElementNode'
  readonly name: string
  readonly type: SqlType
  readonly constraint: ColumnConstraint | null
  /** The header's key for `HEADER('key')`, else null. */
  readonly headerKey: string | null
  readonly where: SqlPosition
}
export const ColumnElementNode = {
  create: (p: Props<ColumnElementNode>): ColumnElementNode => node('ColumnElementNode', p),
}

/** `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name [(elements)] [WITH (properties)]` */
export interface CreateSourceNode {
  readonly kind: 'CreateSourceNode'
  readonly sourceType: SourceType
  readonly orReplace: boolean
  /** `CREATE SOURCE STREAM|TABLE`: read-only (and a SOURCE TABLE is materialised for pull queries). */
  readonly isSource: boolean
  readonly ifNotExists: boolean
  readonly name: string
  readonly elements: readonly ColumnElementNode[]
  readonly properties: readonly PropertyNode[]
  readonly text: string
  readonly where: SqlPosition
}
export const CreateSourceNode = {
  create: (p: Props<CreateSourceNode>): CreateSourceNode => node('CreateSourceNode', p),
}

/** `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (properties)] AS query` */
export interface CreateAsSelectNode {
  readonly kind: 'CreateAsSelectNode'
  readonly sourceType: SourceType
  readonly orReplace: boolean
  readonly ifNotExists: boolean
  readonly name: string
  readonly properties: readonly PropertyNode[]
  readonly query: QueryNode
  readonly text: string
  readonly where: SqlPosition
}
export const CreateAsSelectNode = {
  create: (p: Props<CreateAsSelectNode>): CreateAsSelectNode => node('CreateAsSelectNode', p),
}

/** `INSERT INTO target [WITH (properties)] query` */
export interface InsertIntoNode {
  readonly kind: 'InsertIntoNode'
  readonly target: string
  readonly properties: readonly PropertyNode[]
  readonly query: QueryNode
  readonly text: string
  readonly where: SqlPosition
}
export const InsertIntoNode = { create: (p: Props<InsertIntoNode>): InsertIntoNode => node('InsertIntoNode', p) }

/** `INSERT INTO target [(columns)] VALUES (values)`; columns null when not listed. */
export interface InsertValuesNode {
  readonly kind: 'InsertValuesNode'
  readonly target: string
  readonly columns: readonly string[] | null
  readonly values: readonly Expression[]
  readonly text: string
  readonly where: SqlPosition
}
export const InsertValuesNode = {
  create: (p: Props<InsertValuesNode>): InsertValuesNode => node('InsertValuesNode', p),
}

/** `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]` */
export interface DropNode {
  readonly kind: 'DropNode'
  readonly sourceType: SourceType
  readonly ifExists: boolean
  readonly name: string
  readonly deleteTopic: boolean
  readonly text: string
  readonly where: SqlPosition
}
export const DropNode = { create: (p: Props<DropNode>): DropNode => node('DropNode', p) }

export type ShowWhat = 'STREAMS' | 'TABLES' | 'QUERIES' | 'TOPICS' | 'PROPERTIES' | 'FUNCTIONS'

/** `SHOW|LIST what [EXTENDED]` (LIST and SHOW are the same statement). */
export interface ShowNode {
  readonly kind: 'ShowNode'
  readonly what: ShowWhat
  readonly extended: boolean
  readonly text: string
  readonly where: SqlPosition
}
export const ShowNode = { create: (p: Props<ShowNode>): ShowNode => node('ShowNode', p) }

/**
 * `DESCRIBE [EXTENDED] name` (what SOURCE), `DESCRIBE STREAMS|TABLES [EXTENDED]` (name null),
 * `DESCRIBE FUNCTION name`.
 */
export interface DescribeNode {
  readonly kind: 'DescribeNode'
  readonly what: 'SOURCE' | 'STREAMS' | 'TABLES' | 'FUNCTION'
  readonly name: string | null
  readonly extended: boolean
  readonly text: string
  readonly where: SqlPosition
}
export const DescribeNode = { create: (p: Props<DescribeNode>): DescribeNode => node('DescribeNode', p) }

/** `EXPLAIN query_id` (statement null) or `EXPLAIN statement` (queryId null). */
export interface ExplainNode {
  readonly kind: 'ExplainNode'
  readonly queryId: string | null
  readonly statement: QueryStatementNode | CreateAsSelectNode | InsertIntoNode | null
  readonly text: string
  readonly where: SqlPosition
}
export const ExplainNode = { create: (p: Props<ExplainNode>): ExplainNode => node('ExplainNode', p) }

/** `TERMINATE query_id`, or `TERMINATE ALL` (queryId null). */
export interface TerminateNode {
  readonly kind: 'TerminateNode'
  readonly queryId: string | null
  readonly text: string
  readonly where: SqlPosition
}
export const TerminateNode = { create: (p: Props<TerminateNode>): TerminateNode => node('TerminateNode', p) }

/** `SET 'name' = 'value'` (name and value as written). */
export interface SetNode {
  readonly kind: 'SetNode'
  readonly name: string
  readonly value: string
  readonly text: string
  readonly where: SqlPosition
}
export const SetNode = { create: (p: Props<SetNode>): SetNode => node('SetNode', p) }

/** `UNSET 'name'` */
export interface UnsetNode {
  readonly kind: 'UnsetNode'
  readonly name: string
  readonly text: string
  readonly where: SqlPosition
}
export const UnsetNode = { create: (p: Props<UnsetNode>): UnsetNode => node('UnsetNode', p) }

/** A SELECT on its own: a pull query, or a push query with `EMIT CHANGES`. */
export interface QueryStatementNode {
  readonly kind: 'QueryStatementNode'
  readonly query: QueryNode
  readonly text: string
  readonly where: SqlPosition
}
export const QueryStatementNode = {
  create: (p: Props<QueryStatementNode>): QueryStatementNode => node('QueryStatementNode', p),
}

export type Statement =
  | CreateSourceNode
  | CreateAsSelectNode
  | InsertIntoNode
  | InsertValuesNode
  | DropNode
  | ShowNode
  | DescribeNode
  | ExplainNode
  | TerminateNode
  | SetNode
  | UnsetNode
  | QueryStatementNode

/**
 * The nodes directly inside an expression, in property order: a property that is a node, the nodes of a list, and
 * the nodes held by the entries of a list (CASE's `{when, then}`). What walks over expressions uses this.
 */
export function* childExpressions(e: Expression): Generator<Expression> {
  for (const v of Object.values(e)) {
    if (!v || typeof v !== 'object') continue
    if (!Array.isArray(v)) {
      if ('kind' in v) yield v as Expression
      continue
    }
    for (const x of v) {
      if (!x || typeof x !== 'object') continue
      if ('kind' in x) yield x as Expression
      else for (const y of Object.values(x)) if (y && typeof y === 'object' && 'kind' in y) yield y as Expression
    }
  }
}
