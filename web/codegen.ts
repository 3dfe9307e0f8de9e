// Types for every operation in src/lib/operations.graphql, from the server's checked-in schema.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: 'src/lib/operations.graphql',
  silent: true,
  generates: {
    'src/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        avoidOptionals: { field: true, inputValue: false },
        scalars: { DateTime: 'string', Upload: 'File' },
        dedupeFragments: true,
      },
    },
  },
};
export default config;
