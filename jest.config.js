// Jest runs the TypeScript sources as native ES modules through SWC; types are
// checked separately by `tsc --noEmit` (npm run typecheck).
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'es6' },
};

export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/sdk/test'],
  testMatch: ['**/*.spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // @fastify/static (Swagger UI's assets) requires the ESM-only content-disposition,
  // which Node.js loads (require of ESM) but Jest does not: compile that one to CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(.*/)?content-disposition/)'],
  transform: {
    'node_modules/.+/content-disposition/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
    '^.+\\.ts$': ['@swc/jest', swc],
  },
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  testTimeout: 30000,
};
