"""The door: app factory, settings, auth, GraphQL over HTTP/WebSocket, REST routes, CLI."""
