// The rules we keep: the layers (nothing imports upward), small command files, no swallowed
// errors, and no level branching outside the isolation drivers. Formatting is Prettier's job.
import tseslint from 'typescript-eslint'

const UPWARD = {
  ground: ['**/core/**', '**/cli/**', '**/progress/**', '**/commands/**'],
  core: ['**/cli/**', '**/progress/**', '**/commands/**'],
  cli: ['**/commands/**'],
}
const UI_PACKAGES = ['@oclif/*', 'chalk', 'listr2', '@inquirer/*']

const restrict = (groups, message) => ['error', { patterns: [{ group: groups, message }] }]

const SWALLOW = {
  selector: "CallExpression[callee.property.name='catch'] > ArrowFunctionExpression[body.type='BlockStatement'][body.body.length=0]",
  message: 'never swallow an error: report it with the command that repairs it (or end a connection in a finally with a comment saying why its error does not matter)',
}
const LEVEL_BRANCH = {
  selector: "BinaryExpression[operator=/^[!=]==$/] > Literal[value=/^(shared|schema|database)$/]",
  message: 'only the isolation drivers (src/core/isolation) branch on a level: ask a driver or one of its capability properties',
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**', 'scripts/**', 'coverage/**', 'test/fixtures/**', '**/*.js'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2023, sourceType: 'module' } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {},
  },
  { files: ['src/**/*.ts'], ignores: ['src/core/isolation/**'], rules: { 'no-restricted-syntax': ['error', SWALLOW, LEVEL_BRANCH] } },
  { files: ['src/core/isolation/**/*.ts'], rules: { 'no-restricted-syntax': ['error', SWALLOW] } },
  {
    files: ['src/db/**/*.ts', 'src/sql/**/*.ts', 'src/catalog/**/*.ts'],
    rules: { 'no-restricted-imports': restrict([...UPWARD.ground, ...UI_PACKAGES], 'db/, sql/ and catalog/ are the ground floor: they import nothing above them') },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': restrict([...UPWARD.core, ...UI_PACKAGES], 'the core never imports the command layer, oclif, chalk, listr2 or prompts') },
  },
  {
    files: ['src/cli/**/*.ts', 'src/progress/**/*.ts'],
    rules: { 'no-restricted-imports': restrict(UPWARD.cli, 'cli/ and progress/ serve the commands; they never import one') },
  },
  {
    files: ['src/commands/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 120, skipBlankLines: true, skipComments: true }] },
  },
)
