"""What the tests share: the in-process app (`app`), throwaway databases (`databases`),
the moto S3 server (`s3`) and the npm packages (`node`).

Live servers, the GraphQL client and sample images live in the top-level `testbed`
package, which the benchmarks use too.
"""
