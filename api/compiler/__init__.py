"""Compiled operations: GraphQL queries, and mutations of one root field, answered from a
plan compiled once per document, with graphql-core as the fallback for everything the
plans do not cover."""
