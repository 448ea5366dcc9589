/**
 * The parser of our ksqlDB-dialect SQL: text in, statements (ast.ts) out, or one coded error with its position.
 *
 * Built with chevrotain (a lexer, then an EmbeddedActionsParser that builds our AST directly). The grammar follows
 * ksqlDB's documented syntax ("ksqlDB SQL quick reference" and the statement pages of the ksqlDB docs), written
 * here in our own words; docs/reference/sql.md describes the language as we accept it.
 *
 * - Keywords are case-insensitive. Only the core SQL words are reserved (RESERVED_WORDS); every other keyword (KEY,
 *   TYPE, TIMESTAMP, STREAM, SIZE, ...) is also an identifier wherever one is expected. The lexer reads every word
 *   as an identifier and then turns those that spell a keyword into that keyword's token (faster than one regular
 *   expression per keyword); non-reserved keyword tokens belong to the Identifier category.
 * - Identifiers: unquoted ones are upper-cased; `` `quoted` `` and `"quoted"` ones keep their case.
 * - Statements are split at `;` (a `;` cannot appear inside a statement other than in a string or quoted name);
 *   the last statement's `;` is optional.
 * - Limits: a text of at most MAX_SQL_BYTES bytes (UTF-8) and expressions nested at most MAX_EXPRESSION_DEPTH
 *   levels, both OFA_SQL_LIMIT. The depth is counted while parsing, so that deep input stops with that error
 *   rather than a stack overflow, and every tree the parser returns can be walked recursively.
 * - Whatever the input, the only errors that leave this module are OpenFactoryErrors OFA_SQL_PARSE and OFA_SQL_LIMIT.
 */
import { OpenFactoryError, type Where } from '@openfactory/model'
import {
  createToken,
  EmbeddedActionsParser,
  EOF,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  Lexer,
  type TokenType,
  tokenMatcher,
} from 'chevrotain'
import {
  ArithmeticNode,
  type ArithmeticOp,
  ArrayNode,
  BetweenNode,
  type CaseBranch,
  CaseNode,
  CastNode,
  type ColumnConstraint,
  ColumnElementNode,
  ColumnRefNode,
  ComparisonNode,
  type ComparisonOp,
  CreateAsSelectNode,
  CreateSourceNode,
  DereferenceNode,
  DescribeNode,
  DropNode,
  type EmitMode,
  ExplainNode,
  type Expression,
  FunctionCallNode,
  InNode,
  InsertIntoNode,
  InsertValuesNode,
  IsNullNode,
  JoinNode,
  type JoinType,
  LambdaNode,
  LikeNode,
  LiteralNode,
  LogicalNode,
  type MapEntry,
  MapNode,
  NotNode,
  PropertyNode,
  QueryNode,
  QueryStatementNode,
  RelationNode,
  SelectAllNode,
  SelectExpressionNode,
  type SelectItem,
  SetNode,
  ShowNode,
  type ShowWhat,
  type SourceType,
  type SqlPosition,
  type Statement,
  type StructFieldValue,
  StructNode,
  SubscriptNode,
  TerminateNode,
  UnaryNode,
  UnsetNode,
  WindowNode,
  type WindowType,
  WithinNode,
} from './ast.ts'
import { SqlType, type StructField } from './types.ts'

/** The largest SQL text one call parses: 1 MiB of UTF-8. */
export const MAX_SQL_BYTES = 1_048_576
/** The deepest expression nesting accepted (parentheses, calls, operators, CASE, CAST, constructors, types). */
export const MAX_EXPRESSION_DEPTH = 128

export interface ParseOptions {
  /** Named in errors' `where.file`. */
  readonly file?: string
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

const Identifier = createToken({ name: 'Identifier', pattern: Lexer.NA, label: 'an identifier' })
const TimeUnit = createToken({
  name: 'TimeUnit',
  pattern: Lexer.NA,
  label: 'a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)',
})
const ComparisonOperator = createToken({ name: 'ComparisonOperator', pattern: Lexer.NA, label: 'a comparison' })
const AdditiveOperator = createToken({ name: 'AdditiveOperator', pattern: Lexer.NA, label: "'+' or '-'" })
const MultiplicativeOperator = createToken({
  name: 'MultiplicativeOperator',
  pattern: Lexer.NA,
  label: "'*', '/' or '%'",
})

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true })
const LineComment = createToken({ name: 'LineComment', pattern: /--[^\n\r]*/, group: Lexer.SKIPPED })
const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
})
const UnterminatedComment = createToken({ name: 'UnterminatedComment', pattern: /\/\*[\s\S]*/, line_breaks: true })
const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /'[^']*(?:''[^']*)*'/,
  line_breaks: true,
  label: 'a string',
})
const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /'[^']*(?:''[^']*)*/,
  line_breaks: true,
})
const BackQuoted = createToken({
  name: 'BackQuoted',
  pattern: /`[^`]*(?:``[^`]*)*`/,
  line_breaks: true,
  categories: [Identifier],
})
const UnterminatedBackQuoted = createToken({
  name: 'UnterminatedBackQuoted',
  pattern: /`[^`]*(?:``[^`]*)*/,
  line_breaks: true,
})
const DoubleQuoted = createToken({
  name: 'DoubleQuoted',
  pattern: /"[^"]*(?:""[^"]*)*"/,
  line_breaks: true,
  categories: [Identifier],
})
const UnterminatedDoubleQuoted = createToken({
  name: 'UnterminatedDoubleQuoted',
  pattern: /"[^"]*(?:""[^"]*)*/,
  line_breaks: true,
})
const DoubleLiteral = createToken({
  name: 'DoubleLiteral',
  pattern: /(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+/,
  label: 'a number',
})
const DecimalLiteral = createToken({ name: 'DecimalLiteral', pattern: /\d+\.\d*|\.\d+/, label: 'a number' })
const DigitIdentifier = createToken({ name: 'DigitIdentifier', pattern: /\d+[A-Za-z_][A-Za-z0-9_]*/ })
const IntegerLiteral = createToken({ name: 'IntegerLiteral', pattern: /\d+/, label: 'an integer' })
const Word = createToken({ name: 'Word', pattern: /[A-Za-z_][A-Za-z0-9_]*/, categories: [Identifier] })

const punct = (name: string, symbol: string, categories: TokenType[] = []): TokenType =>
  createToken({
    name,
    pattern: new RegExp(symbol.replace(/[|*+/().[\]-]/g, '\\$&')),
    label: `'${symbol}'`,
    categories,
  })
const Assign = punct('Assign', ':=')
const LambdaArrow = punct('LambdaArrow', '=>')
const Arrow = punct('Arrow', '->')
const LessEqual = punct('LessEqual', '<=', [ComparisonOperator])
const GreaterEqual = punct('GreaterEqual', '>=', [ComparisonOperator])
const NotEqual = punct('NotEqual', '<>', [ComparisonOperator])
const BangEqual = punct('BangEqual', '!=', [ComparisonOperator])
const Concat = punct('Concat', '||')
const Less = punct('Less', '<', [ComparisonOperator])
const Greater = punct('Greater', '>', [ComparisonOperator])
const Equal = punct('Equal', '=', [ComparisonOperator])
const Plus = punct('Plus', '+', [AdditiveOperator])
const Minus = punct('Minus', '-', [AdditiveOperator])
const Star = punct('Star', '*', [MultiplicativeOperator])
const Slash = punct('Slash', '/', [MultiplicativeOperator])
const Percent = punct('Percent', '%', [MultiplicativeOperator])
const LParen = punct('LParen', '(')
const RParen = punct('RParen', ')')
const LBracket = punct('LBracket', '[')
const RBracket = punct('RBracket', ']')
const Comma = punct('Comma', ',')
const Dot = punct('Dot', '.')
const Semicolon = punct('Semicolon', ';')

/** Words that are never identifiers (unless quoted). */
export const RESERVED_WORDS: ReadonlySet<string> = new Set(
  (
    'SELECT FROM AS WHERE GROUP BY HAVING LIMIT WINDOW WITHIN JOIN INNER LEFT RIGHT FULL OUTER ON AND OR NOT IS ' +
    'NULL TRUE FALSE IN LIKE BETWEEN DISTINCT CASE WHEN THEN ELSE END CAST CREATE INSERT INTO VALUES DROP WITH ALL'
  ).split(' '),
)
const TIME_UNITS: Readonly<Record<string, number>> = {
  MILLISECOND: 1,
  MILLISECONDS: 1,
  SECOND: 1000,
  SECONDS: 1000,
  MINUTE: 60_000,
  MINUTES: 60_000,
  HOUR: 3_600_000,
  HOURS: 3_600_000,
  DAY: 86_400_000,
  DAYS: 86_400_000,
}
const NON_RESERVED =
  'STREAM STREAMS TABLE TABLES SOURCE REPLACE IF EXISTS KEY PRIMARY HEADERS HEADER SHOW LIST TOPICS QUERIES ' +
  'PROPERTIES FUNCTIONS FUNCTION EXTENDED DESCRIBE EXPLAIN TERMINATE SET UNSET DELETE TOPIC EMIT CHANGES FINAL ' +
  'PARTITION TUMBLING HOPPING SESSION SIZE ADVANCE RETENTION GRACE PERIOD ESCAPE ARRAY MAP STRUCT BOOLEAN INT ' +
  'INTEGER BIGINT DOUBLE DECIMAL VARCHAR STRING BYTES TIMESTAMP DATE TIME'

const KEYWORD_TOKENS = new Map<string, TokenType>()
for (const word of RESERVED_WORDS) {
  KEYWORD_TOKENS.set(word, createToken({ name: word, pattern: Lexer.NA, label: `'${word}'` }))
}
for (const word of NON_RESERVED.split(' ')) {
  KEYWORD_TOKENS.set(word, createToken({ name: word, pattern: Lexer.NA, label: `'${word}'`, categories: [Identifier] }))
}
for (const word of Object.keys(TIME_UNITS)) {
  KEYWORD_TOKENS.set(
    word,
    createToken({ name: word, pattern: Lexer.NA, label: `'${word}'`, categories: [Identifier, TimeUnit] }),
  )
}

/** Every keyword, reserved or not: the formatter quotes identifiers that spell one. */
export const KEYWORDS: ReadonlySet<string> = new Set(KEYWORD_TOKENS.keys())

const K = (word: string): TokenType => {
  const t = KEYWORD_TOKENS.get(word)
  if (!t) throw new Error(`no keyword ${word}`)
  return t
}
const SELECT = K('SELECT')
const FROM = K('FROM')
const AS = K('AS')
const WHERE = K('WHERE')
const GROUP = K('GROUP')
const BY = K('BY')
const HAVING = K('HAVING')
const LIMIT = K('LIMIT')
const WINDOW = K('WINDOW')
const WITHIN = K('WITHIN')
const JOIN = K('JOIN')
const INNER = K('INNER')
const LEFT = K('LEFT')
const RIGHT = K('RIGHT')
const FULL = K('FULL')
const OUTER = K('OUTER')
const ON = K('ON')
const AND = K('AND')
const OR = K('OR')
const NOT = K('NOT')
const IS = K('IS')
const NULL = K('NULL')
const TRUE = K('TRUE')
const FALSE = K('FALSE')
const IN = K('IN')
const LIKE = K('LIKE')
const BETWEEN = K('BETWEEN')
const DISTINCT = K('DISTINCT')
const CASE = K('CASE')
const WHEN = K('WHEN')
const THEN = K('THEN')
const ELSE = K('ELSE')
const END = K('END')
const CAST = K('CAST')
const CREATE = K('CREATE')
const INSERT = K('INSERT')
const INTO = K('INTO')
const VALUES = K('VALUES')
const DROP = K('DROP')
const WITH = K('WITH')
const ALL = K('ALL')
const STREAM = K('STREAM')
const STREAMS = K('STREAMS')
const TABLE = K('TABLE')
const TABLES = K('TABLES')
const SOURCE = K('SOURCE')
const REPLACE = K('REPLACE')
const IF = K('IF')
const EXISTS = K('EXISTS')
const KEY = K('KEY')
const PRIMARY = K('PRIMARY')
const HEADERS = K('HEADERS')
const HEADER = K('HEADER')
const SHOW = K('SHOW')
const LIST = K('LIST')
const TOPICS = K('TOPICS')
const QUERIES = K('QUERIES')
const PROPERTIES = K('PROPERTIES')
const FUNCTIONS = K('FUNCTIONS')
const FUNCTION = K('FUNCTION')
const EXTENDED = K('EXTENDED')
const DESCRIBE = K('DESCRIBE')
const EXPLAIN = K('EXPLAIN')
const TERMINATE = K('TERMINATE')
const SET = K('SET')
const UNSET = K('UNSET')
const DELETE = K('DELETE')
const TOPIC = K('TOPIC')
const EMIT = K('EMIT')
const CHANGES = K('CHANGES')
const FINAL = K('FINAL')
const PARTITION = K('PARTITION')
const TUMBLING = K('TUMBLING')
const HOPPING = K('HOPPING')
const SESSION = K('SESSION')
const SIZE = K('SIZE')
const ADVANCE = K('ADVANCE')
const RETENTION = K('RETENTION')
const GRACE = K('GRACE')
const PERIOD = K('PERIOD')
const ESCAPE = K('ESCAPE')
const ARRAY = K('ARRAY')
const MAP = K('MAP')
const STRUCT = K('STRUCT')

/** Type names that take no parameters, and the type each spells. */
const SIMPLE_TYPES: readonly (readonly [TokenType, SqlType])[] = [
  [K('BOOLEAN'), SqlType.BOOLEAN],
  [K('INT'), SqlType.INTEGER],
  [K('INTEGER'), SqlType.INTEGER],
  [K('BIGINT'), SqlType.BIGINT],
  [K('DOUBLE'), SqlType.DOUBLE],
  [K('VARCHAR'), SqlType.STRING],
  [K('STRING'), SqlType.STRING],
  [K('BYTES'), SqlType.BYTES],
  [K('TIMESTAMP'), SqlType.TIMESTAMP],
  [K('DATE'), SqlType.DATE],
  [K('TIME'), SqlType.TIME],
]
const DECIMAL = K('DECIMAL')

const LEXED_TOKENS: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  StringLiteral,
  UnterminatedString,
  BackQuoted,
  UnterminatedBackQuoted,
  DoubleQuoted,
  UnterminatedDoubleQuoted,
  DoubleLiteral,
  DecimalLiteral,
  DigitIdentifier,
  IntegerLiteral,
  Word,
  Assign,
  LambdaArrow,
  Arrow,
  LessEqual,
  GreaterEqual,
  NotEqual,
  BangEqual,
  Concat,
  Less,
  Greater,
  Equal,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Dot,
  Semicolon,
]
const ALL_TOKENS: TokenType[] = [
  Identifier,
  TimeUnit,
  ComparisonOperator,
  AdditiveOperator,
  MultiplicativeOperator,
  ...LEXED_TOKENS,
  ...KEYWORD_TOKENS.values(),
]

// ---------------------------------------------------------------------------------------------------------------
// Errors

function parseError(message: string, line: number, column: number, file: string | undefined): OpenFactoryError {
  const where: Where = file === undefined ? { line, column } : { file, line, column }
  return new OpenFactoryError('OFA_SQL_PARSE', `line ${line}:${column}: ${message}`, { where })
}

function tokenError(message: string, t: IToken, file: string | undefined): OpenFactoryError {
  return parseError(message, t.startLine ?? 1, t.startColumn ?? 1, file)
}

/** What the error messages say was found where the input (or the statement, at its `;`) ends. */
interface EndOfInput {
  readonly label: string
  readonly line: number
  readonly column: number
}

/** The token an error message talks about, kept for the error's position (one parse runs at a time). */
let errorToken: IToken | undefined
let endOfInput: EndOfInput = { label: 'the end of the input', line: 1, column: 1 }

function found(t: IToken): string {
  if (t.tokenType === EOF) return endOfInput.label
  const image = t.image.length > 40 ? `${t.image.slice(0, 40)}...` : t.image
  if (t.tokenType === StringLiteral) return `the string ${image}`
  return `'${image}'`
}

const STATEMENT_STARTS = [SELECT, CREATE, INSERT, DROP, SHOW, LIST, DESCRIBE, EXPLAIN, TERMINATE, SET, UNSET]
const TYPE_STARTS = [...SIMPLE_TYPES.map(([t]) => t), DECIMAL, ARRAY, MAP, STRUCT]
const EXPRESSION_STARTS = [
  Identifier,
  StringLiteral,
  IntegerLiteral,
  DecimalLiteral,
  DoubleLiteral,
  NULL,
  TRUE,
  FALSE,
  LParen,
  AdditiveOperator,
  Plus,
  Minus,
  NOT,
  CASE,
  CAST,
  ARRAY,
  MAP,
  STRUCT,
]

const OPERATORS = [
  OR,
  AND,
  Concat,
  AdditiveOperator,
  MultiplicativeOperator,
  ComparisonOperator,
  IS,
  NOT,
  BETWEEN,
  IN,
  LIKE,
  Arrow,
  LBracket,
  Dot,
  LParen,
]

/** `'x'`, `an identifier`, ... for the expected tokens, groups of them said in one phrase. */
function describeExpected(types: readonly TokenType[], ruleName: string): string {
  const set = new Set(types)
  const labels: string[] = []
  const phrases: string[] = []
  const group = (members: readonly TokenType[], probe: readonly TokenType[], phrase: string): void => {
    if (probe.every((t) => set.has(t))) {
      for (const t of members) set.delete(t)
      phrases.push(phrase)
    }
  }
  group(STATEMENT_STARTS, [SELECT, CREATE, DROP], `a statement (${STATEMENT_STARTS.map((t) => t.name).join(', ')})`)
  group(TYPE_STARTS, [K('BOOLEAN'), K('BIGINT')], 'a type')
  group(EXPRESSION_STARTS, [Identifier, StringLiteral, IntegerLiteral], 'an expression')
  group(OPERATORS, [OR, AND, AdditiveOperator], 'an operator')
  for (const t of set) {
    if (t === Identifier && ruleName === 'sourceName') labels.push('a stream or table name')
    else labels.push(t.LABEL ?? t.name)
  }
  const unique = [...new Set([...labels, ...phrases])]
  if (unique.length === 1) return `expected ${unique[0]}`
  if (unique.every((l) => l.startsWith("'"))) return `expected one of ${unique.join(' ')}`
  return `expected ${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`
}

/** The next tokens each path expects, after the longest prefix of the actual tokens they match. */
function expectedAfterLongestMatch(paths: readonly (readonly TokenType[])[], actual: readonly IToken[]) {
  let best = 0
  const matched = paths.map((p) => {
    let i = 0
    while (i < p.length && i < actual.length && tokenMatcher(actual[i] as IToken, p[i] as TokenType)) i++
    return i
  })
  paths.forEach((p, j) => {
    const m = matched[j] as number
    if (m < p.length && m > best) best = m
  })
  const next: TokenType[] = []
  paths.forEach((p, j) => {
    if (matched[j] === best && best < p.length) next.push(p[best] as TokenType)
  })
  return { next, token: actual[best] ?? (actual[0] as IToken) }
}

/** Messages: `expected ... but found ...`, short, in a user's words (not chevrotain's token sequences). */
const MESSAGES: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    errorToken = actual
    const also = LIST_CLOSERS[`${ruleName}:${expected.name}`]
    return `${describeExpected(also ? [expected, ...also] : [expected], ruleName)} but found ${found(actual)}`
  },
  buildNotAllInputParsedMessage({ firstRedundant, ruleName }) {
    errorToken = firstRedundant
    const end = ruleName === 'standaloneExpression' ? 'the end of the expression' : "the end of the statement (';')"
    return `expected ${end} but found ${found(firstRedundant)}`
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, customUserDescription, ruleName }) {
    const { next, token } = expectedAfterLongestMatch(expectedPathsPerAlt.flat(), actual)
    errorToken = token
    const what = customUserDescription ? `expected ${customUserDescription}` : describeExpected(next, ruleName)
    return `${what} but found ${found(token)}`
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, customUserDescription, ruleName }) {
    const { next, token } = expectedAfterLongestMatch(expectedIterationPaths, actual)
    errorToken = token
    const what = customUserDescription ? `expected ${customUserDescription}` : describeExpected(next, ruleName)
    return `${what} but found ${found(token)}`
  },
}

/**
 * Closing tokens that end a comma-separated list: when one is missing, a `,` would have been right too, and the
 * message says so (`expected one of ')' ',' but found 'FROM'`). Keyed by rule and token.
 */
const LIST_CLOSERS: Readonly<Record<string, TokenType[]>> = {
  'query:FROM': [Comma],
  'functionCall:RParen': [Comma],
  'inList:RParen': [Comma],
  'tableElements:RParen': [Comma],
  'withProperties:RParen': [Comma],
  'insertStatement:RParen': [Comma],
  'arrayConstructor:RBracket': [Comma],
  'mapConstructor:RParen': [Comma],
  'structConstructor:RParen': [Comma],
  'structType:Greater': [Comma],
  'lambdaParams:RParen': [Comma],
}

// ---------------------------------------------------------------------------------------------------------------
// Lexer

const LEXER = new Lexer(LEXED_TOKENS, { positionTracking: 'full', ensureOptimizations: false })

const BIGINT_MAGNITUDE = 2n ** 63n

function identifierText(t: IToken): string {
  switch (t.tokenType) {
    case BackQuoted:
      return t.image.slice(1, -1).replaceAll('``', '`')
    case DoubleQuoted:
      return t.image.slice(1, -1).replaceAll('""', '"')
    default:
      return t.image.toUpperCase()
  }
}

function describeChar(text: string, offset: number): string {
  const cp = text.codePointAt(offset) ?? 0
  const ch = String.fromCodePoint(cp)
  return cp < 0x20 || cp === 0x7f || /\s/.test(ch) ? `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `'${ch}'`
}

function lex(text: string, file: string | undefined): IToken[] {
  const result = LEXER.tokenize(text)
  const err = result.errors[0]
  if (err) {
    throw parseError(`unexpected character ${describeChar(text, err.offset)}`, err.line ?? 1, err.column ?? 1, file)
  }
  for (const t of result.tokens) {
    switch (t.tokenType) {
      case Word: {
        const keyword = KEYWORD_TOKENS.get(t.image.toUpperCase())
        if (keyword) {
          t.tokenType = keyword
          t.tokenTypeIdx = keyword.tokenTypeIdx as number
        }
        break
      }
      case UnterminatedString:
        throw tokenError("unterminated string: the closing ' is missing", t, file)
      case UnterminatedComment:
        throw tokenError('unterminated comment: the closing */ is missing', t, file)
      case UnterminatedBackQuoted:
        throw tokenError('unterminated quoted identifier: the closing ` is missing', t, file)
      case UnterminatedDoubleQuoted:
        throw tokenError('unterminated quoted identifier: the closing " is missing', t, file)
      case DigitIdentifier:
        throw tokenError(`an identifier cannot start with a digit: '${t.image}'`, t, file)
      case BackQuoted:
      case DoubleQuoted:
        if (t.image.length === 2) throw tokenError('an identifier cannot be empty', t, file)
        break
    }
  }
  return result.tokens
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

class SqlParser extends EmbeddedActionsParser {
  #source = ''
  #file: string | undefined
  #depth = 0

  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: false, maxLookahead: 3, errorMessageProvider: MESSAGES })
    this.performSelfAnalysis()
  }

  /** Parses one statement's tokens (no `;`), `source` being the whole text they come from. */
  parseStatement(source: string, tokens: IToken[], file: string | undefined): Statement {
    return this.#run(source, tokens, file, () => this.statement())
  }

  parseStandaloneExpression(source: string, tokens: IToken[], file: string | undefined): Expression {
    return this.#run(source, tokens, file, () => this.standaloneExpression())
  }

  #run<T>(source: string, tokens: IToken[], file: string | undefined, rule: () => T): T {
    this.#source = source
    this.#file = file
    this.#depth = 0
    errorToken = undefined
    this.input = tokens
    const out = rule()
    const err = this.errors[0] as IRecognitionException | undefined
    if (err) {
      const t = errorToken ?? err.token
      if (t.tokenType === EOF || t.startLine === undefined || Number.isNaN(t.startLine)) {
        throw parseError(err.message, endOfInput.line, endOfInput.column, file)
      }
      throw tokenError(err.message, t, file)
    }
    return out
  }

  // -- helpers (no grammar)

  #pos(t: IToken): SqlPosition {
    return Object.freeze({ line: t.startLine ?? 1, column: t.startColumn ?? 1 })
  }

  /** The source text from token `first` to the last token consumed. */
  #text(first: IToken): string {
    const last = this.LA(0)
    return this.#source.slice(first.startOffset, (last.endOffset ?? first.startOffset) + 1)
  }

  /** One level deeper (OFA_SQL_LIMIT past MAX_EXPRESSION_DEPTH), `t` the token that opens it. */
  #enter(t: IToken): void {
    if (this.RECORDING_PHASE) return
    this.#depth++
    if (this.#depth > MAX_EXPRESSION_DEPTH) {
      const where: Where = { line: t.startLine ?? 1, column: t.startColumn ?? 1 }
      throw new OpenFactoryError(
        'OFA_SQL_LIMIT',
        `line ${where.line}:${where.column}: expression nested more than ${MAX_EXPRESSION_DEPTH} levels deep`,
        { where: this.#file === undefined ? where : { file: this.#file, ...where } },
      )
    }
  }

  #leave(levels = 1): void {
    if (!this.RECORDING_PHASE) this.#depth -= levels
  }

  #fail(message: string, t: IToken): never {
    throw tokenError(message, t, this.#file)
  }

  #integer(t: IToken, what: string, max: number): number {
    const digits = t.image.replace(/^0+(?=\d)/, '')
    const value = Number(digits)
    if (digits.length > 16 || value > max) this.#fail(`${what} must be at most ${max}: ${t.image}`, t)
    return value
  }

  #integerLiteral(t: IToken): LiteralNode {
    const digits = t.image.replace(/^0+(?=\d)/, '')
    if (digits.length > 19 || BigInt(digits) > BIGINT_MAGNITUDE) {
      this.#fail(`integer out of range: ${found(t)} (BIGINT holds up to 9223372036854775807)`, t)
    }
    return LiteralNode.integer(Number(digits), this.#pos(t))
  }

  #decimalLiteral(t: IToken): LiteralNode {
    const scale = t.image.length - t.image.indexOf('.') - 1
    if (scale > 100) this.#fail('a decimal number may have at most 100 digits after the point', t)
    const value = Number(t.image)
    if (!Number.isFinite(value)) this.#fail(`number out of range: ${found(t)}`, t)
    return LiteralNode.decimal(value, scale, this.#pos(t))
  }

  #doubleLiteral(t: IToken): LiteralNode {
    const value = Number(t.image)
    if (!Number.isFinite(value)) this.#fail(`number out of range for DOUBLE: ${found(t)}`, t)
    return LiteralNode.double(value, this.#pos(t))
  }

  /** `-` or `+` written right before a number literal: one literal (ksqlDB folds them alike). */
  #signed(op: IToken, literal: LiteralNode): LiteralNode {
    const where = this.#pos(op)
    const v = literal.value as number
    const value = op.tokenType === Minus ? -v : v
    switch (literal.type?.kind) {
      case 'DECIMAL':
        return LiteralNode.decimal(value, literal.type.scale, where)
      case 'DOUBLE':
        return LiteralNode.double(value, where)
      default:
        return LiteralNode.integer(value, where)
    }
  }

  #lambdaAhead(): boolean {
    const first = this.LA(1)
    if (first.tokenType !== LParen) return tokenMatcher(first, Identifier) && this.LA(2).tokenType === LambdaArrow
    for (let i = 2; ; i += 2) {
      if (!tokenMatcher(this.LA(i), Identifier)) return false
      const next = this.LA(i + 1).tokenType
      if (next === RParen) return this.LA(i + 2).tokenType === LambdaArrow
      if (next !== Comma) return false
    }
  }

  // -- names

  identifier = this.RULE('identifier', (): string => identifierText(this.CONSUME(Identifier)))

  sourceName = this.RULE('sourceName', (): string => identifierText(this.CONSUME(Identifier)))

  // -- statements

  statement = this.RULE(
    'statement',
    (): Statement =>
      this.OR({
        ERR_MSG: `a statement (${STATEMENT_STARTS.map((t) => t.name).join(', ')})`,
        DEF: [
          { ALT: () => this.SUBRULE(this.queryStatement) },
          { ALT: () => this.SUBRULE(this.createStatement) },
          { ALT: () => this.SUBRULE(this.insertStatement) },
          { ALT: () => this.SUBRULE(this.dropStatement) },
          { ALT: () => this.SUBRULE(this.showStatement) },
          { ALT: () => this.SUBRULE(this.describeStatement) },
          { ALT: () => this.SUBRULE(this.explainStatement) },
          { ALT: () => this.SUBRULE(this.terminateStatement) },
          { ALT: () => this.SUBRULE(this.setStatement) },
          { ALT: () => this.SUBRULE(this.unsetStatement) },
        ],
      }),
  )

  queryStatement = this.RULE('queryStatement', (): QueryStatementNode => {
    const first = this.LA(1)
    const query = this.SUBRULE(this.query)
    return this.ACTION(() => QueryStatementNode.create({ query, text: this.#text(first), where: this.#pos(first) }))
  })

  createStatement = this.RULE('createStatement', (): CreateSourceNode | CreateAsSelectNode => {
    const first = this.CONSUME(CREATE)
    const orReplace =
      this.OPTION(() => {
        this.CONSUME(OR)
        this.CONSUME(REPLACE)
        return true
      }) ?? false
    const isSource = this.OPTION2(() => this.CONSUME(SOURCE)) !== undefined
    const sourceType = this.SUBRULE(this.sourceType)
    const ifNotExists =
      this.OPTION3(() => {
        this.CONSUME(IF)
        this.CONSUME(NOT)
        this.CONSUME(EXISTS)
        return true
      }) ?? false
    const name = this.SUBRULE(this.sourceName)
    const elements = this.OPTION4(() => this.SUBRULE(this.tableElements))
    const properties = this.OPTION5(() => this.SUBRULE(this.withProperties)) ?? []
    const query = this.OPTION6({
      GATE: () => elements === undefined && !isSource,
      DEF: () => {
        this.CONSUME(AS)
        return this.SUBRULE(this.query)
      },
    })
    return this.ACTION(() => {
      const common = { sourceType, orReplace, ifNotExists, name, properties }
      const text = this.#text(first)
      const where = this.#pos(first)
      if (query !== undefined) return CreateAsSelectNode.create({ ...common, query, text, where })
      return CreateSourceNode.create({ ...common, isSource, elements: elements ?? [], text, where })
    })
  })

  sourceType = this.RULE(
    'sourceType',
    (): SourceType =>
      this.OR([
        {
          ALT: () => {
            this.CONSUME(STREAM)
            return 'STREAM' as const
          },
        },
        {
          ALT: () => {
            this.CONSUME(TABLE)
            return 'TABLE' as const
          },
        },
      ]),
  )

  tableElements = this.RULE('tableElements', (): ColumnElementNode[] => {
    const elements: ColumnElementNode[] = []
    this.CONSUME(LParen)
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => elements.push(this.SUBRULE(this.tableElement)) })
    this.CONSUME(RParen)
    return elements
  })

  tableElement = this.RULE('tableElement', (): ColumnElementNode => {
    const first = this.LA(1)
    const name = this.SUBRULE(this.identifier)
    const type = this.SUBRULE(this.sqlType)
    let headerKey: string | null = null
    const constraint: ColumnConstraint | null =
      this.OPTION(() =>
        this.OR([
          {
            ALT: () => {
              this.CONSUME(KEY)
              return 'KEY' as const
            },
          },
          {
            ALT: () => {
              this.CONSUME(PRIMARY)
              this.CONSUME2(KEY)
              return 'PRIMARY KEY' as const
            },
          },
          {
            ALT: () => {
              this.CONSUME(HEADERS)
              return 'HEADERS' as const
            },
          },
          {
            ALT: () => {
              this.CONSUME(HEADER)
              this.CONSUME(LParen)
              const key = this.CONSUME(StringLiteral)
              this.CONSUME(RParen)
              headerKey = this.ACTION(() => stringValue(key))
              return 'HEADER' as const
            },
          },
        ]),
      ) ?? null
    return this.ACTION(() => ColumnElementNode.create({ name, type, constraint, headerKey, where: this.#pos(first) }))
  })

  withProperties = this.RULE('withProperties', (): PropertyNode[] => {
    const properties: PropertyNode[] = []
    this.CONSUME(WITH)
    this.CONSUME(LParen)
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => properties.push(this.SUBRULE(this.property)) })
    this.CONSUME(RParen)
    return properties
  })

  property = this.RULE('property', (): PropertyNode => {
    const first = this.LA(1)
    const name = this.OR([
      { ALT: () => this.SUBRULE(this.identifier) },
      { ALT: () => stringValue(this.CONSUME(StringLiteral)) },
    ])
    this.CONSUME(Equal)
    const value = this.SUBRULE(this.signedLiteral)
    return this.ACTION(() => PropertyNode.create({ name: name.toUpperCase(), value, where: this.#pos(first) }))
  })

  insertStatement = this.RULE('insertStatement', (): InsertIntoNode | InsertValuesNode => {
    const first = this.CONSUME(INSERT)
    this.CONSUME(INTO)
    const target = this.SUBRULE(this.sourceName)
    return this.OR([
      {
        ALT: () => {
          const properties = this.OPTION(() => this.SUBRULE(this.withProperties)) ?? []
          const query = this.SUBRULE(this.query)
          return this.ACTION(() =>
            InsertIntoNode.create({ target, properties, query, text: this.#text(first), where: this.#pos(first) }),
          )
        },
      },
      {
        ALT: () => {
          const columns = this.OPTION2(() => {
            const names: string[] = []
            this.CONSUME(LParen)
            this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => names.push(this.SUBRULE(this.identifier)) })
            this.CONSUME(RParen)
            return names
          })
          this.CONSUME(VALUES)
          this.CONSUME2(LParen)
          const values: Expression[] = []
          this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => values.push(this.SUBRULE(this.expression)) })
          this.CONSUME2(RParen)
          return this.ACTION(() =>
            InsertValuesNode.create({
              target,
              columns: columns ?? null,
              values,
              text: this.#text(first),
              where: this.#pos(first),
            }),
          )
        },
      },
    ])
  })

  dropStatement = this.RULE('dropStatement', (): DropNode => {
    const first = this.CONSUME(DROP)
    const sourceType = this.SUBRULE(this.sourceType)
    const ifExists =
      this.OPTION(() => {
        this.CONSUME(IF)
        this.CONSUME(EXISTS)
        return true
      }) ?? false
    const name = this.SUBRULE(this.sourceName)
    const deleteTopic =
      this.OPTION2(() => {
        this.CONSUME(DELETE)
        this.CONSUME(TOPIC)
        return true
      }) ?? false
    return this.ACTION(() =>
      DropNode.create({ sourceType, ifExists, name, deleteTopic, text: this.#text(first), where: this.#pos(first) }),
    )
  })

  showStatement = this.RULE('showStatement', (): ShowNode => {
    const first = this.OR([{ ALT: () => this.CONSUME(SHOW) }, { ALT: () => this.CONSUME(LIST) }])
    const what = this.OR2({
      ERR_MSG: "one of 'STREAMS' 'TABLES' 'QUERIES' 'TOPICS' 'PROPERTIES' 'FUNCTIONS'",
      DEF: (
        [
          [STREAMS, 'STREAMS'],
          [TABLES, 'TABLES'],
          [QUERIES, 'QUERIES'],
          [TOPICS, 'TOPICS'],
          [PROPERTIES, 'PROPERTIES'],
          [FUNCTIONS, 'FUNCTIONS'],
        ] as const
      ).map(([tok, what]) => ({
        ALT: () => {
          this.CONSUME(tok)
          return what as ShowWhat
        },
      })),
    })
    const extended = this.OPTION(() => this.CONSUME(EXTENDED)) !== undefined
    return this.ACTION(() => ShowNode.create({ what, extended, text: this.#text(first), where: this.#pos(first) }))
  })

  describeStatement = this.RULE('describeStatement', (): DescribeNode => {
    const first = this.CONSUME(DESCRIBE)
    const described = this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          ALT: () => {
            const w = this.OR2([
              {
                ALT: () => {
                  this.CONSUME(STREAMS)
                  return 'STREAMS' as const
                },
              },
              {
                ALT: () => {
                  this.CONSUME(TABLES)
                  return 'TABLES' as const
                },
              },
            ])
            const ext = this.OPTION(() => this.CONSUME(EXTENDED)) !== undefined
            return [w, null, ext] as const
          },
        },
        {
          ALT: () => {
            this.CONSUME(FUNCTION)
            return ['FUNCTION', this.SUBRULE(this.identifier), false] as const
          },
        },
        {
          ALT: () => {
            const ext = this.OPTION2(() => this.CONSUME2(EXTENDED)) !== undefined
            return ['SOURCE', this.SUBRULE(this.sourceName), ext] as const
          },
        },
      ],
    })
    return this.ACTION(() => {
      const [what, name, extended] = described
      return DescribeNode.create({ what, name, extended, text: this.#text(first), where: this.#pos(first) })
    })
  })

  explainStatement = this.RULE('explainStatement', (): ExplainNode => {
    const first = this.CONSUME(EXPLAIN)
    const explained = this.OR([
      { ALT: () => [null, this.SUBRULE(this.queryStatement)] as const },
      {
        ALT: () => {
          const s = this.SUBRULE(this.createStatement)
          this.ACTION(() => {
            if (s.kind !== 'CreateAsSelectNode') this.#fail('EXPLAIN takes a CREATE ... AS SELECT, not a CREATE', first)
          })
          return [null, s as CreateAsSelectNode] as const
        },
      },
      {
        ALT: () => {
          const s = this.SUBRULE(this.insertStatement)
          this.ACTION(() => {
            if (s.kind !== 'InsertIntoNode') this.#fail('EXPLAIN takes an INSERT INTO ... SELECT, not VALUES', first)
          })
          return [null, s as InsertIntoNode] as const
        },
      },
      { ALT: () => [this.SUBRULE(this.identifier), null] as const },
    ])
    return this.ACTION(() => {
      const [queryId, statement] = explained
      return ExplainNode.create({ queryId, statement, text: this.#text(first), where: this.#pos(first) })
    })
  })

  terminateStatement = this.RULE('terminateStatement', (): TerminateNode => {
    const first = this.CONSUME(TERMINATE)
    const queryId = this.OR([
      {
        ALT: () => {
          this.CONSUME(ALL)
          return null
        },
      },
      { ALT: () => this.SUBRULE(this.identifier) },
    ])
    return this.ACTION(() => TerminateNode.create({ queryId, text: this.#text(first), where: this.#pos(first) }))
  })

  setStatement = this.RULE('setStatement', (): SetNode => {
    const first = this.CONSUME(SET)
    const name = this.CONSUME(StringLiteral)
    this.CONSUME(Equal)
    const value = this.CONSUME2(StringLiteral)
    return this.ACTION(() =>
      SetNode.create({
        name: stringValue(name),
        value: stringValue(value),
        text: this.#text(first),
        where: this.#pos(first),
      }),
    )
  })

  unsetStatement = this.RULE('unsetStatement', (): UnsetNode => {
    const first = this.CONSUME(UNSET)
    const name = this.CONSUME(StringLiteral)
    return this.ACTION(() =>
      UnsetNode.create({ name: stringValue(name), text: this.#text(first), where: this.#pos(first) }),
    )
  })

  // -- queries

  query = this.RULE('query', (): QueryNode => {
    const first = this.CONSUME(SELECT)
    const select: SelectItem[] = []
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => select.push(this.SUBRULE(this.selectItem)) })
    this.CONSUME(FROM)
    const from = this.SUBRULE(this.relation)
    const joins: JoinNode[] = []
    this.MANY(() => joins.push(this.SUBRULE(this.join)))
    const window = this.OPTION(() => this.SUBRULE(this.window)) ?? null
    const filter =
      this.OPTION2(() => {
        this.CONSUME(WHERE)
        return this.SUBRULE(this.expression)
      }) ?? null
    const groupBy =
      this.OPTION3(() => {
        this.CONSUME(GROUP)
        this.CONSUME(BY)
        return this.SUBRULE(this.expressionList)
      }) ?? []
    const partitionBy =
      this.OPTION4(() => {
        this.CONSUME(PARTITION)
        this.CONSUME2(BY)
        return this.SUBRULE2(this.expressionList)
      }) ?? []
    const having =
      this.OPTION5(() => {
        this.CONSUME(HAVING)
        return this.SUBRULE2(this.expression)
      }) ?? null
    const emit =
      this.OPTION6(() => {
        this.CONSUME(EMIT)
        return this.OR([
          {
            ALT: () => {
              this.CONSUME(CHANGES)
              return 'CHANGES' as EmitMode
            },
          },
          {
            ALT: () => {
              this.CONSUME(FINAL)
              return 'FINAL' as EmitMode
            },
          },
        ])
      }) ?? null
    const limit =
      this.OPTION7(() => {
        this.CONSUME(LIMIT)
        const n = this.CONSUME(IntegerLiteral)
        return this.ACTION(() => this.#integer(n, 'LIMIT', 2147483647))
      }) ?? null
    return this.ACTION(() =>
      QueryNode.create({
        select,
        from,
        joins,
        window,
        filter,
        groupBy,
        partitionBy,
        having,
        emit,
        limit,
        where: this.#pos(first),
      }),
    )
  })

  expressionList = this.RULE('expressionList', (): Expression[] => {
    const list: Expression[] = []
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => list.push(this.SUBRULE(this.expression)) })
    return list
  })

  selectItem = this.RULE(
    'selectItem',
    (): SelectItem =>
      this.OR([
        {
          ALT: () => {
            const star = this.CONSUME(Star)
            return this.ACTION(() => SelectAllNode.create({ source: null, where: this.#pos(star) }))
          },
        },
        {
          ALT: () => {
            const first = this.LA(1)
            const source = this.SUBRULE(this.identifier)
            this.CONSUME(Dot)
            this.CONSUME2(Star)
            return this.ACTION(() => SelectAllNode.create({ source, where: this.#pos(first) }))
          },
        },
        {
          ALT: () => {
            const expression = this.SUBRULE(this.expression)
            const alias =
              this.OPTION(() => {
                this.OPTION2(() => this.CONSUME(AS))
                return this.SUBRULE2(this.identifier)
              }) ?? null
            return this.ACTION(() => SelectExpressionNode.create({ expression, alias, where: expression.where }))
          },
        },
      ]),
  )

  relation = this.RULE('relation', (): RelationNode => {
    const first = this.LA(1)
    const name = this.SUBRULE(this.sourceName)
    const alias =
      this.OPTION({
        // Without AS, a word that starts the next clause is not an alias.
        GATE: () => this.LA(1).tokenType !== PARTITION && this.LA(1).tokenType !== EMIT,
        DEF: () => {
          this.OPTION2(() => this.CONSUME(AS))
          return this.SUBRULE(this.identifier)
        },
      }) ?? null
    return this.ACTION(() => RelationNode.create({ name, alias, where: this.#pos(first) }))
  })

  join = this.RULE('join', (): JoinNode => {
    const first = this.LA(1)
    const type = this.OR([
      {
        ALT: () => {
          this.OPTION(() => this.CONSUME(INNER))
          this.CONSUME(JOIN)
          return 'INNER' as JoinType
        },
      },
      {
        ALT: () => {
          this.CONSUME(LEFT)
          this.SUBRULE(this.outerJoin)
          return 'LEFT' as JoinType
        },
      },
      {
        ALT: () => {
          this.CONSUME(RIGHT)
          this.SUBRULE2(this.outerJoin)
          return 'RIGHT' as JoinType
        },
      },
      {
        ALT: () => {
          this.CONSUME(FULL)
          this.SUBRULE3(this.outerJoin)
          return 'FULL' as JoinType
        },
      },
    ])
    const relation = this.SUBRULE(this.relation)
    const within = this.OPTION2(() => this.SUBRULE(this.within)) ?? null
    this.CONSUME(ON)
    const on = this.SUBRULE(this.expression)
    return this.ACTION(() => JoinNode.create({ type, relation, within, on, where: this.#pos(first) }))
  })

  /** `[OUTER] JOIN` */
  outerJoin = this.RULE('outerJoin', (): void => {
    this.OPTION(() => this.CONSUME(OUTER))
    this.CONSUME(JOIN)
  })

  within = this.RULE('within', (): WithinNode => {
    const first = this.CONSUME(WITHIN)
    const bounds = this.OR([
      {
        ALT: () => {
          const d = this.SUBRULE(this.duration)
          return [d, d] as const
        },
      },
      {
        ALT: () => {
          this.CONSUME(LParen)
          const before = this.SUBRULE2(this.duration)
          this.CONSUME(Comma)
          const after = this.SUBRULE3(this.duration)
          this.CONSUME(RParen)
          return [before, after] as const
        },
      },
    ])
    const gracePeriodMs = this.OPTION(() => this.SUBRULE(this.gracePeriod)) ?? null
    return this.ACTION(() => {
      const [beforeMs, afterMs] = bounds
      return WithinNode.create({ beforeMs, afterMs, gracePeriodMs, where: this.#pos(first) })
    })
  })

  gracePeriod = this.RULE('gracePeriod', (): number => {
    this.CONSUME(GRACE)
    this.CONSUME(PERIOD)
    return this.SUBRULE(this.duration)
  })

  /** `n UNIT`, in milliseconds. */
  duration = this.RULE('duration', (): number => {
    const n = this.CONSUME(IntegerLiteral)
    const unit = this.CONSUME(TimeUnit)
    return this.ACTION(() => {
      const ms = this.#integer(n, 'a duration', Number.MAX_SAFE_INTEGER) * (TIME_UNITS[unit.image.toUpperCase()] ?? 1)
      if (ms > Number.MAX_SAFE_INTEGER) this.#fail(`duration too long: ${n.image} ${unit.image}`, n)
      return ms
    })
  })

  window = this.RULE('window', (): WindowNode => {
    const first = this.CONSUME(WINDOW)
    const kind = this.OR({
      ERR_MSG: "one of 'TUMBLING' 'HOPPING' 'SESSION'",
      DEF: [
        {
          ALT: () => {
            this.CONSUME(TUMBLING)
            this.CONSUME(LParen)
            this.CONSUME(SIZE)
            return ['TUMBLING' as WindowType, this.SUBRULE(this.duration), null] as const
          },
        },
        {
          ALT: () => {
            this.CONSUME(HOPPING)
            this.CONSUME2(LParen)
            this.CONSUME2(SIZE)
            const size = this.SUBRULE2(this.duration)
            this.CONSUME(Comma)
            this.CONSUME(ADVANCE)
            this.CONSUME(BY)
            return ['HOPPING' as WindowType, size, this.SUBRULE3(this.duration)] as const
          },
        },
        {
          ALT: () => {
            this.CONSUME(SESSION)
            this.CONSUME3(LParen)
            return ['SESSION' as WindowType, this.SUBRULE4(this.duration), null] as const
          },
        },
      ],
    })
    const tail = this.SUBRULE(this.windowBounds)
    this.CONSUME(RParen)
    return this.ACTION(() => {
      const [type, sizeMs, advanceMs] = kind
      const [retentionMs, gracePeriodMs] = tail
      return WindowNode.create({ type, sizeMs, advanceMs, retentionMs, gracePeriodMs, where: this.#pos(first) })
    })
  })

  /** `[, RETENTION n UNIT] [, GRACE PERIOD n UNIT]` */
  windowBounds = this.RULE('windowBounds', (): readonly [number | null, number | null] => {
    const retention = this.OPTION(() => {
      this.CONSUME(Comma)
      this.CONSUME(RETENTION)
      return this.SUBRULE(this.duration)
    })
    const grace = this.OPTION2(() => {
      this.CONSUME2(Comma)
      return this.SUBRULE(this.gracePeriod)
    })
    return [retention ?? null, grace ?? null]
  })

  // -- expressions
  //
  // Precedence climbing (one rule for every binary operator, `minPrecedence` its argument) rather than one rule per
  // precedence level: each nesting level of the input then costs 3 to 4 rule calls instead of 12, which keeps a
  // parse at MAX_EXPRESSION_DEPTH far from the end of the stack.

  standaloneExpression = this.RULE('standaloneExpression', (): Expression => this.SUBRULE(this.expression))

  /** Operators looser than `minPrecedence` end the expression (left to the caller). */
  expression = this.RULE('expression', (minPrecedence = 0): Expression => {
    let left = this.SUBRULE(this.prefixed, { ARGS: [minPrecedence] })
    let levels = 0
    let afterPredicate = false
    this.MANY({
      // A predicate (comparison, IS, IN, LIKE, BETWEEN) is followed by AND or OR only, as in ksqlDB.
      GATE: () => {
        const p = infixPrecedence(this.LA(1), this.LA(2))
        return p > 0 && p >= minPrecedence && !(afterPredicate && p >= PREC_PREDICATE)
      },
      DEF: () => {
        const predicate = infixPrecedence(this.LA(1), this.LA(2)) === PREC_PREDICATE
        this.#enter(this.LA(1))
        levels++
        const l = left
        left = this.OR([
          {
            ALT: () => {
              const op = this.OR2([{ ALT: () => this.CONSUME(OR) }, { ALT: () => this.CONSUME(AND) }])
              const right = this.SUBRULE2(this.expression, { ARGS: [op.tokenType === OR ? PREC_AND : PREC_NOT] })
              return this.ACTION(() =>
                LogicalNode.create({ op: op.tokenType === OR ? 'OR' : 'AND', left: l, right, where: l.where }),
              )
            },
          },
          {
            ALT: () => {
              this.CONSUME(Concat)
              const right = this.SUBRULE3(this.expression, { ARGS: [PREC_ADDITIVE] })
              return this.ACTION(() =>
                FunctionCallNode.create({ name: 'CONCAT', args: [l, right], star: false, where: l.where }),
              )
            },
          },
          {
            ALT: () => {
              const op = this.OR3([
                { ALT: () => this.CONSUME(AdditiveOperator) },
                { ALT: () => this.CONSUME(MultiplicativeOperator) },
              ])
              const multiplicative = tokenMatcher(op, MultiplicativeOperator)
              const right = this.SUBRULE4(this.expression, {
                ARGS: [multiplicative ? PREC_UNARY : PREC_MULTIPLICATIVE],
              })
              return this.ACTION(() =>
                ArithmeticNode.create({ op: op.image as ArithmeticOp, left: l, right, where: l.where }),
              )
            },
          },
          { ALT: () => this.SUBRULE(this.predicate, { ARGS: [l] }) },
        ])
        afterPredicate = predicate
      },
    })
    this.#leave(levels)
    return left
  })

  /** NOT, a sign, or a primary with its postfix operators. */
  prefixed = this.RULE(
    'prefixed',
    (minPrecedence = 0): Expression =>
      this.OR({
        ERR_MSG: 'an expression',
        DEF: [
          {
            // NOT binds looser than predicates: `NOT a = b` is NOT (a = b); not allowed inside an operand.
            // (Checked here rather than by a GATE, which would slow down the choice of every operand.)
            ALT: () => {
              const not = this.CONSUME(NOT)
              this.ACTION(() => {
                if (minPrecedence > PREC_NOT) this.#fail(`expected an expression but found ${found(not)}`, not)
              })
              this.#enter(not)
              const operand = this.SUBRULE(this.expression, { ARGS: [PREC_NOT] })
              this.#leave()
              return this.ACTION(() => NotNode.create({ operand, where: this.#pos(not) }))
            },
          },
          {
            ALT: () => {
              const op = this.CONSUME(AdditiveOperator)
              this.#enter(op)
              const next = this.LA(1)
              const operand = this.SUBRULE(this.prefixed, { ARGS: [PREC_UNARY] })
              this.#leave()
              return this.ACTION(() => {
                const isNumber =
                  next.tokenType === IntegerLiteral ||
                  next.tokenType === DecimalLiteral ||
                  next.tokenType === DoubleLiteral
                if (isNumber && operand.kind === 'LiteralNode') return this.#signed(op, operand)
                return UnaryNode.create({ op: op.image as '-' | '+', operand, where: this.#pos(op) })
              })
            },
          },
          {
            ALT: () => {
              let base = this.SUBRULE(this.primary)
              let levels = 0
              this.MANY(() =>
                this.OR2([
                  {
                    ALT: () => {
                      this.#enter(this.CONSUME(Arrow))
                      levels++
                      const field = this.SUBRULE(this.identifier)
                      base = this.ACTION(() => DereferenceNode.create({ base, field, where: base.where }))
                    },
                  },
                  {
                    ALT: () => {
                      this.#enter(this.CONSUME(LBracket))
                      levels++
                      const index = this.SUBRULE2(this.expression, { ARGS: [PREC_CONCAT] })
                      this.CONSUME(RBracket)
                      base = this.ACTION(() => SubscriptNode.create({ base, index, where: base.where }))
                    },
                  },
                ]),
              )
              this.#leave(levels)
              return base
            },
          },
        ],
      }),
  )

  /** What follows `left` at predicate precedence: a comparison, IS ..., [NOT] BETWEEN / IN / LIKE. */
  predicate = this.RULE(
    'predicate',
    (left: Expression): Expression =>
      this.OR([
        {
          ALT: () => {
            const op = this.CONSUME(ComparisonOperator)
            const right = this.SUBRULE(this.expression, { ARGS: [PREC_CONCAT] })
            return this.ACTION(() => ComparisonNode.create({ op: comparisonOp(op), left, right, where: left.where }))
          },
        },
        {
          ALT: () => {
            this.CONSUME(IS)
            const negated = this.OPTION(() => this.CONSUME(NOT)) !== undefined
            return this.OR2([
              {
                ALT: () => {
                  this.CONSUME(NULL)
                  return this.ACTION(() => IsNullNode.create({ operand: left, negated, where: left.where }))
                },
              },
              {
                ALT: () => {
                  this.CONSUME(DISTINCT)
                  this.CONSUME(FROM)
                  const right = this.SUBRULE2(this.expression, { ARGS: [PREC_CONCAT] })
                  const op: ComparisonOp = negated ? 'IS NOT DISTINCT FROM' : 'IS DISTINCT FROM'
                  return this.ACTION(() => ComparisonNode.create({ op, left, right, where: left.where }))
                },
              },
            ])
          },
        },
        {
          ALT: () => {
            const negated = this.OPTION2(() => this.CONSUME2(NOT)) !== undefined
            return this.OR3([
              {
                ALT: () => {
                  this.CONSUME(BETWEEN)
                  const low = this.SUBRULE3(this.expression, { ARGS: [PREC_CONCAT] })
                  this.CONSUME(AND)
                  const high = this.SUBRULE4(this.expression, { ARGS: [PREC_CONCAT] })
                  return this.ACTION(() => BetweenNode.create({ operand: left, low, high, negated, where: left.where }))
                },
              },
              {
                ALT: () => {
                  this.CONSUME(IN)
                  const list = this.SUBRULE(this.inList)
                  return this.ACTION(() => InNode.create({ operand: left, list, negated, where: left.where }))
                },
              },
              {
                ALT: () => {
                  this.CONSUME(LIKE)
                  const pattern = this.SUBRULE5(this.expression, { ARGS: [PREC_CONCAT] })
                  const escapeChar =
                    this.OPTION3(() => {
                      this.CONSUME(ESCAPE)
                      const t = this.CONSUME(StringLiteral)
                      return this.ACTION(() => {
                        const c = stringValue(t)
                        if ([...c].length !== 1) this.#fail('ESCAPE takes one character', t)
                        return c
                      })
                    }) ?? null
                  return this.ACTION(() =>
                    LikeNode.create({ operand: left, pattern, escape: escapeChar, negated, where: left.where }),
                  )
                },
              },
            ])
          },
        },
      ]),
  )

  inList = this.RULE('inList', (): Expression[] => {
    const list: Expression[] = []
    this.CONSUME(LParen)
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => list.push(this.SUBRULE(this.expression)) })
    this.CONSUME(RParen)
    return list
  })

  primary = this.RULE(
    'primary',
    (): Expression =>
      this.OR({
        IGNORE_AMBIGUITIES: true,
        ERR_MSG: 'an expression',
        DEF: [
          { ALT: () => this.SUBRULE(this.literal) },
          {
            ALT: () => {
              this.#enter(this.CONSUME(LParen))
              const e = this.SUBRULE(this.expression)
              this.CONSUME(RParen)
              this.#leave()
              return e
            },
          },
          { ALT: () => this.SUBRULE(this.caseExpression) },
          { ALT: () => this.SUBRULE(this.castExpression) },
          { ALT: () => this.SUBRULE(this.arrayConstructor) },
          { ALT: () => this.SUBRULE(this.mapConstructor) },
          { ALT: () => this.SUBRULE(this.structConstructor) },
          { ALT: () => this.SUBRULE(this.functionCall) },
          { ALT: () => this.SUBRULE(this.columnRef) },
        ],
      }),
  )

  literal = this.RULE(
    'literal',
    (): LiteralNode =>
      this.OR([
        { ALT: () => LiteralNode.null(this.#pos(this.CONSUME(NULL))) },
        { ALT: () => LiteralNode.boolean(true, this.#pos(this.CONSUME(TRUE))) },
        { ALT: () => LiteralNode.boolean(false, this.#pos(this.CONSUME(FALSE))) },
        {
          ALT: () => {
            const t = this.CONSUME(StringLiteral)
            return LiteralNode.string(stringValue(t), this.#pos(t))
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(IntegerLiteral)
            return this.ACTION(() => this.#integerLiteral(t))
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(DecimalLiteral)
            return this.ACTION(() => this.#decimalLiteral(t))
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(DoubleLiteral)
            return this.ACTION(() => this.#doubleLiteral(t))
          },
        },
      ]),
  )

  /** A literal with an optional sign (WITH property values). */
  signedLiteral = this.RULE('signedLiteral', (): LiteralNode => {
    const sign = this.OPTION(() => this.CONSUME(AdditiveOperator))
    const next = this.LA(1)
    const literal = this.SUBRULE(this.literal)
    return this.ACTION(() => {
      if (sign === undefined) return literal
      if (typeof literal.value !== 'number') this.#fail(`expected a number after '${sign.image}'`, next)
      return this.#signed(sign, literal)
    })
  })

  columnRef = this.RULE('columnRef', (): ColumnRefNode => {
    const first = this.LA(1)
    const a = this.SUBRULE(this.identifier)
    const b = this.OPTION(() => {
      this.CONSUME(Dot)
      return this.SUBRULE2(this.identifier)
    })
    return this.ACTION(() =>
      b === undefined
        ? ColumnRefNode.create({ source: null, name: a, where: this.#pos(first) })
        : ColumnRefNode.create({ source: a, name: b, where: this.#pos(first) }),
    )
  })

  functionCall = this.RULE('functionCall', (): FunctionCallNode => {
    const first = this.LA(1)
    const name = this.SUBRULE(this.identifier)
    this.#enter(this.CONSUME(LParen))
    const args: Expression[] = []
    const star =
      this.OPTION(() =>
        this.OR([
          {
            ALT: () => {
              this.CONSUME(Star)
              return true
            },
          },
          {
            ALT: () => {
              this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => args.push(this.SUBRULE(this.functionArgument)) })
              return false
            },
          },
        ]),
      ) ?? false
    this.CONSUME(RParen)
    this.#leave()
    return this.ACTION(() => FunctionCallNode.create({ name, args, star, where: this.#pos(first) }))
  })

  functionArgument = this.RULE(
    'functionArgument',
    (): Expression =>
      this.OR([
        { GATE: () => this.#lambdaAhead(), ALT: () => this.SUBRULE(this.lambda) },
        { ALT: () => this.SUBRULE(this.expression) },
      ]),
  )

  lambda = this.RULE('lambda', (): LambdaNode => {
    const first = this.LA(1)
    const params = this.OR([
      { ALT: () => [this.SUBRULE(this.identifier)] },
      { ALT: () => this.SUBRULE(this.lambdaParams) },
    ])
    this.#enter(this.CONSUME(LambdaArrow))
    const body = this.SUBRULE(this.expression)
    this.#leave()
    return this.ACTION(() => LambdaNode.create({ params, body, where: this.#pos(first) }))
  })

  lambdaParams = this.RULE('lambdaParams', (): string[] => {
    const params: string[] = []
    this.CONSUME(LParen)
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => params.push(this.SUBRULE(this.identifier)) })
    this.CONSUME(RParen)
    return params
  })

  caseExpression = this.RULE('caseExpression', (): CaseNode => {
    const first = this.CONSUME(CASE)
    this.#enter(first)
    const operand = this.OPTION(() => this.SUBRULE(this.expression)) ?? null
    const branches: CaseBranch[] = []
    this.AT_LEAST_ONE(() => {
      this.CONSUME(WHEN)
      const when = this.SUBRULE2(this.expression)
      this.CONSUME(THEN)
      const then = this.SUBRULE3(this.expression)
      branches.push({ when, then })
    })
    const otherwise =
      this.OPTION2(() => {
        this.CONSUME(ELSE)
        return this.SUBRULE4(this.expression)
      }) ?? null
    this.CONSUME(END)
    this.#leave()
    return this.ACTION(() => CaseNode.create({ operand, branches, otherwise, where: this.#pos(first) }))
  })

  castExpression = this.RULE('castExpression', (): CastNode => {
    const first = this.CONSUME(CAST)
    this.#enter(first)
    this.CONSUME(LParen)
    const operand = this.SUBRULE(this.expression)
    this.CONSUME(AS)
    const type = this.SUBRULE(this.sqlType)
    this.CONSUME(RParen)
    this.#leave()
    return this.ACTION(() => CastNode.create({ operand, type, where: this.#pos(first) }))
  })

  arrayConstructor = this.RULE('arrayConstructor', (): ArrayNode => {
    const first = this.CONSUME(ARRAY)
    this.#enter(first)
    this.CONSUME(LBracket)
    const elements: Expression[] = []
    this.MANY_SEP({ SEP: Comma, DEF: () => elements.push(this.SUBRULE(this.expression)) })
    this.CONSUME(RBracket)
    this.#leave()
    return this.ACTION(() => ArrayNode.create({ elements, where: this.#pos(first) }))
  })

  mapConstructor = this.RULE('mapConstructor', (): MapNode => {
    const first = this.CONSUME(MAP)
    this.#enter(first)
    this.CONSUME(LParen)
    const entries: MapEntry[] = []
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        const key = this.SUBRULE(this.expression)
        this.CONSUME(Assign)
        const value = this.SUBRULE2(this.expression)
        entries.push({ key, value })
      },
    })
    this.CONSUME(RParen)
    this.#leave()
    return this.ACTION(() => MapNode.create({ entries, where: this.#pos(first) }))
  })

  structConstructor = this.RULE('structConstructor', (): StructNode => {
    const first = this.CONSUME(STRUCT)
    this.#enter(first)
    this.CONSUME(LParen)
    const fields: StructFieldValue[] = []
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        const name = this.SUBRULE(this.identifier)
        this.CONSUME(Assign)
        const value = this.SUBRULE(this.expression)
        fields.push({ name, value })
      },
    })
    this.CONSUME(RParen)
    this.#leave()
    return this.ACTION(() => StructNode.create({ fields, where: this.#pos(first) }))
  })

  // -- types

  sqlType = this.RULE(
    'sqlType',
    (): SqlType =>
      this.OR({
        ERR_MSG: 'a type',
        DEF: [
          ...SIMPLE_TYPES.map(([tok, type]) => ({
            ALT: () => {
              this.CONSUME(tok)
              return type
            },
          })),
          {
            ALT: () => {
              this.CONSUME(DECIMAL)
              this.CONSUME(LParen)
              const p = this.CONSUME(IntegerLiteral)
              this.CONSUME(Comma)
              const s = this.CONSUME2(IntegerLiteral)
              this.CONSUME(RParen)
              return this.ACTION(() => {
                const precision = this.#integer(p, 'a DECIMAL precision', 2147483647)
                const scale = this.#integer(s, 'a DECIMAL scale', 2147483647)
                if (precision < 1) this.#fail('a DECIMAL precision must be at least 1', p)
                if (scale > precision) this.#fail('a DECIMAL scale must not exceed its precision', s)
                return SqlType.decimal(precision, scale)
              })
            },
          },
          {
            ALT: () => {
              this.#enter(this.CONSUME(ARRAY))
              this.CONSUME(Less)
              const element = this.SUBRULE(this.sqlType)
              this.CONSUME(Greater)
              this.#leave()
              return this.ACTION(() => SqlType.array(element))
            },
          },
          {
            ALT: () => {
              this.#enter(this.CONSUME(MAP))
              this.CONSUME2(Less)
              const key = this.SUBRULE2(this.sqlType)
              this.CONSUME2(Comma)
              const value = this.SUBRULE3(this.sqlType)
              this.CONSUME2(Greater)
              this.#leave()
              return this.ACTION(() => SqlType.map(key, value))
            },
          },
          { ALT: () => this.SUBRULE(this.structType) },
        ],
      }),
  )

  structType = this.RULE('structType', (): SqlType => {
    this.#enter(this.CONSUME(STRUCT))
    const fields: StructField[] = []
    this.OR([
      // `STRUCT<>` reads as STRUCT then `<>`.
      { ALT: () => this.CONSUME(NotEqual) },
      {
        ALT: () => {
          this.CONSUME(Less)
          this.MANY_SEP({
            SEP: Comma,
            DEF: () => {
              const name = this.SUBRULE(this.identifier)
              const type = this.SUBRULE(this.sqlType)
              fields.push({ name, type })
            },
          })
          this.CONSUME(Greater)
        },
      },
    ])
    this.#leave()
    return this.ACTION(() => SqlType.struct(fields))
  })
}

const PREC_OR = 1
const PREC_AND = 2
const PREC_NOT = 3
const PREC_PREDICATE = 4
const PREC_CONCAT = 5
const PREC_ADDITIVE = 6
const PREC_MULTIPLICATIVE = 7
const PREC_UNARY = 8

/** The precedence of the binary operator (or predicate) that starts at `t` (0: none). */
function infixPrecedence(t: IToken, next: IToken): number {
  const type = t.tokenType
  if (type === OR) return PREC_OR
  if (type === AND) return PREC_AND
  if (type === NOT) {
    const n = next.tokenType
    return n === BETWEEN || n === IN || n === LIKE ? PREC_PREDICATE : 0
  }
  if (tokenMatcher(t, ComparisonOperator) || type === IS || type === BETWEEN || type === IN || type === LIKE) {
    return PREC_PREDICATE
  }
  if (type === Concat) return PREC_CONCAT
  if (tokenMatcher(t, AdditiveOperator)) return PREC_ADDITIVE
  if (tokenMatcher(t, MultiplicativeOperator)) return PREC_MULTIPLICATIVE
  return 0
}

function stringValue(t: IToken): string {
  return t.image.slice(1, -1).replaceAll("''", "'")
}

function comparisonOp(t: IToken): ComparisonOp {
  return t.tokenType === BangEqual ? '<>' : (t.image as ComparisonOp)
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points

let parser: SqlParser | undefined

/** The one parser instance (chevrotain analyses a grammar once, at construction), made on first use. */
function sharedParser(): SqlParser {
  parser ??= new SqlParser()
  return parser
}

function checkSize(text: string, file: string | undefined): void {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: short texts need no counting.
  if (text.length <= MAX_SQL_BYTES / 3) return
  const bytes = text.length > MAX_SQL_BYTES ? undefined : Buffer.byteLength(text, 'utf8')
  if (bytes === undefined || bytes > MAX_SQL_BYTES) {
    const where: Where = file === undefined ? { line: 1, column: 1 } : { file, line: 1, column: 1 }
    throw new OpenFactoryError(
      'OFA_SQL_LIMIT',
      `SQL text of ${bytes ?? `more than ${MAX_SQL_BYTES}`} bytes: at most ${MAX_SQL_BYTES} (1 MiB) are accepted`,
      { where },
    )
  }
}

/** Anything but our own error (a bug, or a stack exhausted by a caller already deep): still one of our codes. */
function guard<T>(file: string | undefined, f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (err instanceof OpenFactoryError) throw err
    const where: Where = file === undefined ? { line: 1, column: 1 } : { file, line: 1, column: 1 }
    if (err instanceof RangeError) {
      throw new OpenFactoryError('OFA_SQL_LIMIT', 'SQL text too complex to parse', { where, cause: err })
    }
    throw new OpenFactoryError('OFA_SQL_PARSE', `SQL text not understood: ${String(err)}`, { where, cause: err })
  } finally {
    if (parser) parser.input = []
  }
}

function endAfter(t: IToken, label: string): EndOfInput {
  return { label, line: t.endLine ?? t.startLine ?? 1, column: (t.endColumn ?? t.startColumn ?? 0) + 1 }
}

/**
 * Parses SQL statements separated by `;` (the last `;` optional). Each statement keeps its source text (with its
 * `;`) and position. Throws OpenFactoryError OFA_SQL_PARSE (with `where`) on a syntax error, OFA_SQL_LIMIT past
 * MAX_SQL_BYTES or MAX_EXPRESSION_DEPTH.
 */
export function parseStatements(text: string, opts: ParseOptions = {}): Statement[] {
  const file = opts.file
  return guard(file, () => {
    checkSize(text, file)
    const tokens = lex(text, file)
    const p = sharedParser()
    const out: Statement[] = []
    let start = 0
    for (let i = 0; i <= tokens.length; i++) {
      const semicolon = tokens[i]
      if (semicolon !== undefined && semicolon.tokenType !== Semicolon) continue
      const chunk = tokens.slice(start, i)
      start = i + 1
      const first = chunk[0]
      const last = chunk.at(-1)
      if (first === undefined || last === undefined) continue
      endOfInput =
        semicolon === undefined
          ? endAfter(last, 'the end of the input')
          : { label: "';'", line: semicolon.startLine ?? 1, column: semicolon.startColumn ?? 1 }
      const stmt = p.parseStatement(text, chunk, file)
      const end = (semicolon ?? last).endOffset ?? last.startOffset
      out.push(Object.freeze({ ...stmt, text: text.slice(first.startOffset, end + 1) }))
    }
    return out
  })
}

/** Parses one expression (no lambda at the top). Same errors as parseStatements. */
export function parseExpression(text: string, opts: ParseOptions = {}): Expression {
  const file = opts.file
  return guard(file, () => {
    checkSize(text, file)
    const tokens = lex(text, file)
    const last = tokens.at(-1)
    endOfInput =
      last === undefined
        ? { label: 'the end of the input', line: 1, column: 1 }
        : endAfter(last, 'the end of the input')
    return sharedParser().parseStandaloneExpression(text, tokens, file)
  })
}
