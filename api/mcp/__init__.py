"""The MCP door: agents use the pool through the same rules as GraphQL, and never grant consent.

`server.build_mcp_server` assembles the tools and resources; `http.McpEndpoint` serves them
over Streamable HTTP at `/mcp` with the API's bearer tokens; `stdio.serve_stdio` runs them
for one fixed caller over stdin/stdout (desktop clients).
"""
