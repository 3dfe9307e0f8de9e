"""The doors of the API, one job a module: GraphQL over HTTP and WebSocket, the upload
route of the source app, media delivery and the GraphiQL page."""
